package rego

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/storage/inmem"
)

// reservedPackage is where flowguard keeps its own data (parameters) and its built-in rules;
// user rules live elsewhere.
const reservedPackage = "data.flowguard"

// UserRule is a rule supplied by a cluster administrator, usually from a RegoRule resource. Its
// non-zero fields override the module's METADATA.
type UserRule struct {
	// Name identifies the rule in errors, as the module's file name (the RegoRule's name).
	Name   string
	Source string
	// Action, Severity and Targets override custom.action, custom.severity and custom.targets.
	Action     Action
	Severity   Severity
	Targets    []string
	Parameters map[string]any
}

// ruleSource is one module to compile.
type ruleSource struct {
	file, text string
	builtin    bool
	// helper modules (built-in packages outside flowguard.lib) hold functions rules import;
	// they are not rules.
	helper   bool
	override UserRule
}

// compiledRule is one rule with its query prepared once for the rule set.
type compiledRule struct {
	rule  Rule
	query rego.PreparedEvalQuery
}

// ruleSet is an immutable, compiled set of rules; the engine swaps whole sets.
type ruleSet struct {
	rules     []*compiledRule
	byKind    map[string][]*compiledRule // admission kind -> rules
	bySubject map[string][]*compiledRule // audit subject kind -> rules
}

// compileRuleSet parses, checks and compiles modules into prepared queries. Every problem in
// every module is reported at once, in file and line order.
func compileRuleSet(ctx context.Context, sources []ruleSource, params map[string]map[string]any, lookback string) (*ruleSet, error) {
	decls := builtinDecls()
	caps, removed := capabilities(decls)
	popts := ast.ParserOptions{ProcessAnnotation: true, RegoVersion: ast.RegoV1, Capabilities: caps}

	var errs CompileErrors
	modules := make(map[string]*ast.Module, len(sources))
	rules := make([]Rule, 0, len(sources))
	ids := map[string]string{}      // rule id -> file
	packages := map[string]string{} // package -> file
	for _, src := range sources {
		m, r, perrs := parseRule(src, popts, removed)
		if len(perrs) > 0 {
			errs = append(errs, perrs...)
			continue
		}
		if src.helper {
			modules[src.file] = m
			continue
		}
		r.Builtin = src.builtin
		applyOverride(&r, src.override)
		if !r.Action.valid() || !r.Severity.valid() {
			errs = append(errs, CompileError{File: src.file, Code: metadataErrorCode, Message: fmt.Sprintf("override: action %q or severity %q is not valid", r.Action, r.Severity)})
			continue
		}
		r.Parameters = mergeParameters(r.Parameters, params[r.ID])
		if !src.builtin && (r.Package == reservedPackage || strings.HasPrefix(r.Package, reservedPackage+".")) {
			errs = append(errs, CompileError{File: src.file, Line: m.Package.Location.Row, Code: metadataErrorCode,
				Message: fmt.Sprintf("package %s is reserved for flowguard; choose another package", strings.TrimPrefix(r.Package, "data."))})
			continue
		}
		if other, dup := ids[r.ID]; dup {
			errs = append(errs, CompileError{File: src.file, Code: metadataErrorCode, Message: fmt.Sprintf("rule id %q is already used by %s", r.ID, other)})
			continue
		}
		if other, dup := packages[r.Package]; dup {
			errs = append(errs, CompileError{File: src.file, Code: metadataErrorCode, Message: fmt.Sprintf("package %s is already used by %s: one package per rule", r.Package, other)})
			continue
		}
		ids[r.ID], packages[r.Package] = src.file, src.file
		modules[src.file] = m
		rules = append(rules, r)
	}
	if len(errs) > 0 {
		return nil, sortErrors(errs)
	}

	compiler := ast.NewCompiler().
		WithCapabilities(caps).
		WithDefaultRegoVersion(ast.RegoV1).
		WithUseTypeCheckAnnotations(true)
	if compiler.Compile(modules); compiler.Failed() {
		return nil, sortErrors(astErrors("", compiler.Errors))
	}

	parameters := make(map[string]any, len(rules))
	for _, r := range rules {
		parameters[r.ID] = r.Parameters
	}
	store := inmem.NewFromObject(map[string]any{
		"flowguard": map[string]any{"parameters": parameters, "lookback": lookback},
	})

	set := &ruleSet{byKind: map[string][]*compiledRule{}, bySubject: map[string][]*compiledRule{}}
	slices.SortFunc(rules, func(a, b Rule) int { return cmp.Compare(a.ID, b.ID) })
	for _, r := range rules {
		opts := append([]func(*rego.Rego){
			rego.Compiler(compiler),
			rego.Store(store),
			rego.Query(r.Package + ".violation"),
			rego.StrictBuiltinErrors(false),
		}, builtinFuncs()...)
		pq, err := rego.New(opts...).PrepareForEval(ctx)
		if err != nil {
			return nil, fmt.Errorf("prepare rule %s: %w", r.ID, err)
		}
		cr := &compiledRule{rule: r, query: pq}
		set.rules = append(set.rules, cr)
		for _, t := range r.Targets {
			if t != TargetAudit {
				set.byKind[t] = append(set.byKind[t], cr)
			}
		}
		if r.Audits() {
			for _, s := range r.Subjects {
				set.bySubject[s] = append(set.bySubject[s], cr)
			}
		}
	}
	return set, nil
}

// parseRule parses one module and checks it against the sandbox and, unless it is a helper, the
// METADATA contract.
func parseRule(src ruleSource, popts ast.ParserOptions, removed map[string]string) (*ast.Module, Rule, CompileErrors) {
	m, err := ast.ParseModuleWithOpts(src.file, src.text, popts)
	if err != nil {
		return nil, Rule{}, astErrors(src.file, err)
	}
	if serrs := sandboxErrors(src.file, m, removed); len(serrs) > 0 {
		return nil, Rule{}, serrs
	}
	if src.helper {
		return m, Rule{}, nil
	}
	r, merrs := ruleFromModule(src.file, m)
	return m, r, merrs
}

// Compile compiles the rule on its own, as CompileUserRule does, and returns it as it will be in
// force: with the RegoRule's action, severity, targets and parameters over its METADATA's.
func (u UserRule) Compile() (Rule, error) {
	r, err := CompileUserRule(u.Name, u.Source)
	if err != nil {
		return Rule{}, err
	}
	applyOverride(&r, u)
	return r, nil
}

// applyOverride sets what a RegoRule's spec says over what its METADATA says: a field that is
// set wins.
func applyOverride(r *Rule, o UserRule) {
	if o.Action != "" {
		r.Action = o.Action
	}
	if o.Severity != "" {
		r.Severity = o.Severity
	}
	if len(o.Targets) > 0 {
		r.Targets = slices.Clone(o.Targets)
	}
	if o.Parameters != nil {
		r.Parameters = mergeParameters(r.Parameters, o.Parameters)
	}
}

// mergeParameters returns defaults overridden key by key by config.
func mergeParameters(defaults, config map[string]any) map[string]any {
	out := make(map[string]any, len(defaults)+len(config))
	maps.Copy(out, defaults)
	maps.Copy(out, config)
	return out
}

// astErrors converts OPA's parse and compile errors; file names the module when the error
// carries no location.
func astErrors(file string, err error) CompileErrors {
	var list ast.Errors
	if errs, ok := errors.AsType[ast.Errors](err); ok {
		list = errs
	} else if e, ok := errors.AsType[*ast.Error](err); ok {
		list = ast.Errors{e}
	} else {
		return CompileErrors{{File: file, Code: "rego_compile_error", Message: err.Error()}}
	}
	out := make(CompileErrors, 0, len(list))
	for _, e := range list {
		ce := CompileError{File: file, Code: e.Code, Message: e.Message}
		if e.Location != nil {
			ce.Line, ce.Column = e.Location.Row, e.Location.Col
			if e.Location.File != "" {
				ce.File = e.Location.File
			}
		}
		out = append(out, ce)
	}
	return out
}

func sortErrors(errs CompileErrors) CompileErrors {
	slices.SortStableFunc(errs, func(a, b CompileError) int {
		return cmp.Or(cmp.Compare(a.File, b.File), cmp.Compare(a.Line, b.Line), cmp.Compare(a.Column, b.Column))
	})
	return errs
}
