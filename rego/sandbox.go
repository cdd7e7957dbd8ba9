package rego

import (
	"fmt"
	"sort"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"
)

const sandboxErrorCode = "flowguard_sandbox_error"

// sandboxReason explains why a builtin is refused, or returns "" when it is allowed. Beyond the
// builtins OPA marks non-deterministic, rules may not use cloud credentials.
func sandboxReason(b *ast.Builtin) string {
	switch {
	case b.Name == "providers.aws.sign_req":
		return "signs requests with cloud credentials"
	case b.Name == "http.send":
		return "reaches the network"
	case strings.HasPrefix(b.Name, "net.lookup"):
		return "resolves names over the network"
	case b.Name == "opa.runtime":
		return "exposes the server's environment and configuration"
	case b.Nondeterministic:
		return "is not deterministic (it depends on time, randomness or remote data)"
	}
	return ""
}

// capabilities are OPA's builtins minus the refused ones, plus flowguard's own.
func capabilities(decls []*ast.Builtin) (*ast.Capabilities, map[string]string) {
	caps := ast.CapabilitiesForThisVersion()
	kept := caps.Builtins[:0]
	removed := map[string]string{}
	for _, b := range caps.Builtins {
		if why := sandboxReason(b); why != "" {
			removed[b.Name] = why
			continue
		}
		kept = append(kept, b)
	}
	caps.Builtins = append(kept, decls...)
	return caps, removed
}

// sandboxErrors finds calls to refused builtins in a module, so that the author reads why the
// call is refused rather than the compiler's "undefined function".
func sandboxErrors(file string, m *ast.Module, removed map[string]string) CompileErrors {
	var errs CompileErrors
	report := func(op ast.Ref, loc *ast.Location) {
		name := op.String()
		why, ok := removed[name]
		if !ok {
			return
		}
		ce := CompileError{
			File:    file,
			Code:    sandboxErrorCode,
			Message: fmt.Sprintf("%s is not allowed in flowguard rules: it %s; rules read the cluster and traffic through the flowguard.* builtins", name, why),
		}
		if loc != nil {
			ce.Line, ce.Column = loc.Row, loc.Col
		}
		errs = append(errs, ce)
	}
	ast.WalkExprs(m, func(e *ast.Expr) bool {
		if e.IsCall() {
			report(e.Operator(), e.Location)
		}
		if w := e.With; len(w) > 0 {
			for _, with := range w {
				for _, t := range []*ast.Term{with.Target, with.Value} {
					if ref, ok := t.Value.(ast.Ref); ok {
						report(ref, with.Location)
					}
				}
			}
		}
		return false
	})
	ast.WalkTerms(m, func(t *ast.Term) bool {
		if call, ok := t.Value.(ast.Call); ok {
			if ref, ok := call[0].Value.(ast.Ref); ok {
				report(ref, t.Location)
			}
		}
		return false
	})
	sort.SliceStable(errs, func(i, j int) bool { return errs[i].Line < errs[j].Line })
	return errs
}
