package selector

import (
	"slices"
	"testing"
)

func TestIsAllAndUsesGlobal(t *testing.T) {
	tests := map[string]struct {
		sel           string
		all, isGlobal bool
	}{
		"empty":                {sel: "", all: true},
		"all()":                {sel: "all()", all: true},
		"parenthesised all()":  {sel: "((all()))", all: true},
		"double-negated all()": {sel: "!!all()", all: true},
		"has":                  {sel: "has(a)"},
		"tautology is not all": {sel: "has(a) || !has(a)"},
		"global()":             {sel: "global()", isGlobal: true},
		"global() deep inside": {sel: "has(a) && (has(b) || !global())", isGlobal: true},
		"a key named global":   {sel: "global == 'x'"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			sel := MustParse(tc.sel)
			if got := sel.IsAll(); got != tc.all {
				t.Errorf("IsAll() = %v, want %v", got, tc.all)
			}
			if got := sel.UsesGlobal(); got != tc.isGlobal {
				t.Errorf("UsesGlobal() = %v, want %v", got, tc.isGlobal)
			}
		})
	}
}

func TestEqualityRequirements(t *testing.T) {
	tests := map[string]struct {
		sel  string
		want []Requirement
	}{
		"single equality":            {sel: "app == 'web'", want: []Requirement{{"app", "web"}}},
		"top-level && terms":         {sel: "app == 'web' && has(x) && tier == 'fe'", want: []Requirement{{"app", "web"}, {"tier", "fe"}}},
		"nested && still top level":  {sel: "(app == 'web' && ns == 'a') && has(x)", want: []Requirement{{"app", "web"}, {"ns", "a"}}},
		"single-valued in":           {sel: "app in {'web'}", want: []Requirement{{"app", "web"}}},
		"duplicates removed":         {sel: "app == 'web' && app in {'web'}", want: []Requirement{{"app", "web"}}},
		"multi-valued in is not one": {sel: "app in {'web', 'db'}"},
		"|| gives no requirement":    {sel: "app == 'web' || tier == 'fe'"},
		"negation gives none":        {sel: "!app == 'web'"},
		"!= gives none":              {sel: "app != 'web'"},
		"all() gives none":           {sel: ""},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got := MustParse(tc.sel).EqualityRequirements()
			if !slices.Equal(got, tc.want) {
				t.Errorf("EqualityRequirements() = %v, want %v", got, tc.want)
			}
		})
	}
}

// A namespaceSelector is evaluated as Felix evaluates it after rewriting all() and global().
func TestMatchesNamespaceOf(t *testing.T) {
	prod := Map{"projectcalico.org/name": "prod", "env": "prod"}
	tests := map[string]struct {
		sel                       string
		namespaced, nonNamespaced bool
	}{
		"all() selects every namespace but no global endpoint": {sel: "all()", namespaced: true},
		"global() selects only non-namespaced endpoints":       {sel: "global()", nonNamespaced: true},
		"global() || all() selects both":                       {sel: "global() || all()", namespaced: true, nonNamespaced: true},
		"label term reads the namespace's labels":              {sel: "env == 'prod'", namespaced: true},
		"label term on another value":                          {sel: "env == 'dev'"},
		"!= is true for a global endpoint (no labels)":         {sel: "env != 'dev'", namespaced: true, nonNamespaced: true},
		"!has is true for a global endpoint":                   {sel: "!has(env)", nonNamespaced: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			sel := MustParse(tc.sel)
			if got := sel.MatchesNamespaceOf(prod); got != tc.namespaced {
				t.Errorf("for a pod in prod: %v, want %v", got, tc.namespaced)
			}
			if got := sel.MatchesNamespaceOf(nil); got != tc.nonNamespaced {
				t.Errorf("for a host endpoint: %v, want %v", got, tc.nonNamespaced)
			}
		})
	}
}

func TestNilSelector(t *testing.T) {
	var s *Selector
	if s.Matches(Map{}) || s.MatchesNamespaceOf(Map{}) || s.IsAll() || s.UsesGlobal() ||
		s.String() != "" || s.EqualityRequirements() != nil || !s.Equal(nil) || s.Equal(MustParse("")) {
		t.Error("a nil selector must be 'not set': match nothing, print empty, equal only nil")
	}
}

func TestMatchesDoesNotAllocate(t *testing.T) {
	sel := MustParse(benchSelector)
	var l Labels = benchFlowLabels
	m := benchFlowLabels.Map()
	if n := testing.AllocsPerRun(100, func() { sel.Matches(l); sel.Matches(m); sel.MatchesNamespaceOf(m) }); n != 0 {
		t.Errorf("Matches allocated %v times per run, want 0", n)
	}
}
