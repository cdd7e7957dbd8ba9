package rego

import (
	"errors"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/tester"
	"github.com/open-policy-agent/opa/v1/topdown"
	"github.com/open-policy-agent/opa/v1/types"
)

// builtin is one flowguard.* function: its Rego declaration and the Go that answers it from the
// decision's State. Answers are memoised per decision, keyed by the arguments.
type builtin struct {
	name string
	args []types.Type
	// result is the declared return type, checked by the compiler against the rule's use.
	result types.Type
	impl   func(d *decision, args []*ast.Term) (ast.Value, error)
}

// builtinTable lists every custom builtin. docs/rego.md documents each; keep them few.
func builtinTable() []builtin {
	anyObject := types.NewObject(nil, types.NewDynamicProperty(types.S, types.A))
	objOrNull := types.NewAny(anyObject, types.Nl)
	return []builtin{
		{name: "flowguard.impact", args: []types.Type{objOrNull, objOrNull, types.S}, result: anyObject, impl: (*decision).impact},
		{name: "flowguard.flows", args: []types.Type{anyObject}, result: anyObject, impl: (*decision).flows},
		{name: "flowguard.covered", args: []types.Type{anyObject}, result: anyObject, impl: (*decision).covered},
		{name: "flowguard.default_deny", args: []types.Type{types.S}, result: anyObject, impl: (*decision).defaultDeny},
		{name: "flowguard.rule_usage", args: []types.Type{anyObject}, result: types.NewArray(nil, anyObject), impl: (*decision).ruleUsage},
		{name: "flowguard.selectors", args: []types.Type{anyObject}, result: types.NewArray(nil, anyObject), impl: (*decision).selectors},
		{name: "flowguard.shadowed", args: []types.Type{anyObject}, result: types.NewArray(nil, anyObject), impl: (*decision).shadowed},
	}
}

func (b builtin) function() *rego.Function {
	return &rego.Function{Name: b.name, Decl: types.NewFunction(b.args, b.result)}
}

// builtinDecls are the declarations the compiler type-checks rules against.
func builtinDecls() []*ast.Builtin {
	table := builtinTable()
	out := make([]*ast.Builtin, len(table))
	for i, b := range table {
		out[i] = &ast.Builtin{Name: b.name, Decl: types.NewFunction(b.args, b.result)}
	}
	return out
}

// builtinFuncs are the rego options that bind every builtin's implementation.
func builtinFuncs() []func(*rego.Rego) {
	table := builtinTable()
	out := make([]func(*rego.Rego), len(table))
	for i, b := range table {
		out[i] = rego.FunctionDyn(b.function(), b.dispatch)
	}
	return out
}

// testBuiltins returns flowguard's builtins for OPA's test runner, so that Rego unit tests
// compile against them and mock them with `with flowguard.x as ...`. Called without a decision
// (unmocked in a test), a builtin halts with an error that says to mock it.
func testBuiltins() []*tester.Builtin {
	table := builtinTable()
	out := make([]*tester.Builtin, len(table))
	for i, b := range table {
		out[i] = &tester.Builtin{
			Decl: &ast.Builtin{Name: b.name, Decl: types.NewFunction(b.args, b.result)},
			Func: rego.FunctionDyn(b.function(), b.dispatch),
		}
	}
	return out
}

var errNoDecision = errors.New("no cluster state in this evaluation; in a Rego test, mock the builtin with `with`")

// dispatch finds the decision the evaluation belongs to and answers from its memo or impl.
func (b builtin) dispatch(bctx topdown.BuiltinContext, args []*ast.Term) (*ast.Term, error) {
	d := decisionFrom(bctx.Context)
	if d == nil {
		return nil, rego.NewHaltError(errNoDecision)
	}
	v, err := d.memoised(b, args)
	if err != nil {
		return nil, rego.NewHaltError(err)
	}
	return ast.NewTerm(v), nil
}
