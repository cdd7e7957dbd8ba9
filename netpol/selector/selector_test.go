package selector

import (
	"errors"
	"testing"
)

// The cases below are the language reference: each names one rule of Calico's selector
// language, with label sets it must and must not match.
var languageCases = map[string]struct {
	sel   string
	match []Map
	miss  []Map
}{
	"empty selector is all()":                      {sel: "", match: []Map{{}, {"a": "b"}}},
	"blank selector is all()":                      {sel: " \t ", match: []Map{{}, {"a": "b"}}},
	"all() matches every label set":                {sel: "all()", match: []Map{{}, {"a": "b"}}},
	"all() allows spaces inside":                   {sel: "all( )", match: []Map{{}}},
	"has(k) needs the key, any value":              {sel: "has(app)", match: []Map{{"app": ""}, {"app": "web"}}, miss: []Map{{}, {"App": "web"}}},
	"has( k ) allows spaces inside":                {sel: "has( app )", match: []Map{{"app": "x"}}, miss: []Map{{}}},
	"!has(k) needs the key absent":                 {sel: "!has(app)", match: []Map{{}, {"role": "db"}}, miss: []Map{{"app": ""}}},
	"== compares the whole value":                  {sel: "app == 'web'", match: []Map{{"app": "web"}}, miss: []Map{{}, {"app": "web2"}, {"app": "Web"}}},
	"== with an empty string":                      {sel: "app == ''", match: []Map{{"app": ""}}, miss: []Map{{}, {"app": "x"}}},
	"!= is true when the key is absent":            {sel: "app != 'web'", match: []Map{{}, {"app": "db"}}, miss: []Map{{"app": "web"}}},
	"in needs one of the values":                   {sel: "tier in {'web', 'api'}", match: []Map{{"tier": "web"}, {"tier": "api"}}, miss: []Map{{}, {"tier": "db"}}},
	"in is false when the key is absent":           {sel: "tier in {'web'}", miss: []Map{{}, {"other": "web"}}},
	"in {} matches nothing":                        {sel: "tier in {}", miss: []Map{{}, {"tier": ""}, {"tier": "x"}}},
	"in accepts a trailing comma":                  {sel: "tier in {'web',}", match: []Map{{"tier": "web"}}},
	"in with a long set":                           {sel: "n in {'1','2','3','4','5','6','7','8','9','10','11'}", match: []Map{{"n": "1"}, {"n": "11"}, {"n": "9"}}, miss: []Map{{"n": "12"}, {}}},
	"not in is true when the key is absent":        {sel: "tier not in {'db'}", match: []Map{{}, {"tier": "web"}}, miss: []Map{{"tier": "db"}}},
	"not in {} matches everything":                 {sel: "tier not in {}", match: []Map{{}, {"tier": "x"}}},
	"notin is one operator word":                   {sel: `tier notin{"db"}`, match: []Map{{"tier": "web"}}, miss: []Map{{"tier": "db"}}},
	"contains is a substring test":                 {sel: "image contains 'nginx'", match: []Map{{"image": "my-nginx-1"}, {"image": "nginx"}}, miss: []Map{{}, {"image": "ngin"}}},
	"contains is false when absent":                {sel: "image contains ''", match: []Map{{"image": ""}}, miss: []Map{{}}},
	"starts with is a prefix test":                 {sel: "version starts with 'v2'", match: []Map{{"version": "v2"}, {"version": "v2.1"}}, miss: []Map{{}, {"version": "xv2"}}},
	"startswith is accepted as one word":           {sel: "version startswith 'v2'", match: []Map{{"version": "v2.1"}}},
	"ends with is a suffix test":                   {sel: "host ends with '.internal'", match: []Map{{"host": "a.internal"}}, miss: []Map{{}, {"host": "a.internal.x"}}},
	"ends   with allows extra spaces":              {sel: "host ends \t with '.internal'", match: []Map{{"host": "a.internal"}}},
	"! negates a term":                             {sel: "!app == 'web'", match: []Map{{}, {"app": "db"}}, miss: []Map{{"app": "web"}}},
	"!! cancels out":                               {sel: "!!has(app)", match: []Map{{"app": "x"}}, miss: []Map{{}}},
	"! ! ! with spaces is one negation":            {sel: "! ! !has(app)", match: []Map{{}}, miss: []Map{{"app": "x"}}},
	"&& needs both":                                {sel: "app == 'web' && tier == 'fe'", match: []Map{{"app": "web", "tier": "fe"}}, miss: []Map{{"app": "web"}, {"tier": "fe"}}},
	"|| needs either":                              {sel: "app == 'web' || tier == 'fe'", match: []Map{{"app": "web"}, {"tier": "fe"}}, miss: []Map{{}, {"app": "db"}}},
	"! binds tighter than &&":                      {sel: "!has(a) && has(b)", match: []Map{{"b": ""}}, miss: []Map{{"a": "", "b": ""}, {}}},
	"&& binds tighter than ||":                     {sel: "has(a) || has(b) && has(c)", match: []Map{{"a": ""}, {"b": "", "c": ""}}, miss: []Map{{"b": ""}, {"c": ""}}},
	"parentheses override precedence":              {sel: "(has(a) || has(b)) && has(c)", match: []Map{{"a": "", "c": ""}}, miss: []Map{{"a": ""}, {"b": ""}}},
	"! applies to a parenthesised group":           {sel: "!(has(a) || has(b))", match: []Map{{}, {"c": ""}}, miss: []Map{{"a": ""}, {"b": ""}}},
	"single and double quotes are equal":           {sel: `a == "x" && b == 'y'`, match: []Map{{"a": "x", "b": "y"}}},
	"a single-quoted value may hold \"":            {sel: `a == '"'`, match: []Map{{"a": `"`}}},
	"a double-quoted value may hold '":             {sel: `a == "it's"`, match: []Map{{"a": "it's"}}},
	"quoted values are taken literally":            {sel: `a == 'x && b == "y"'`, match: []Map{{"a": `x && b == "y"`}}, miss: []Map{{"a": "x", "b": "y"}}},
	"no space is needed between tokens":            {sel: `a=="x"&&!has(b)||c!='d'`, match: []Map{{"a": "x"}, {}}, miss: []Map{{"c": "d"}}},
	"tabs separate tokens like spaces":             {sel: "a\t==\t'x'", match: []Map{{"a": "x"}}},
	"prefixed keys need no quoting":                {sel: "projectcalico.org/name == 'default'", match: []Map{{"projectcalico.org/name": "default"}}, miss: []Map{{"name": "default"}}},
	"keys use [A-Za-z0-9_./-]":                     {sel: "has(k8s-app.io/Role_1)", match: []Map{{"k8s-app.io/Role_1": ""}}},
	"operator words are valid keys":                {sel: "in == 'x' && contains contains 'y' && has == 'z'", match: []Map{{"in": "x", "contains": "yy", "has": "z"}}},
	"all is a key when not called":                 {sel: "all == 'x'", match: []Map{{"all": "x"}}, miss: []Map{{}}},
	"global() is true without the namespace label": {sel: "global()", match: []Map{{}, {"a": "b"}}, miss: []Map{{NamespaceLabel: "default"}}},
	"!global() selects namespaced endpoints":       {sel: "!global()", match: []Map{{NamespaceLabel: "default"}}, miss: []Map{{}}},
}

func TestLanguage(t *testing.T) {
	for name, tc := range languageCases {
		t.Run(name, func(t *testing.T) {
			sel, err := Parse(tc.sel)
			if err != nil {
				t.Fatalf("Parse(%q): %v", tc.sel, err)
			}
			for _, l := range tc.match {
				if !sel.Matches(l) {
					t.Errorf("%q should match %v", tc.sel, l)
				}
			}
			for _, l := range tc.miss {
				if sel.Matches(l) {
					t.Errorf("%q should not match %v", tc.sel, l)
				}
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	tests := map[string]struct {
		sel  string
		want string // the full error text
	}{
		"missing value": {
			sel: "app == ", want: `selector "app == ": position 7: expected a quoted string`},
		"label instead of value": {
			sel: "a == b", want: `selector "a == b": position 5: expected a quoted string, found label "b"`},
		"single =": {
			sel: "app = 'x'", want: `selector "app = 'x'": position 4: expected '==', found a single '='`},
		"single &": {
			sel: "has(a) & has(b)", want: `selector "has(a) & has(b)": position 7: expected '&&', found a single '&'`},
		"unterminated string": {
			sel: "app == 'web", want: `selector "app == 'web": position 7: unterminated string: no closing '`},
		"mismatched quotes": {
			sel: `app == "web'`, want: `selector "app == \"web'": position 7: unterminated string: no closing "`},
		"dangling &&": {
			sel: "app == 'x' &&", want: `selector "app == 'x' &&": position 13: expected a label, has(), all(), global(), '!' or '('`},
		"lone !": {
			sel: "!", want: `selector "!": position 1: expected a label, has(), all(), global(), '!' or '('`},
		"unclosed paren": {
			sel: "(app == 'x'", want: `selector "(app == 'x'": position 11: expected ')' to close the '(' at position 0, found end of selector`},
		"stray close paren": {
			sel: ")", want: `selector ")": position 0: expected a label, has(), all(), global(), '!' or '(', found ')'`},
		"empty parens": {
			sel: "()", want: `selector "()": position 1: expected a label, has(), all(), global(), '!' or '(', found ')'`},
		"unknown operator word": {
			sel: "app is 'x'", want: `selector "app is 'x'": position 4: expected an operator (==, !=, in, not in, contains, starts with, ends with) after label "app"`},
		"operator word needs a boundary": {
			sel: "a inx {'b'}", want: `selector "a inx {'b'}": position 2: expected an operator (==, !=, in, not in, contains, starts with, ends with) after label "a"`},
		"bare label": {
			sel: "app", want: `selector "app": position 3: expected an operator (==, !=, in, not in, contains, starts with, ends with) after label "app", found end of selector`},
		"value on the left": {
			sel: "'web' == app", want: `selector "'web' == app": position 0: expected a label, has(), all(), global(), '!' or '(', found string "web"`},
		"has without a key": {
			sel: "has()", want: `selector "has()": position 4: expected a label name, found ")"`},
		"has unclosed": {
			sel: "has(app", want: `selector "has(app": position 7: expected ')' to close has(, found end of selector`},
		"has( needs no space before (": {
			sel: "has (app)", want: `selector "has (app)": position 4: expected an operator (==, !=, in, not in, contains, starts with, ends with) after label "has", found '('`},
		"all with an argument": {
			sel: "all(x)", want: `selector "all(x)": position 4: expected ')' to close all(, found "x"`},
		"in without braces": {
			sel: "a in 'x'", want: `selector "a in 'x'": position 5: expected '{' to start a set of quoted strings, found string "x"`},
		"set without comma": {
			sel: "a in {'x' 'y'}", want: `selector "a in {'x' 'y'}": position 10: expected a quoted string or '}' to close the set, found string "y"`},
		"set with only a comma": {
			sel: "a in {,}", want: `selector "a in {,}": position 6: expected a quoted string or '}' to close the set, found ','`},
		"two expressions without operator": {
			sel: "a == 'b' c == 'd'", want: `selector "a == 'b' c == 'd'": position 9: unexpected label "c" after a complete expression (missing && or ||?)`},
		"newline is not whitespace": {
			sel: "a == 'b'\n", want: `selector "a == 'b'\n": position 8: unexpected character '\n'`},
		"non-ASCII key": {
			sel: "a == 'é' && é == 'x'", want: `selector "a == 'é' && é == 'x'": position 13: unexpected character 'é'`},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			sel, err := Parse(tc.sel)
			if err == nil {
				t.Fatalf("Parse(%q) = %v, want an error", tc.sel, sel)
			}
			pe, ok := errors.AsType[*ParseError](err)
			if !ok {
				t.Fatalf("error is %T, want *ParseError", err)
			}
			if pe.Selector != tc.sel {
				t.Errorf("ParseError.Selector = %q, want %q", pe.Selector, tc.sel)
			}
			if got := err.Error(); got != tc.want {
				t.Errorf("error:\n got: %s\nwant: %s", got, tc.want)
			}
		})
	}
}

func TestParseLimits(t *testing.T) {
	long := make([]byte, MaxLabelLength+1)
	for i := range long {
		long[i] = 'k'
	}
	tests := map[string]struct {
		sel    string
		wantOK bool
	}{
		"512-byte key is accepted": {sel: "has(" + string(long[:MaxLabelLength]) + ")", wantOK: true},
		"513-byte key is refused":  {sel: "has(" + string(long) + ")"},
		"nesting at MaxDepth":      {sel: nest(MaxDepth), wantOK: true},
		"nesting beyond MaxDepth":  {sel: nest(MaxDepth + 1)},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := Parse(tc.sel)
			if (err == nil) != tc.wantOK {
				t.Errorf("Parse error = %v, want ok=%v", err, tc.wantOK)
			}
		})
	}
}

func nest(depth int) string {
	s := "has(a)"
	for range depth {
		s = "(" + s + ")"
	}
	return s
}
