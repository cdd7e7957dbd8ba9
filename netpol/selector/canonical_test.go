package selector

import "testing"

// Canonical forms are Calico's own (parser.Selector.String in libcalico-go).
func TestString(t *testing.T) {
	tests := map[string]struct{ in, want string }{
		"empty is all()":                  {in: "", want: "all()"},
		"spaces and parens dropped":       {in: " (all() )", want: "all()"},
		"double quotes preferred":         {in: "a == 'b'", want: `a == "b"`},
		"single quotes when value has \"": {in: `a == '"'`, want: `a == '"'`},
		"operator spacing normalised":     {in: `a!='"'`, want: `a != '"'`},
		"startswith spelled out":          {in: `a startswith '"'`, want: `a starts with '"'`},
		"endswith spelled out":            {in: `a endswith "'"`, want: `a ends with "'"`},
		"notin spelled out":               {in: `a notin{'x'}`, want: `a not in {"x"}`},
		"sets sorted and de-duplicated":   {in: `a in {"z", "z", "x", "y", "x", "a"}`, want: `a in {"a", "x", "y", "z"}`},
		"empty set":                       {in: `a in {}`, want: `a in {}`},
		"&& group parenthesised":          {in: "a == 'b' && has(c)", want: `(a == "b" && has(c))`},
		"precedence made explicit":        {in: "has(a) || has(b) && has(c)", want: "(has(a) || (has(b) && has(c)))"},
		"negated group":                   {in: `! (has( b)||! has(a ))`, want: "!(has(b) || !has(a))"},
		"negated comparison":              {in: `! (a == "b"&&! c != "d")`, want: `!(a == "b" && !c != "d")`},
		"double negation cancelled":       {in: "!(!has(a))", want: "has(a)"},
		"nested groups kept":              {in: "(has(a) && has(b)) && has(c)", want: "((has(a) && has(b)) && has(c))"},
		"global() kept":                   {in: "global() || all()", want: "(global() || all())"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			sel := MustParse(tc.in)
			if got := sel.String(); got != tc.want {
				t.Errorf("String() = %s, want %s", got, tc.want)
			}
			again := MustParse(sel.String())
			if !again.Equal(sel) || again.String() != tc.want {
				t.Errorf("re-parsed String() = %s, want %s", again.String(), tc.want)
			}
		})
	}
}

// Every selector of the language reference prints to a form that parses back to an equal
// selector with the same verdicts.
func TestRoundTrip(t *testing.T) {
	for name, tc := range languageCases {
		t.Run(name, func(t *testing.T) {
			sel := MustParse(tc.sel)
			again, err := Parse(sel.String())
			if err != nil {
				t.Fatalf("Parse(String() = %q): %v", sel.String(), err)
			}
			if !again.Equal(sel) {
				t.Errorf("round trip changed %q to %q", sel.String(), again.String())
			}
			for _, l := range append(append([]Map{}, tc.match...), tc.miss...) {
				if sel.Matches(l) != again.Matches(l) {
					t.Errorf("verdict on %v differs after round trip", l)
				}
			}
		})
	}
}
