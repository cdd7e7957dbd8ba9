package selector

import (
	"errors"
	"testing"
)

// FuzzParse checks that parsing never panics, that every error is a *ParseError pointing inside
// the input, and that the canonical form of any selector parses back to an equal selector that
// gives the same verdicts.
func FuzzParse(f *testing.F) {
	for _, tc := range languageCases {
		f.Add(tc.sel)
	}
	for _, s := range []string{
		benchSelector, "a in {'x',}", "!(!has(a))", "((a == 'b') || !(c != \"d\"))", "a notin{}",
		"has(", "all(", "a ==", "a in {", `'`, "&", "a startswith", "global() && !all()",
	} {
		f.Add(s)
	}
	labelSets := []Map{
		{},
		{"a": "b"},
		{"a": "x", "b": "y", "c": "d", "app": "web"},
		{NamespaceLabel: "default", "tier": "fe", "version": "v2"},
	}
	f.Fuzz(func(t *testing.T, s string) {
		sel, err := Parse(s)
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("error %v is %T, want *ParseError", err, err)
			}
			if pe.Pos < 0 || pe.Pos > len(s) {
				t.Fatalf("error position %d outside input of length %d", pe.Pos, len(s))
			}
			return
		}
		canon := sel.String()
		again, err := Parse(canon)
		if err != nil {
			t.Fatalf("canonical form %q of %q does not parse: %v", canon, s, err)
		}
		if again.String() != canon {
			t.Fatalf("canonical form is not stable: %q then %q", canon, again.String())
		}
		for _, l := range labelSets {
			if sel.Matches(l) != again.Matches(l) {
				t.Fatalf("%q and its canonical form %q disagree on %v", s, canon, l)
			}
			if sel.MatchesNamespaceOf(l) != again.MatchesNamespaceOf(l) {
				t.Fatalf("%q and %q disagree as namespace selectors on %v", s, canon, l)
			}
		}
	})
}
