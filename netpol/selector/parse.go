package selector

import (
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"
)

// MaxLabelLength is the longest label key Calico's tokenizer accepts.
const MaxLabelLength = 512

// MaxDepth bounds how deeply parentheses may nest.
const MaxDepth = 256

// ParseError reports why a selector could not be parsed and where.
type ParseError struct {
	// Selector is the full input.
	Selector string
	// Pos is the byte offset of the offending token; len(Selector) means the end of the input.
	Pos int
	// Msg says what was expected or found.
	Msg string
}

func (e *ParseError) Error() string {
	return fmt.Sprintf("selector %q: position %d: %s", e.Selector, e.Pos, e.Msg)
}

type tokKind uint8

const (
	tokEOF tokKind = iota
	tokLabel
	tokString
	tokLBrace
	tokRBrace
	tokComma
	tokEq
	tokNe
	tokIn
	tokNotIn
	tokContains
	tokStartsWith
	tokEndsWith
	tokNot
	tokAnd
	tokOr
	tokLParen
	tokRParen
	tokAll
	tokGlobal
	tokHas
)

var tokNames = [...]string{
	tokEOF: "end of selector", tokLabel: "label", tokString: "quoted string",
	tokLBrace: "'{'", tokRBrace: "'}'", tokComma: "','", tokEq: "'=='", tokNe: "'!='",
	tokIn: "'in'", tokNotIn: "'not in'", tokContains: "'contains'",
	tokStartsWith: "'starts with'", tokEndsWith: "'ends with'", tokNot: "'!'", tokAnd: "'&&'",
	tokOr: "'||'", tokLParen: "'('", tokRParen: "')'", tokAll: "all()", tokGlobal: "global()",
	tokHas: "has()",
}

type token struct {
	kind tokKind
	pos  int
	val  string // label name, string contents, or has() argument
}

func (t token) describe() string {
	switch t.kind {
	case tokLabel:
		return fmt.Sprintf("label %q", t.val)
	case tokString:
		return fmt.Sprintf("string %q", t.val)
	case tokHas:
		return fmt.Sprintf("has(%s)", t.val)
	}
	return tokNames[t.kind]
}

func isLabelChar(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c == '_' || c == '.' || c == '/' || c == '-'
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' }

// lexer splits a selector into tokens with Calico's rules: operator words are recognised only
// straight after a label, and function words only when the '(' follows immediately.
type lexer struct {
	src  string
	pos  int
	toks []token
}

func (lx *lexer) errorf(pos int, format string, args ...any) *ParseError {
	return &ParseError{Selector: lx.src, Pos: pos, Msg: fmt.Sprintf(format, args...)}
}

func (lx *lexer) skipSpace() {
	for lx.pos < len(lx.src) && isSpace(lx.src[lx.pos]) {
		lx.pos++
	}
}

// cutWords consumes words separated by optional spaces when they are followed by a word
// boundary ("not in", "notin", "starts  with").
func (lx *lexer) cutWords(words ...string) bool {
	p := lx.pos
	for i, w := range words {
		if !strings.HasPrefix(lx.src[p:], w) {
			return false
		}
		p += len(w)
		if i < len(words)-1 {
			for p < len(lx.src) && isSpace(lx.src[p]) {
				p++
			}
		}
	}
	if p < len(lx.src) && isLabelChar(lx.src[p]) {
		return false
	}
	lx.pos = p
	return true
}

func (lx *lexer) label() (string, *ParseError) {
	start := lx.pos
	for lx.pos < len(lx.src) && isLabelChar(lx.src[lx.pos]) {
		lx.pos++
	}
	switch n := lx.pos - start; {
	case n == 0:
		return "", lx.errorf(start, "expected a label name, found %s", lx.charAt(start))
	case n > MaxLabelLength:
		return "", lx.errorf(start, "label name is %d bytes long; the limit is %d", n, MaxLabelLength)
	}
	return lx.src[start:lx.pos], nil
}

func (lx *lexer) charAt(pos int) string {
	if pos >= len(lx.src) {
		return "end of selector"
	}
	return fmt.Sprintf("%q", lx.src[pos:pos+1])
}

// closeCall consumes the ')' of all(), global() or has(k).
func (lx *lexer) closeCall(name string) *ParseError {
	lx.skipSpace()
	if lx.pos < len(lx.src) && lx.src[lx.pos] == ')' {
		lx.pos++
		return nil
	}
	return lx.errorf(lx.pos, "expected ')' to close %s(, found %s", name, lx.charAt(lx.pos))
}

func (lx *lexer) run() *ParseError {
	for {
		lx.skipSpace()
		start := lx.pos
		if start == len(lx.src) {
			lx.toks = append(lx.toks, token{kind: tokEOF, pos: start})
			return nil
		}
		afterLabel := len(lx.toks) > 0 && lx.toks[len(lx.toks)-1].kind == tokLabel
		emit := func(k tokKind, n int) {
			lx.toks = append(lx.toks, token{kind: k, pos: start})
			lx.pos += n
		}
		rest := lx.src[start:]
		switch c := rest[0]; {
		case c == '(':
			emit(tokLParen, 1)
		case c == ')':
			emit(tokRParen, 1)
		case c == '{':
			emit(tokLBrace, 1)
		case c == '}':
			emit(tokRBrace, 1)
		case c == ',':
			emit(tokComma, 1)
		case c == '"' || c == '\'':
			end := strings.IndexByte(rest[1:], c)
			if end < 0 {
				return lx.errorf(start, "unterminated string: no closing %c", c)
			}
			lx.toks = append(lx.toks, token{kind: tokString, pos: start, val: rest[1 : 1+end]})
			lx.pos += end + 2
		case strings.HasPrefix(rest, "=="):
			emit(tokEq, 2)
		case strings.HasPrefix(rest, "!="):
			emit(tokNe, 2)
		case c == '!':
			emit(tokNot, 1)
		case strings.HasPrefix(rest, "&&"):
			emit(tokAnd, 2)
		case strings.HasPrefix(rest, "||"):
			emit(tokOr, 2)
		case c == '=' || c == '&' || c == '|':
			return lx.errorf(start, "expected '%c%c', found a single '%c'", c, c, c)
		case afterLabel:
			// Only an operator word may follow a label.
			switch {
			case lx.cutWords("contains"):
				lx.toks = append(lx.toks, token{kind: tokContains, pos: start})
			case lx.cutWords("starts", "with"):
				lx.toks = append(lx.toks, token{kind: tokStartsWith, pos: start})
			case lx.cutWords("ends", "with"):
				lx.toks = append(lx.toks, token{kind: tokEndsWith, pos: start})
			case lx.cutWords("not", "in"):
				lx.toks = append(lx.toks, token{kind: tokNotIn, pos: start})
			case lx.cutWords("in"):
				lx.toks = append(lx.toks, token{kind: tokIn, pos: start})
			default:
				return lx.errorf(start, "expected an operator (==, !=, in, not in, contains, starts with, ends with) after label %q",
					lx.toks[len(lx.toks)-1].val)
			}
		case strings.HasPrefix(rest, "has("):
			lx.pos += len("has(")
			lx.skipSpace()
			name, err := lx.label()
			if err != nil {
				return err
			}
			if err := lx.closeCall("has"); err != nil {
				return err
			}
			lx.toks = append(lx.toks, token{kind: tokHas, pos: start, val: name})
		case strings.HasPrefix(rest, "all("):
			lx.pos += len("all(")
			if err := lx.closeCall("all"); err != nil {
				return err
			}
			lx.toks = append(lx.toks, token{kind: tokAll, pos: start})
		case strings.HasPrefix(rest, "global("):
			lx.pos += len("global(")
			if err := lx.closeCall("global"); err != nil {
				return err
			}
			lx.toks = append(lx.toks, token{kind: tokGlobal, pos: start})
		case isLabelChar(c):
			name, err := lx.label()
			if err != nil {
				return err
			}
			lx.toks = append(lx.toks, token{kind: tokLabel, pos: start, val: name})
		default:
			r, _ := utf8.DecodeRuneInString(rest)
			return lx.errorf(start, "unexpected character %q", r)
		}
	}
}

// parser is a recursive-descent parser over the token list, with Calico's grammar:
//
//	or   = and { "||" and }
//	and  = op { "&&" op }
//	op   = { "!" } ( all() | global() | has(k) | k cmp string | k [not] in set | "(" or ")" )
type parser struct {
	lx    *lexer
	toks  []token
	i     int
	depth int
}

func (p *parser) peek() token { return p.toks[p.i] }

// next consumes a token; the final EOF token is never consumed, so lookahead past it is safe.
func (p *parser) next() token {
	t := p.toks[p.i]
	if t.kind != tokEOF {
		p.i++
	}
	return t
}

func (p *parser) errorf(t token, format string, args ...any) *ParseError {
	return p.lx.errorf(t.pos, format, args...)
}

func (p *parser) parseOr() (node, *ParseError) {
	first, err := p.parseAnd()
	if err != nil {
		return node{}, err
	}
	if p.peek().kind != tokOr {
		return first, nil
	}
	n := node{kind: opOr, kids: []node{first}}
	for p.peek().kind == tokOr {
		p.next()
		k, err := p.parseAnd()
		if err != nil {
			return node{}, err
		}
		n.kids = append(n.kids, k)
	}
	return n, nil
}

func (p *parser) parseAnd() (node, *ParseError) {
	first, err := p.parseOp()
	if err != nil {
		return node{}, err
	}
	if p.peek().kind != tokAnd {
		return first, nil
	}
	n := node{kind: opAnd, kids: []node{first}}
	for p.peek().kind == tokAnd {
		p.next()
		k, err := p.parseOp()
		if err != nil {
			return node{}, err
		}
		n.kids = append(n.kids, k)
	}
	return n, nil
}

// cmpOp maps a comparison token to its node kind.
func cmpOp(k tokKind) op {
	switch k {
	case tokEq:
		return opEq
	case tokNe:
		return opNe
	case tokContains:
		return opContains
	case tokStartsWith:
		return opStartsWith
	}
	return opEndsWith
}

func (p *parser) parseOp() (node, *ParseError) {
	negated := false
	for p.peek().kind == tokNot {
		p.next()
		negated = !negated
	}
	var n node
	switch t := p.next(); t.kind {
	case tokAll:
		n = node{kind: opAll}
	case tokGlobal:
		n = node{kind: opGlobal}
	case tokHas:
		n = node{kind: opHas, key: t.val}
	case tokLabel:
		opTok := p.next()
		switch opTok.kind {
		case tokEq, tokNe, tokContains, tokStartsWith, tokEndsWith:
			v := p.next()
			if v.kind != tokString {
				return node{}, p.expected(v, "a quoted string")
			}
			n = node{kind: cmpOp(opTok.kind), key: t.val, value: v.val}
		case tokIn, tokNotIn:
			set, err := p.parseSet()
			if err != nil {
				return node{}, err
			}
			n = node{kind: opIn, key: t.val, set: set}
			if opTok.kind == tokNotIn {
				n.kind = opNotIn
			}
		default:
			return node{}, p.errorf(opTok, "expected an operator (==, !=, in, not in, contains, starts with, ends with) after label %q, found %s",
				t.val, opTok.describe())
		}
	case tokLParen:
		if p.depth++; p.depth > MaxDepth {
			return node{}, p.errorf(t, "parentheses nest more than %d deep", MaxDepth)
		}
		inner, err := p.parseOr()
		if err != nil {
			return node{}, err
		}
		p.depth--
		if c := p.next(); c.kind != tokRParen {
			return node{}, p.errorf(c, "expected ')' to close the '(' at position %d, found %s", t.pos, c.describe())
		}
		n = inner
	default:
		return node{}, p.expected(t, "a label, has(), all(), global(), '!' or '('")
	}
	if negated {
		n = negate(n)
	}
	return n, nil
}

func (p *parser) expected(t token, what string) *ParseError {
	if t.kind == tokEOF {
		return p.errorf(t, "expected %s", what)
	}
	return p.errorf(t, "expected %s, found %s", what, t.describe())
}

// parseSet reads {"a", "b"}. Like Calico it accepts a trailing comma and the empty set, and
// returns the values sorted without duplicates.
func (p *parser) parseSet() ([]string, *ParseError) {
	if t := p.next(); t.kind != tokLBrace {
		return nil, p.expected(t, "'{' to start a set of quoted strings")
	}
	var set []string
	for p.peek().kind == tokString {
		set = append(set, p.next().val)
		if p.peek().kind != tokComma {
			break
		}
		p.next()
	}
	if t := p.next(); t.kind != tokRBrace {
		return nil, p.expected(t, "a quoted string or '}' to close the set")
	}
	slices.Sort(set)
	return slices.Compact(set), nil
}

// negate wraps n in a negation, cancelling a double one so that printing and re-parsing give
// back the same tree.
func negate(n node) node {
	if n.kind == opNot {
		return n.kids[0]
	}
	return node{kind: opNot, kids: []node{n}}
}

func parse(s string) (node, error) {
	lx := &lexer{src: s}
	if err := lx.run(); err != nil {
		return node{}, err
	}
	if lx.toks[0].kind == tokEOF {
		return node{kind: opAll}, nil
	}
	p := &parser{lx: lx, toks: lx.toks}
	n, err := p.parseOr()
	if err != nil {
		return node{}, err
	}
	if t := p.peek(); t.kind != tokEOF {
		return node{}, p.errorf(t, "unexpected %s after a complete expression (missing && or ||?)", t.describe())
	}
	return n, nil
}
