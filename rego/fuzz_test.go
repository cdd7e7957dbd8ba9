package rego

import (
	"errors"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"
)

// FuzzParseRule feeds arbitrary module sources to the parsing, sandbox and METADATA checks a
// RegoRule goes through before it is compiled: they must never panic, every refusal must name
// the module, and an accepted rule must carry valid metadata.
func FuzzParseRule(f *testing.F) {
	f.Add(userRule("needs-owner", "deny", "[Pod]", labelledRule))
	f.Add(userRule("calls-out", "deny", "[Pod]", `violation contains {"msg": http.send({"method": "GET", "url": "x"}).body} if true`))
	f.Add("# METADATA\n# custom:\n#   id: [\npackage x\n")
	f.Add("package x\nviolation contains {\"msg\": 1} if true\n")
	f.Add("")
	caps, removed := capabilities(builtinDecls())
	popts := ast.ParserOptions{ProcessAnnotation: true, RegoVersion: ast.RegoV1, Capabilities: caps}
	f.Fuzz(func(t *testing.T, src string) {
		_, r, errs := parseRule(ruleSource{file: "fuzz.rego", text: src}, popts, removed)
		for _, ce := range errs {
			if ce.File != "fuzz.rego" {
				t.Fatalf("error %+v does not name the module", ce)
			}
		}
		if len(errs) == 0 && (!ruleIDPattern.MatchString(r.ID) || !r.Action.valid() || !r.Severity.valid() || len(r.Targets) == 0) {
			t.Fatalf("accepted invalid metadata %+v from %q", r, src)
		}
	})
}

// FuzzFlowSpec feeds arbitrary JSON-shaped specs to flowguard.flows' argument parser.
func FuzzFlowSpec(f *testing.F) {
	f.Add(`{"namespace": "shop", "direction": "ingress", "action": "deny", "limit": 5}`)
	f.Add(`{"labels": {"app": "api"}, "limit": -1}`)
	f.Add(`{"direction": 3}`)
	f.Fuzz(func(t *testing.T, spec string) {
		term, err := astTermFromJSON(spec)
		if err != nil {
			return
		}
		s, err := parseFlowSpec(term)
		if err == nil && s.limit < 0 {
			t.Fatalf("accepted a negative limit from %s", spec)
		}
	})
}

func astTermFromJSON(s string) (*ast.Term, error) {
	v, err := ast.ParseTerm(s)
	if err != nil {
		return nil, err
	}
	if _, ok := v.Value.(ast.Object); !ok {
		return nil, errors.New("not an object")
	}
	return v, nil
}
