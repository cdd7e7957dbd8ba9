package rego

import (
	"context"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
)

type decisionKey struct{}

// decision is the state of one Admit call, or of one audit: the cluster and traffic snapshot the
// builtins read, the lookback window, and the memo of their answers. It is used by one goroutine
// at a time: rules run one after another.
type decision struct {
	ctx   context.Context
	state State
	// from and to bound the lookback window of observed traffic.
	from, to time.Time
	memo     map[string][]memoEntry
	// index is built on first use by the builtins that need it; see index.go.
	index *clusterIndex
}

type memoEntry struct {
	args  []*ast.Term
	value ast.Value
	err   error
}

func newDecision(ctx context.Context, state State, lookback time.Duration) *decision {
	d := &decision{state: state, memo: map[string][]memoEntry{}}
	if state != nil {
		d.to = state.Now()
		d.from = d.to.Add(-lookback)
	}
	d.ctx = context.WithValue(ctx, decisionKey{}, d)
	return d
}

func decisionFrom(ctx context.Context) *decision {
	d, _ := ctx.Value(decisionKey{}).(*decision)
	return d
}

// memoised answers a builtin call from the memo, or computes and remembers it: rules that ask the
// same question in one decision pay for it once.
func (d *decision) memoised(b builtin, args []*ast.Term) (ast.Value, error) {
	for _, e := range d.memo[b.name] {
		if termsEqual(e.args, args) {
			return e.value, e.err
		}
	}
	if err := d.ctx.Err(); err != nil {
		return nil, err
	}
	v, err := b.impl(d, args)
	d.memo[b.name] = append(d.memo[b.name], memoEntry{args: args, value: v, err: err})
	return v, err
}

func termsEqual(a, b []*ast.Term) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !a[i].Equal(b[i]) {
			return false
		}
	}
	return true
}
