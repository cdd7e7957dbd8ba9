package flows

import (
	"encoding/binary"
	"strconv"
	"unicode/utf8"
	"unsafe"
)

// scanner is a validating, allocation-free JSON tokenizer over one record's bytes. Flow records
// have a fixed, flat shape, so walking their keys by hand is several times faster than
// encoding/json's reflection and lets every kept string be interned instead of allocated.
type scanner struct {
	b []byte
	i int
	// esc holds the decoded text of the last string that contained escapes; escaped reports
	// whether the last string read did.
	esc     []byte
	escaped bool
}

// maxDepth bounds nesting in skipped values, so hostile input cannot exhaust the stack.
const maxDepth = 64

// valueKind is the JSON kind of the next value.
type valueKind uint8

const (
	kindInvalid valueKind = iota
	kindString
	kindNumber
	kindObject
	kindArray
	kindBool
	kindNull
)

func (k valueKind) String() string {
	return [...]string{"invalid", "string", "number", "object", "array", "bool", "null"}[k]
}

func (s *scanner) reset(b []byte) {
	s.b, s.i = b, 0
}

func (s *scanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// peek returns the kind of the next value after whitespace without consuming it.
func (s *scanner) peek() valueKind {
	s.ws()
	if s.i >= len(s.b) {
		return kindInvalid
	}
	switch c := s.b[s.i]; {
	case c == '"':
		return kindString
	case c == '{':
		return kindObject
	case c == '[':
		return kindArray
	case c == 't' || c == 'f':
		return kindBool
	case c == 'n':
		return kindNull
	case c == '-' || (c >= '0' && c <= '9'):
		return kindNumber
	}
	return kindInvalid
}

func (s *scanner) syntax(msg string) error {
	return &ParseError{Reason: ReasonSyntax, Offset: s.i, Msg: msg}
}

// expect consumes byte c after whitespace.
func (s *scanner) expect(c byte) error {
	s.ws()
	if s.i >= len(s.b) {
		return s.syntax("unexpected end of record, want " + strconv.QuoteRune(rune(c)))
	}
	if s.b[s.i] != c {
		return s.syntax("want " + strconv.QuoteRune(rune(c)) + ", got " + strconv.QuoteRune(rune(s.b[s.i])))
	}
	s.i++
	return nil
}

// openArray enters the array at path, or reads a null in its place: open is false for null.
func (s *scanner) openArray(path string) (open bool, err error) {
	switch got := s.peek(); got {
	case kindNull:
		_, _, err := s.literal()
		return false, err
	case kindArray:
		s.i++
		return true, nil
	default:
		return false, typeError(path, "array", got, s.i)
	}
}

// more reports whether an object or array continues after an element, consuming the ',' or the
// closing byte. first is true before the first element.
func (s *scanner) more(first bool, closing byte) (bool, error) {
	s.ws()
	if s.i >= len(s.b) {
		return false, s.syntax("unexpected end of record")
	}
	c := s.b[s.i]
	if c == closing {
		s.i++
		return false, nil
	}
	if first {
		return true, nil
	}
	if c != ',' {
		return false, s.syntax("want ',' or " + strconv.QuoteRune(rune(closing)) + ", got " + strconv.QuoteRune(rune(c)))
	}
	s.i++
	return true, nil
}

// key reads an object key and the colon after it. The bytes are valid until the next string.
func (s *scanner) key() ([]byte, error) {
	s.ws()
	if s.i >= len(s.b) || s.b[s.i] != '"' {
		return nil, s.syntax("want an object key")
	}
	k, err := s.str()
	if err != nil {
		return nil, err
	}
	return k, s.expect(':')
}

// strClass marks bytes that end the fast path of string scanning.
var strClass = func() (t [256]uint8) {
	for c := 0; c < 0x20; c++ {
		t[c] = 1
	}
	t['"'], t['\\'] = 2, 3
	for c := 0x80; c < 0x100; c++ {
		t[c] = 4
	}
	return t
}()

const (
	lsb = 0x0101010101010101
	msb = 0x8080808080808080
)

// hasZeroByte and hasByteBelow are the classic word-at-a-time tests (Hacker's Delight, 6-1):
// non-zero when some byte of w is zero, or below n (n <= 128).
func hasZeroByte(w uint64) uint64            { return (w - lsb) & ^w & msb }
func hasByteBelow(w uint64, n uint64) uint64 { return (w - lsb*n) & ^w & msb }

// str reads a string at the current position. Unescaped strings are returned as a slice of the
// record; escaped ones are decoded into s.esc. Either is valid until the next call to str.
func (s *scanner) str() ([]byte, error) {
	start := s.i + 1
	i := start
	nonASCII := false
	s.escaped = false
	// Eight bytes at a time while none of them needs a closer look.
	for i+8 <= len(s.b) {
		w := binary.LittleEndian.Uint64(s.b[i:])
		if (hasZeroByte(w^(lsb*'"')) | hasZeroByte(w^(lsb*'\\')) | hasByteBelow(w, 0x20) | w&msb) != 0 {
			break
		}
		i += 8
	}
	for i < len(s.b) {
		switch strClass[s.b[i]] {
		case 0:
			i++
			continue
		case 2:
			out := s.b[start:i]
			s.i = i + 1
			if nonASCII && !utf8.Valid(out) {
				return nil, &ParseError{Reason: ReasonBinary, Offset: start, Msg: "string is not valid UTF-8"}
			}
			return out, nil
		case 3:
			s.i = i
			return s.strEscaped(start)
		case 4:
			nonASCII = true
			i++
			continue
		default:
			s.i = i
			return nil, &ParseError{Reason: ReasonBinary, Offset: i, Msg: "control character in string"}
		}
	}
	s.i = len(s.b)
	return nil, s.syntax("unterminated string")
}

func (s *scanner) strEscaped(start int) ([]byte, error) {
	s.escaped = true
	s.esc = append(s.esc[:0], s.b[start:s.i]...)
	i := s.i
	for i < len(s.b) {
		c := s.b[i]
		switch {
		case c == '"':
			s.i = i + 1
			if !utf8.Valid(s.esc) {
				return nil, &ParseError{Reason: ReasonBinary, Offset: start, Msg: "string is not valid UTF-8"}
			}
			return s.esc, nil
		case c < 0x20:
			s.i = i
			return nil, &ParseError{Reason: ReasonBinary, Offset: i, Msg: "control character in string"}
		case c != '\\':
			s.esc = append(s.esc, c)
			i++
			continue
		}
		if i+1 >= len(s.b) {
			break
		}
		i++
		switch s.b[i] {
		case '"', '\\', '/':
			s.esc = append(s.esc, s.b[i])
		case 'b':
			s.esc = append(s.esc, '\b')
		case 'f':
			s.esc = append(s.esc, '\f')
		case 'n':
			s.esc = append(s.esc, '\n')
		case 'r':
			s.esc = append(s.esc, '\r')
		case 't':
			s.esc = append(s.esc, '\t')
		case 'u':
			r, n := s.hex4(i + 1)
			if n < 0 {
				s.i = i
				return nil, s.syntax("bad \\u escape")
			}
			i += 4
			if utf16Surrogate(r) {
				// A surrogate pair is two escapes; an unpaired half decodes to U+FFFD as in encoding/json.
				if i+6 < len(s.b) && s.b[i+1] == '\\' && s.b[i+2] == 'u' {
					if r2, n2 := s.hex4(i + 3); n2 >= 0 {
						if d := decodeSurrogates(r, r2); d != utf8.RuneError {
							r = d
							i += 6
						} else {
							r = utf8.RuneError
						}
					}
				} else {
					r = utf8.RuneError
				}
			}
			s.esc = utf8.AppendRune(s.esc, r)
		default:
			s.i = i
			return nil, s.syntax("bad escape")
		}
		i++
	}
	s.i = len(s.b)
	return nil, s.syntax("unterminated string")
}

func (s *scanner) hex4(at int) (rune, int) {
	if at+4 > len(s.b) {
		return 0, -1
	}
	var r rune
	for _, c := range s.b[at : at+4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			c = c - 'A' + 10
		default:
			return 0, -1
		}
		r = r<<4 | rune(c)
	}
	return r, 4
}

func utf16Surrogate(r rune) bool { return r >= 0xd800 && r < 0xe000 }

func decodeSurrogates(r1, r2 rune) rune {
	if r1 >= 0xd800 && r1 < 0xdc00 && r2 >= 0xdc00 && r2 < 0xe000 {
		return (r1-0xd800)<<10 | (r2 - 0xdc00) + 0x10000
	}
	return utf8.RuneError
}

// number reads a JSON number and returns its text, validated against the JSON grammar.
func (s *scanner) number() ([]byte, error) {
	start := s.i
	i := s.i
	if i < len(s.b) && s.b[i] == '-' {
		i++
	}
	switch {
	case i < len(s.b) && s.b[i] == '0':
		i++
	case i < len(s.b) && s.b[i] >= '1' && s.b[i] <= '9':
		for i < len(s.b) && s.b[i] >= '0' && s.b[i] <= '9' {
			i++
		}
	default:
		s.i = i
		return nil, s.syntax("bad number")
	}
	if i < len(s.b) && s.b[i] == '.' {
		i++
		d := i
		for i < len(s.b) && s.b[i] >= '0' && s.b[i] <= '9' {
			i++
		}
		if i == d {
			s.i = i
			return nil, s.syntax("bad number")
		}
	}
	if i < len(s.b) && (s.b[i] == 'e' || s.b[i] == 'E') {
		i++
		if i < len(s.b) && (s.b[i] == '+' || s.b[i] == '-') {
			i++
		}
		d := i
		for i < len(s.b) && s.b[i] >= '0' && s.b[i] <= '9' {
			i++
		}
		if i == d {
			s.i = i
			return nil, s.syntax("bad number")
		}
	}
	s.i = i
	return s.b[start:i], nil
}

// literal consumes true, false or null.
func (s *scanner) literal() (valueKind, bool, error) {
	rest := s.b[s.i:]
	switch {
	case len(rest) >= 4 && string(rest[:4]) == "null":
		s.i += 4
		return kindNull, false, nil
	case len(rest) >= 4 && string(rest[:4]) == "true":
		s.i += 4
		return kindBool, true, nil
	case len(rest) >= 5 && string(rest[:5]) == "false":
		s.i += 5
		return kindBool, false, nil
	}
	return kindInvalid, false, s.syntax("bad literal")
}

// skip validates and consumes one value of any kind.
func (s *scanner) skip(depth int) error {
	if depth > maxDepth {
		return s.syntax("nesting too deep")
	}
	switch s.peek() {
	case kindString:
		_, err := s.str()
		return err
	case kindNumber:
		_, err := s.number()
		return err
	case kindBool, kindNull:
		_, _, err := s.literal()
		return err
	case kindObject:
		s.i++
		for first := true; ; first = false {
			ok, err := s.more(first, '}')
			if err != nil || !ok {
				return err
			}
			if _, err := s.key(); err != nil {
				return err
			}
			if err := s.skip(depth + 1); err != nil {
				return err
			}
		}
	case kindArray:
		s.i++
		for first := true; ; first = false {
			ok, err := s.more(first, ']')
			if err != nil || !ok {
				return err
			}
			if err := s.skip(depth + 1); err != nil {
				return err
			}
		}
	}
	if s.i >= len(s.b) {
		return s.syntax("unexpected end of record")
	}
	return s.syntax("unexpected " + strconv.QuoteRune(rune(s.b[s.i])))
}

// end checks that only whitespace follows the record.
func (s *scanner) end() error {
	s.ws()
	if s.i != len(s.b) {
		return s.syntax("data after the record")
	}
	return nil
}

// parseUint reads an unsigned decimal integer. Numbers written with a fraction or exponent are
// accepted when they are whole.
func parseUint(b []byte) (uint64, bool) {
	if len(b) == 0 || len(b) > 20 {
		return parseUintSlow(b)
	}
	var n uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return parseUintSlow(b)
		}
		d := uint64(c - '0')
		if n > (1<<64-1-d)/10 {
			return 0, false
		}
		n = n*10 + d
	}
	return n, true
}

func parseUintSlow(b []byte) (uint64, bool) {
	f, err := strconv.ParseFloat(unsafe.String(unsafe.SliceData(b), len(b)), 64)
	if err != nil || f < 0 || f != float64(uint64(f)) {
		return 0, false
	}
	return uint64(f), true
}

// parseInt reads a signed decimal integer.
func parseInt(b []byte) (int64, bool) {
	neg := len(b) > 0 && b[0] == '-'
	if neg {
		b = b[1:]
	}
	u, ok := parseUint(b)
	if !ok || u > 1<<63 || (!neg && u == 1<<63) {
		return 0, false
	}
	if neg {
		return -int64(u), true
	}
	return int64(u), true
}

// bstr views b as a string without copying; the result must not outlive b's contents.
func bstr(b []byte) string {
	return unsafe.String(unsafe.SliceData(b), len(b))
}
