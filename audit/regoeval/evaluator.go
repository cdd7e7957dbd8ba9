package regoeval

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/flowguard/flowguard/audit"
	"github.com/flowguard/flowguard/rego"
)

// Evaluator runs the rule engine's audit rules over a State as an audit.Evaluator. Parameters and
// the lookback window are fixed when an engine compiles its rule set, so it keeps one engine per
// distinct (parameters, lookback) and reuses it: schedules that share settings share an engine.
type Evaluator struct {
	state rego.State
	base  rego.Options
	// userRules, when set, returns the current user rules, installed before every audit.
	userRules func() []rego.UserRule

	mu      sync.Mutex
	engines map[string]*rego.Engine
	// installed is the fingerprint of the user rules each engine holds, so that an unchanged
	// set is not compiled again.
	installed map[string]string
}

// Options configure an Evaluator.
type Options struct {
	// Engine holds the deadline per object and the defaults that a scope does not override.
	Engine rego.Options
	// UserRules returns the RegoRules to run beside the built-in library; none when nil.
	UserRules func() []rego.UserRule
}

// NewEvaluator returns an Evaluator over state: the informer-backed State in the cluster, a
// static State over files offline.
func NewEvaluator(state rego.State, opts Options) *Evaluator {
	return &Evaluator{state: state, base: opts.Engine, userRules: opts.UserRules, engines: map[string]*rego.Engine{}, installed: map[string]string{}}
}

// Evaluate runs the audit rules of scope and returns the findings of the namespaces in scope
// and of cluster-scoped objects.
func (e *Evaluator) Evaluate(ctx context.Context, scope audit.Scope) (audit.Result, error) {
	eng, err := e.engine(scope)
	if err != nil {
		return audit.Result{}, err
	}
	now := e.state.Now()
	namespaces := scope.Namespaces
	if namespaces == nil {
		if c := e.state.Cluster(); c != nil {
			namespaces = []string{}
			for _, ns := range c.Namespaces() {
				namespaces = append(namespaces, ns.Name)
			}
			slices.Sort(namespaces)
		}
	}
	res, err := eng.Audit(ctx, rego.AuditScope{Namespaces: scope.Namespaces, Rules: scope.Rules})
	if err != nil {
		return audit.Result{}, fmt.Errorf("audit rules: %w", err)
	}
	findings, skipped := FromRego(res)
	if scope.Namespaces != nil {
		// An empty list means no namespace, where the engine reads it as every namespace.
		findings = slices.DeleteFunc(findings, func(f audit.Finding) bool {
			ns := f.Namespace()
			return ns != "" && !slices.Contains(scope.Namespaces, ns)
		})
	}
	out := audit.Result{EvaluatedAt: now, Namespaces: namespaces, Findings: findings, Skipped: skipped}
	if e.state.Traffic() != nil {
		lookback := scope.Lookback
		if lookback <= 0 {
			lookback = e.lookback()
		}
		out.Window = &audit.Window{Start: now.Add(-lookback), End: now}
	}
	return out, nil
}

func (e *Evaluator) lookback() time.Duration {
	if e.base.Lookback > 0 {
		return e.base.Lookback
	}
	return rego.DefaultLookback
}

// engine returns the engine for scope's parameters and lookback, compiling it the first time.
func (e *Evaluator) engine(scope audit.Scope) (*rego.Engine, error) {
	opts := e.base
	if scope.Lookback > 0 {
		opts.Lookback = scope.Lookback
	}
	if len(scope.Parameters) > 0 {
		opts.Parameters = map[string]map[string]any{}
		for id, p := range e.base.Parameters {
			opts.Parameters[id] = p
		}
		for id, p := range scope.Parameters {
			merged := map[string]any{}
			for k, v := range e.base.Parameters[id] {
				merged[k] = v
			}
			for k, v := range p {
				merged[k] = v
			}
			opts.Parameters[id] = merged
		}
	}
	key, err := json.Marshal(struct {
		P map[string]map[string]any
		L time.Duration
	}{opts.Parameters, opts.Lookback})
	if err != nil {
		return nil, fmt.Errorf("rule parameters: %w", err)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	eng := e.engines[string(key)]
	if eng == nil {
		if eng, err = rego.NewEngine(e.state, opts); err != nil {
			return nil, fmt.Errorf("compile audit rules: %w", err)
		}
		e.engines[string(key)] = eng
	}
	if e.userRules != nil {
		rules := e.userRules()
		fp, err := json.Marshal(rules)
		if err != nil {
			return nil, fmt.Errorf("user rules: %w", err)
		}
		if e.installed[string(key)] != string(fp) {
			if err := eng.SetUserRuleSet(rules); err != nil {
				return nil, fmt.Errorf("install user rules: %w", err)
			}
			e.installed[string(key)] = string(fp)
		}
	}
	return eng, nil
}
