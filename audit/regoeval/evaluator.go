package regoeval

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/flowguard/flowguard/audit"
	"github.com/flowguard/flowguard/netpol"
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
	workers   int

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
	// Workers is how many shards of namespaces are audited at once; one when zero, so that a
	// scheduled audit leaves a core to the webhook beside it. More shards finish sooner on an
	// idle machine at a cost: each is one engine audit with its own memo (more memory), and
	// objects that are not namespaced are evaluated in every shard (their findings kept once).
	Workers int
}

// NewEvaluator returns an Evaluator over state: the informer-backed State in the cluster, a
// static State over files offline.
func NewEvaluator(state rego.State, opts Options) *Evaluator {
	workers := max(opts.Workers, 1)
	return &Evaluator{state: state, base: opts.Engine, userRules: opts.UserRules, workers: workers,
		engines: map[string]*rego.Engine{}, installed: map[string]string{}}
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
		namespaces = ClusterNamespaces(e.state.Cluster())
	}
	res, err := e.audit(ctx, eng, namespaces, scope)
	if err != nil {
		return audit.Result{}, err
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

// audit runs the engine over the namespaces in shards, one per worker, and merges the results:
// every shard's namespaced findings, and the findings about objects that are not namespaced
// from the first shard only (every shard evaluates those objects).
func (e *Evaluator) audit(ctx context.Context, eng *rego.Engine, namespaces []string, scope audit.Scope) (rego.Result, error) {
	workers := min(e.workers, len(namespaces))
	if workers <= 1 {
		res, err := eng.Audit(ctx, rego.AuditScope{Namespaces: scope.Namespaces, Rules: scope.Rules})
		if err != nil {
			return rego.Result{}, fmt.Errorf("audit rules: %w", err)
		}
		return res, nil
	}
	shards := make([][]string, workers)
	for i, ns := range namespaces {
		shards[i%workers] = append(shards[i%workers], ns)
	}
	results := make([]rego.Result, workers)
	g, gctx := errgroup.WithContext(ctx)
	for i, shard := range shards {
		g.Go(func() error {
			res, err := eng.Audit(gctx, rego.AuditScope{Namespaces: shard, Rules: scope.Rules})
			if err != nil {
				return fmt.Errorf("audit rules over namespaces %s...: %w", shard[0], err)
			}
			results[i] = res
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return rego.Result{}, err
	}
	merged := results[0]
	seenSkipped := map[string]bool{}
	for _, r := range merged.Skipped {
		seenSkipped[r.ID] = true
	}
	for _, res := range results[1:] {
		for _, v := range res.Violations {
			if v.Resource.Namespace != "" || (v.Resource.Kind == "Namespace" && groupless(v.Resource.APIVersion)) {
				merged.Violations = append(merged.Violations, v)
			}
		}
		for _, r := range res.Skipped {
			if !seenSkipped[r.ID] {
				seenSkipped[r.ID] = true
				merged.Skipped = append(merged.Skipped, r)
			}
		}
		merged.Errors = append(merged.Errors, res.Errors...)
	}
	return merged, nil
}

// ClusterNamespaces lists every namespace of a cluster: those with a Namespace object, and those
// that only objects in them name (offline manifests often leave the Namespace out).
func ClusterNamespaces(c *netpol.Cluster) []string {
	if c == nil {
		return nil
	}
	set := map[string]bool{}
	for _, ns := range c.Namespaces() {
		set[ns.Name] = true
	}
	for _, w := range c.Workloads() {
		set[w.Namespace] = true
	}
	for _, p := range c.Policies() {
		if p.Ref.Namespace != "" {
			set[p.Ref.Namespace] = true
		}
	}
	for _, ns := range c.NetworkSets() {
		if ns.Namespace != "" {
			set[ns.Namespace] = true
		}
	}
	return slices.Sorted(maps.Keys(set))
}

// groupless is true for the core group's apiVersion ("v1", or unset).
func groupless(apiVersion string) bool { return apiVersion == "" || apiVersion == "v1" }

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
