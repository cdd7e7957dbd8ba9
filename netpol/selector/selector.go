package selector

import (
	"slices"
	"strings"
)

// NamespaceLabel is the label Calico puts on every namespaced endpoint; global() is true exactly
// when it is absent.
const NamespaceLabel = "projectcalico.org/namespace"

// Labels is what a selector is evaluated against. flows.Labels and Map both implement it.
// Converting a slice type such as flows.Labels to this interface allocates, so hot loops should
// convert once per label set (per interned identity), not once per Matches call.
type Labels interface {
	Get(key string) (value string, ok bool)
}

// Map is a plain label map.
type Map map[string]string

// Get returns the value of key and whether it is present.
func (m Map) Get(key string) (string, bool) {
	v, ok := m[key]
	return v, ok
}

// Requirement is a key == value pair that every endpoint a selector matches must carry.
type Requirement struct{ Key, Value string }

// Selector is a parsed, immutable Calico selector. The zero value is not usable; obtain one from
// Parse, MustParse or FromLabelSelector.
type Selector struct {
	root node
	str  string
}

// Parse parses a Calico selector. The empty (or all-blank) selector is all(). Errors are
// *ParseError.
func Parse(s string) (*Selector, error) {
	root, err := parse(s)
	if err != nil {
		return nil, err
	}
	return newSelector(root), nil
}

// MustParse is Parse for constants and tests; it panics on a malformed selector.
func MustParse(s string) *Selector {
	sel, err := Parse(s)
	if err != nil {
		panic(err)
	}
	return sel
}

func newSelector(root node) *Selector {
	var b strings.Builder
	root.write(&b)
	return &Selector{root: root, str: b.String()}
}

// Matches reports whether the labels satisfy the selector, with global() read as
// !has(projectcalico.org/namespace) (see the package documentation). A nil selector means "not
// set" and matches nothing: decide what absence means before calling. Matches does not allocate.
func (s *Selector) Matches(l Labels) bool {
	if s == nil {
		return false
	}
	return s.root.eval(l, modeEndpoint)
}

// MatchesNamespaceOf evaluates s as a Calico EntityRule namespaceSelector for one endpoint, as
// Felix does after rewriting it: nsLabels are the labels of the endpoint's namespace, or nil for
// an endpoint outside any namespace (host endpoint, GlobalNetworkSet). all() then selects only
// namespaced endpoints, global() only non-namespaced ones, and label terms see no labels for a
// non-namespaced endpoint. Call it only for a namespaceSelector that was set; an empty one has
// policy-dependent meaning. A nil selector matches nothing.
func (s *Selector) MatchesNamespaceOf(nsLabels Labels) bool {
	if s == nil {
		return false
	}
	if nsLabels == nil {
		return s.root.eval(nil, modeGlobalNS)
	}
	return s.root.eval(nsLabels, modeNamespaced)
}

// String returns the canonical form, which is Calico's own: double quotes unless the value holds
// one, sets sorted and de-duplicated, every && and || group parenthesised. It parses back to an
// equal selector, and equal selectors print equally.
func (s *Selector) String() string {
	if s == nil {
		return ""
	}
	return s.str
}

// Equal reports whether two selectors have the same canonical form.
func (s *Selector) Equal(o *Selector) bool {
	if s == nil || o == nil {
		return s == o
	}
	return s.str == o.str
}

// IsAll reports whether the selector is "" or all() (after removing parentheses and double
// negations). It does not prove tautologies such as has(a) || !has(a).
func (s *Selector) IsAll() bool { return s != nil && s.root.kind == opAll }

// UsesGlobal reports whether global() appears anywhere in the selector. Calico accepts global()
// only in an EntityRule namespaceSelector.
func (s *Selector) UsesGlobal() bool { return s != nil && s.root.usesGlobal() }

// EqualityRequirements returns the key == value pairs every match must have, taken from the
// top-level && terms (including single-valued "k in {'v'}"), in order of appearance and without
// duplicates. An index of endpoints by one of these pairs finds every endpoint the selector can
// match. It returns nil when there are none.
func (s *Selector) EqualityRequirements() []Requirement {
	if s == nil {
		return nil
	}
	var out []Requirement
	var walk func(n *node)
	walk = func(n *node) {
		switch {
		case n.kind == opAnd:
			for i := range n.kids {
				walk(&n.kids[i])
			}
			return
		case n.kind == opEq:
			r := Requirement{Key: n.key, Value: n.value}
			if !slices.Contains(out, r) {
				out = append(out, r)
			}
		case n.kind == opIn && len(n.set) == 1:
			r := Requirement{Key: n.key, Value: n.set[0]}
			if !slices.Contains(out, r) {
				out = append(out, r)
			}
		}
	}
	walk(&s.root)
	return out
}
