package webhook

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime/debug"
	"slices"
	"strings"

	logf "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/flowguard/flowguard/rego"
)

// dryRunAnnotation is the audit annotation key under which dryrun violations are recorded; the
// API server prefixes it with the webhook's name (validate.flowguard.dev/dryrun-violations).
const dryRunAnnotation = "dryrun-violations"

// evaluateRules runs the rules that target the request and maps every violation through its
// enforcement action.
func (h *Handler) evaluateRules(ctx context.Context, r *review) result {
	if r.kind.regoRule {
		return result{} // a RegoRule is input to the rules, not a subject of them
	}
	log := logf.FromContext(ctx)
	in, err := r.regoRequest()
	if err != nil {
		return h.degraded(ctx, fmt.Errorf("build rule input: %w", err))
	}
	ctx, cancel := context.WithTimeout(ctx, h.cfg.Deadline)
	defer cancel()
	res, err := h.admit(ctx, in)

	var out result
	var dryRun []dryRunRecord
	for _, v := range res.Violations {
		action := h.cfg.action(v.Rule)
		h.metrics.decisions.WithLabelValues(v.Rule.ID, string(action)).Inc()
		msg := fmt.Sprintf("[%s] %s", v.Rule.ID, v.Msg)
		switch action {
		case rego.ActionDeny:
			out.denials = append(out.denials, msg)
		case rego.ActionWarn:
			out.warnings = append(out.warnings, msg)
		case rego.ActionDryRun:
			log.Info("Dry-run violation", "rule", v.Rule.ID, "message", v.Msg)
			dryRun = append(dryRun, dryRunRecord{Rule: v.Rule.ID, Msg: v.Msg})
		}
	}
	if len(dryRun) > 0 {
		b, _ := json.Marshal(dryRun) // a slice of string pairs always marshals
		out.audit = map[string]string{dryRunAnnotation: string(b)}
	}
	out.merge(h.skipped(ctx, res.Skipped))
	for _, re := range res.Errors {
		out.merge(h.ruleFailed(ctx, re))
	}
	if err != nil {
		out.merge(h.degraded(ctx, err))
	}
	return out
}

type dryRunRecord struct {
	Rule string `json:"rule"`
	Msg  string `json:"msg"`
}

// admit runs the decider under the deadline in ctx, on a worker of the pool. The decider runs
// apart from the request so that a decider that ignores its context still cannot hold the API
// server past the deadline; its panics are caught there and returned as errors. When every
// worker is busy and the queue is full, it returns errOverloaded at once; a decision still
// queued when its request gives up is dropped unstarted.
func (h *Handler) admit(ctx context.Context, in rego.AdmissionRequest) (rego.Result, error) {
	type outcome struct {
		res rego.Result
		err error
	}
	done := make(chan outcome, 1)
	taken := h.pool.submit(func() {
		if ctx.Err() != nil {
			return // nobody waits for this answer any more
		}
		defer func() {
			if p := recover(); p != nil {
				done <- outcome{err: &panicError{value: p, stack: debug.Stack()}}
			}
		}()
		res, err := h.decider.Admit(ctx, in)
		done <- outcome{res, err}
	})
	if !taken {
		return rego.Result{}, errOverloaded
	}
	select {
	case o := <-done:
		return o.res, o.err
	case <-ctx.Done():
		return rego.Result{}, fmt.Errorf("%w: %w", rego.ErrDeadline, context.Cause(ctx))
	}
}

// errOverloaded is a decision turned away because every worker is busy and the queue is full.
var errOverloaded = errors.New("every decision worker is busy and the queue is full")

type panicError struct {
	value any
	stack []byte
}

func (p *panicError) Error() string { return fmt.Sprintf("panic: %v", p.value) }

// degraded answers a decision that did not complete: past its deadline, failed, or panicked.
func (h *Handler) degraded(ctx context.Context, err error) result {
	log := logf.FromContext(ctx)
	var p *panicError
	switch {
	case errors.As(err, &p):
		h.metrics.evalErrors.WithLabelValues(reasonPanic).Inc()
		log.Error(err, "Rule evaluation panicked", "stack", string(p.stack))
		return h.failOpenOrClosed(h.cfg.FailClosed.OnError, "rule evaluation failed (internal error: "+err.Error()+")")
	case errors.Is(err, errOverloaded):
		// Not logged per request: under overload the log would add to the load. The metric
		// counts them.
		h.metrics.evalErrors.WithLabelValues(reasonOverload).Inc()
		return h.failOpenOrClosed(h.cfg.FailClosed.OnDeadline, "overloaded ("+err.Error()+")")
	case errors.Is(err, rego.ErrDeadline) || errors.Is(err, context.DeadlineExceeded):
		h.metrics.evalErrors.WithLabelValues(reasonDeadline).Inc()
		log.Error(err, "Rule evaluation passed its deadline", "deadline", h.cfg.Deadline)
		return h.failOpenOrClosed(h.cfg.FailClosed.OnDeadline, fmt.Sprintf("rules did not finish within %s", h.cfg.Deadline))
	default:
		h.metrics.evalErrors.WithLabelValues(reasonError).Inc()
		log.Error(err, "Rule evaluation failed")
		return h.failOpenOrClosed(h.cfg.FailClosed.OnError, "rule evaluation failed: "+err.Error())
	}
}

// ruleFailed answers one rule that could not be evaluated while the others were. It refuses only
// when the rule would deny and flowguard is configured to fail closed on errors.
func (h *Handler) ruleFailed(ctx context.Context, re rego.RuleError) result {
	h.metrics.evalErrors.WithLabelValues(reasonError).Inc()
	logf.FromContext(ctx).Error(re.Err, "Rule evaluation failed", "rule", re.Rule.ID)
	closed := h.cfg.FailClosed.OnError && h.cfg.action(re.Rule) == rego.ActionDeny
	return h.failOpenOrClosed(closed, fmt.Sprintf("rule %s failed to evaluate: %v", re.Rule.ID, re.Err))
}

func (h *Handler) failOpenOrClosed(closed bool, why string) result {
	if closed {
		return result{denials: []string{"flowguard: " + why + "; refused because flowguard is configured to fail closed"}}
	}
	return result{warnings: []string{"flowguard: " + why + "; admitted unchecked"}}
}

// skipped answers the rules the engine skipped because no traffic graph is loaded yet. Only a
// skipped rule that would deny can refuse, and only when configured to fail closed.
func (h *Handler) skipped(ctx context.Context, rules []rego.Rule) result {
	if len(rules) == 0 {
		return result{}
	}
	var denying, others []string
	for _, r := range rules {
		h.metrics.skipped.WithLabelValues(r.ID).Inc()
		if h.cfg.action(r) == rego.ActionDeny {
			denying = append(denying, r.ID)
		} else {
			others = append(others, r.ID)
		}
	}
	logf.FromContext(ctx).V(1).Info("Skipped rules that need the traffic graph", "rules", append(slices.Clone(denying), others...))
	all := strings.Join(append(slices.Clone(denying), others...), ", ")
	if len(denying) > 0 && h.cfg.FailClosed.WithoutFlows {
		return result{denials: []string{"flowguard: the traffic graph is not loaded yet, so rules " + strings.Join(denying, ", ") +
			" cannot check this change against observed flows; refused because flowguard is configured to fail closed"}}
	}
	return result{warnings: []string{"flowguard: the traffic graph is not loaded yet; not checked against observed flows: " + all}}
}
