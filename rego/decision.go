package rego

import (
	"context"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/flowguard/flowguard/netpol"
)

type decisionKey struct{}

// Long loops in builtins look at the decision's context every so many items, so that an
// abandoned decision stops within a few milliseconds of its deadline rather than running on
// after its answer was given: edges of the traffic graph are cheap to read, a verdict per
// connection costs more (netpol.Impact looks as often).
const (
	scanCheckEvery    = 4096
	verdictCheckEvery = 1024
)

// decision is the state of one Admit call, or of one audit: the cluster and traffic snapshot the
// builtins read, the lookback window, and the memo of their answers. It is used by one goroutine
// at a time: rules run one after another.
type decision struct {
	ctx   context.Context
	state State
	// from and to bound the lookback window of observed traffic.
	from, to time.Time
	memo     map[memoKey][]memoEntry
	shared   *shared

	// req is the admission request under review (nil in an audit); input is the rule input of
	// the evaluation under way.
	req   *AdmissionRequest
	input ast.Value

	// objects are the object arguments builtins converted; see objectArg.
	objects []convertedObject
	// scratch is taken from shared.scratch on first use; see connections.
	scratch *connScratch

	baseEngine  *netpol.Engine
	worldDone   bool
	worldEngine *netpol.Engine
	worldErr    error
}

// memoKey finds a builtin call's answers: the builtin and the hash of its arguments.
type memoKey struct {
	name string
	hash int
}

type memoEntry struct {
	args  []*ast.Term
	value ast.Value
}

func newDecision(ctx context.Context, state State, sh *shared, lookback time.Duration) *decision {
	d := &decision{state: state, shared: sh, memo: map[memoKey][]memoEntry{}}
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
	key := memoKey{name: b.name}
	for _, a := range args {
		key.hash = key.hash*31 + a.Hash()
	}
	for _, e := range d.memo[key] {
		if termsEqual(e.args, args) {
			return e.value, nil
		}
	}
	if err := d.ctx.Err(); err != nil {
		return nil, err
	}
	v, err := b.impl(d, args)
	if err == nil {
		// Errors are not remembered: in an audit a later object, under its own deadline, asks again.
		d.memo[key] = append(d.memo[key], memoEntry{args: args, value: v})
	}
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
