package audit

import (
	"context"
	"time"
)

// Evaluator runs the audit rules over a snapshot of the cluster and its observed traffic. The
// auditor and the offline CLI share it: in the cluster it reads the informer-backed State, offline
// the manifests and flow files given. Package regoeval adapts the rule engine.
type Evaluator interface {
	Evaluate(ctx context.Context, scope Scope) (Result, error)
}

// Scope is what one audit covers.
type Scope struct {
	// Namespaces are the namespaces in scope; every namespace when nil. Cluster-scoped objects
	// are always audited.
	Namespaces []string
	// Rules are the rule ids to run; every audit rule when empty.
	Rules []string
	// Parameters per rule id override the rules' defaults.
	Parameters map[string]map[string]any
	// Lookback is the window of observed traffic the rules judge by, ending at the snapshot.
	Lookback time.Duration
}

// EvaluatorFunc adapts a function to Evaluator.
type EvaluatorFunc func(ctx context.Context, scope Scope) (Result, error)

// Evaluate calls f.
func (f EvaluatorFunc) Evaluate(ctx context.Context, scope Scope) (Result, error) {
	return f(ctx, scope)
}
