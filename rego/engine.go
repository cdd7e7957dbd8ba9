package rego

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"sync"
	"sync/atomic"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/metrics"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/topdown"
)

// Engine evaluates the built-in rule library and user rules. It is safe for concurrent use:
// decisions read an immutable rule set, and SetUserRules swaps in a new one atomically.
type Engine struct {
	state   State
	opts    Options
	library []ruleSource
	shared  shared

	mu  sync.Mutex // serialises rule-set changes
	set atomic.Pointer[ruleSet]
}

// NewEngine compiles the built-in library once. Options.Parameters may only name built-in
// rules; user rules carry their parameters in UserRule.
func NewEngine(state State, opts Options) (*Engine, error) {
	opts = opts.withDefaults()
	lib, err := librarySources()
	if err != nil {
		return nil, err
	}
	set, err := compileRuleSet(context.Background(), lib, opts.Parameters, shortDuration(opts.Lookback))
	if err != nil {
		return nil, fmt.Errorf("compile built-in rule library: %w", err)
	}
	for id := range opts.Parameters {
		if !slices.ContainsFunc(set.rules, func(cr *compiledRule) bool { return cr.rule.ID == id }) {
			return nil, fmt.Errorf("parameters for rule %q: no built-in rule has that id", id)
		}
	}
	e := &Engine{state: state, opts: opts, library: lib}
	e.set.Store(set)
	return e, nil
}

// SetUserRules replaces every user rule with modules (name -> Rego source); see SetUserRuleSet.
func (e *Engine) SetUserRules(modules map[string]string) error {
	rules := make([]UserRule, 0, len(modules))
	for _, name := range slices.Sorted(maps.Keys(modules)) {
		rules = append(rules, UserRule{Name: name, Source: modules[name]})
	}
	return e.SetUserRuleSet(rules)
}

// SetUserRuleSet compiles the built-in library with rules and swaps the result in atomically;
// decisions under way finish on the set they started with. A rule that fails to compile is left
// out and reported in the returned CompileErrors (each naming file:line); the others are swapped
// in, so that one broken RegoRule does not unload the rest.
func (e *Engine) SetUserRuleSet(rules []UserRule) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	ctx := context.Background()
	sources := slices.Clone(e.library)
	for _, r := range rules {
		sources = append(sources, ruleSource{file: r.Name, text: r.Source, override: r})
	}
	set, err := compileRuleSet(ctx, sources, e.opts.Parameters, shortDuration(e.opts.Lookback))
	var cerrs CompileErrors
	if errors.As(err, &cerrs) {
		bad := map[string]bool{}
		for _, ce := range cerrs {
			bad[ce.File] = true
		}
		good := slices.DeleteFunc(sources, func(s ruleSource) bool { return !s.builtin && bad[s.file] })
		set, err = compileRuleSet(ctx, good, e.opts.Parameters, shortDuration(e.opts.Lookback))
		if err == nil {
			e.set.Store(set)
			return fmt.Errorf("user rules: %w", cerrs)
		}
	}
	if err != nil {
		return fmt.Errorf("user rules: %w", err)
	}
	e.set.Store(set)
	return nil
}

// CompileUserRule checks one user rule as the RegoRule admission check does: it must parse,
// carry valid METADATA, stay inside the sandbox, and compile beside the built-in library. The
// error is CompileErrors, each with the compiler's line and message.
func CompileUserRule(name, source string) (Rule, error) {
	lib, err := librarySources()
	if err != nil {
		return Rule{}, err
	}
	set, err := compileRuleSet(context.Background(), append(lib, ruleSource{file: name, text: source}), nil, shortDuration(DefaultLookback))
	if err != nil {
		return Rule{}, err
	}
	for _, cr := range set.rules {
		if !cr.rule.Builtin {
			return cr.rule, nil
		}
	}
	return Rule{}, fmt.Errorf("%s: no rule compiled", name)
}

// Warm builds what decisions share for the State's current cluster snapshot (the netpol engine
// and the inventory of what selectors can match), so that the first request after a snapshot is
// published does not pay for it within its deadline. Call it after publishing a new snapshot.
func (e *Engine) Warm() {
	if e.state == nil || e.state.Cluster() == nil {
		return
	}
	c := e.state.Cluster()
	e.shared.engines.get(c)
	e.shared.inventories.get(c)
}

// Rules returns the rules in force, built-in and user, sorted by id.
func (e *Engine) Rules() []Rule {
	set := e.set.Load()
	out := make([]Rule, len(set.rules))
	for i, cr := range set.rules {
		out[i] = cr.rule
	}
	return out
}

// Admit runs every rule targeting the request's kind. It honours ctx and Options.Deadline; a
// decision cut off returns what it found so far and an error wrapping ErrDeadline.
func (e *Engine) Admit(ctx context.Context, req AdmissionRequest) (Result, error) {
	set := e.set.Load()
	rules := set.byKind[KindName(req.Kind.Group, req.Kind.Kind)]
	var res Result
	if len(rules) == 0 {
		return res, nil
	}
	input, err := ast.InterfaceToValue(admissionInput(req))
	if err != nil {
		return res, fmt.Errorf("build rule input for %s %s/%s: %w", req.Kind.Kind, req.Namespace, req.Name, err)
	}
	ctx, cancel := context.WithTimeout(ctx, e.opts.Deadline)
	defer cancel()
	d := newDecision(ctx, e.state, &e.shared, e.opts.Lookback)
	d.req, d.input = &req, input
	defer d.release()
	err = e.evaluate(d, rules, input, requestResource(req), &res)
	return res, err
}

// evaluate runs rules over one input within d, appending to res. The deadline of d.ctx cancels
// evaluation through one topdown.Cancel shared by every rule, rather than a goroutine per query.
func (e *Engine) evaluate(d *decision, rules []*compiledRule, input ast.Value, ref ResourceRef, res *Result) error {
	cancel := topdown.NewCancel()
	stop := context.AfterFunc(d.ctx, cancel.Cancel)
	defer stop()
	hasTraffic := e.state != nil && e.state.Traffic() != nil
	for _, cr := range rules {
		if cr.rule.NeedsFlows && !hasTraffic {
			res.Skipped = append(res.Skipped, cr.rule)
			continue
		}
		if err := e.stopped(d, cr, ref); err != nil {
			return err
		}
		// No evaluation metrics: nothing reads them, and each evaluation would allocate a set.
		rs, err := cr.query.Eval(d.ctx, rego.EvalParsedInput(input), rego.EvalExternalCancel(cancel),
			rego.EvalMetrics(metrics.NoOp()))
		if err != nil {
			if err := e.stopped(d, cr, ref); err != nil {
				return err
			}
			res.Errors = append(res.Errors, RuleError{Rule: cr.rule, Err: err})
			continue
		}
		vs, err := violations(cr.rule, rs, ref)
		if err != nil {
			res.Errors = append(res.Errors, RuleError{Rule: cr.rule, Err: err})
		}
		res.Violations = append(res.Violations, vs...)
	}
	return nil
}

// stopped returns why the decision must stop before or during rule cr, or nil to go on: a
// RuleError wrapping ErrDeadline, or the context's error.
func (e *Engine) stopped(d *decision, cr *compiledRule, ref ResourceRef) error {
	switch err := d.ctx.Err(); {
	case err == nil:
		return nil
	case errors.Is(err, context.DeadlineExceeded):
		return RuleError{Rule: cr.rule, Err: fmt.Errorf("on %s: cut off by the decision deadline (%s): %w", ref, e.opts.Deadline, ErrDeadline)}
	default:
		return fmt.Errorf("rule %s on %s: %w", cr.rule.ID, ref, err)
	}
}

// violations reads a rule's violation set: objects with "msg", optional "details" and optional
// "resource".
func violations(r Rule, rs rego.ResultSet, def ResourceRef) ([]Violation, error) {
	if len(rs) == 0 || len(rs[0].Expressions) == 0 {
		return nil, nil
	}
	items, ok := rs[0].Expressions[0].Value.([]any)
	if !ok {
		return nil, fmt.Errorf("violation is %T, want a set of objects", rs[0].Expressions[0].Value)
	}
	out := make([]Violation, 0, len(items))
	var errs []error
	for i, item := range items {
		obj, ok := item.(map[string]any)
		if !ok {
			errs = append(errs, fmt.Errorf("violation[%d] is %T, want an object with msg and details", i, item))
			continue
		}
		msg, ok := obj["msg"].(string)
		if !ok || msg == "" {
			errs = append(errs, fmt.Errorf("violation[%d].msg is missing or not a string", i))
			continue
		}
		v := Violation{Rule: r, Msg: msg, Resource: def}
		if details, present := obj["details"]; present {
			if v.Details, ok = details.(map[string]any); !ok {
				errs = append(errs, fmt.Errorf("violation[%d].details is %T, want an object", i, details))
			}
		}
		if res, ok := obj["resource"].(map[string]any); ok {
			v.Resource = ResourceRef{
				APIVersion: str(res["apiVersion"]), Kind: str(res["kind"]),
				Namespace: str(res["namespace"]), Name: str(res["name"]),
			}
		}
		out = append(out, v)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Msg < out[j].Msg })
	return out, errors.Join(errs...)
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

// admissionInput is the rule input for an admission request; docs/rego.md documents it.
func admissionInput(req AdmissionRequest) map[string]any {
	groups := make([]any, len(req.UserInfo.Groups))
	for i, g := range req.UserInfo.Groups {
		groups[i] = g
	}
	extra := make(map[string]any, len(req.UserInfo.Extra))
	for k, v := range req.UserInfo.Extra {
		vals := make([]any, len(v))
		for i, s := range v {
			vals[i] = s
		}
		extra[k] = vals
	}
	return map[string]any{
		"uid":       req.UID,
		"operation": req.Operation,
		"kind":      map[string]any{"group": req.Kind.Group, "version": req.Kind.Version, "kind": req.Kind.Kind},
		"namespace": req.Namespace,
		"name":      req.Name,
		"object":    nilIfEmpty(req.Object),
		"oldObject": nilIfEmpty(req.OldObject),
		"userInfo":  map[string]any{"username": req.UserInfo.Username, "uid": req.UserInfo.UID, "groups": groups, "extra": extra},
		"dryRun":    req.DryRun,
	}
}

func nilIfEmpty(m map[string]any) any {
	if m == nil {
		return nil
	}
	return m
}

func requestResource(req AdmissionRequest) ResourceRef {
	apiVersion := req.Kind.Version
	if req.Kind.Group != "" {
		apiVersion = req.Kind.Group + "/" + req.Kind.Version
	}
	return ResourceRef{APIVersion: apiVersion, Kind: req.Kind.Kind, Namespace: req.Namespace, Name: req.Name}
}
