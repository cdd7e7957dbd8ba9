package selector

import (
	"slices"
	"strings"
)

type op uint8

const (
	opAll op = iota
	opGlobal
	opHas
	opEq
	opNe
	opIn
	opNotIn
	opContains
	opStartsWith
	opEndsWith
	opNot
	opAnd
	opOr
)

// node is one term of the selector tree. Operands are held by value so that evaluation walks
// contiguous memory.
type node struct {
	kind  op
	key   string
	value string
	set   []string // sorted, unique; opIn and opNotIn
	kids  []node   // opNot (one), opAnd and opOr (two or more)
}

// mode says how all() and global() read, and where label terms look.
type mode uint8

const (
	// modeEndpoint: plain evaluation; global() is !has(projectcalico.org/namespace).
	modeEndpoint mode = iota
	// modeNamespaced: a namespaceSelector for a namespaced endpoint.
	modeNamespaced
	// modeGlobalNS: a namespaceSelector for an endpoint outside any namespace; no labels.
	modeGlobalNS
)

func (n *node) get(l Labels, m mode) (string, bool) {
	if m == modeGlobalNS {
		return "", false
	}
	return l.Get(n.key)
}

func (n *node) eval(l Labels, m mode) bool {
	switch n.kind {
	case opAll:
		return m != modeGlobalNS
	case opGlobal:
		switch m {
		case modeNamespaced:
			return false
		case modeGlobalNS:
			return true
		}
		_, ok := l.Get(NamespaceLabel)
		return !ok
	case opHas:
		_, ok := n.get(l, m)
		return ok
	case opEq:
		v, ok := n.get(l, m)
		return ok && v == n.value
	case opNe:
		v, ok := n.get(l, m)
		return !ok || v != n.value
	case opIn:
		v, ok := n.get(l, m)
		return ok && inSet(n.set, v)
	case opNotIn:
		v, ok := n.get(l, m)
		return !ok || !inSet(n.set, v)
	case opContains:
		v, ok := n.get(l, m)
		return ok && strings.Contains(v, n.value)
	case opStartsWith:
		v, ok := n.get(l, m)
		return ok && strings.HasPrefix(v, n.value)
	case opEndsWith:
		v, ok := n.get(l, m)
		return ok && strings.HasSuffix(v, n.value)
	case opNot:
		return !n.kids[0].eval(l, m)
	case opAnd:
		for i := range n.kids {
			if !n.kids[i].eval(l, m) {
				return false
			}
		}
		return true
	case opOr:
		for i := range n.kids {
			if n.kids[i].eval(l, m) {
				return true
			}
		}
		return false
	}
	panic("selector: unknown node kind")
}

func inSet(set []string, v string) bool {
	if len(set) <= 8 {
		for _, s := range set {
			if s == v {
				return true
			}
		}
		return false
	}
	_, found := slices.BinarySearch(set, v)
	return found
}

func (n *node) usesGlobal() bool {
	if n.kind == opGlobal {
		return true
	}
	for i := range n.kids {
		if n.kids[i].usesGlobal() {
			return true
		}
	}
	return false
}

var opWords = [...]string{
	opEq: " == ", opNe: " != ", opContains: " contains ", opStartsWith: " starts with ",
	opEndsWith: " ends with ", opIn: " in {", opNotIn: " not in {", opAnd: " && ", opOr: " || ",
}

// write prints n in Calico's canonical form.
func (n *node) write(b *strings.Builder) {
	switch n.kind {
	case opAll:
		b.WriteString("all()")
	case opGlobal:
		b.WriteString("global()")
	case opHas:
		b.WriteString("has(")
		b.WriteString(n.key)
		b.WriteString(")")
	case opEq, opNe, opContains, opStartsWith, opEndsWith:
		b.WriteString(n.key)
		b.WriteString(opWords[n.kind])
		writeQuoted(b, n.value)
	case opIn, opNotIn:
		b.WriteString(n.key)
		b.WriteString(opWords[n.kind])
		for i, v := range n.set {
			if i > 0 {
				b.WriteString(", ")
			}
			writeQuoted(b, v)
		}
		b.WriteString("}")
	case opNot:
		b.WriteString("!")
		n.kids[0].write(b)
	case opAnd, opOr:
		b.WriteString("(")
		for i := range n.kids {
			if i > 0 {
				b.WriteString(opWords[n.kind])
			}
			n.kids[i].write(b)
		}
		b.WriteString(")")
	}
}

// writeQuoted quotes with " unless the value contains one. The grammar has no escapes, so a
// value never holds both kinds of quote.
func writeQuoted(b *strings.Builder, v string) {
	q := `"`
	if strings.Contains(v, `"`) {
		q = `'`
	}
	b.WriteString(q)
	b.WriteString(v)
	b.WriteString(q)
}
