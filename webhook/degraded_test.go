package webhook

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	admissionv1 "k8s.io/api/admission/v1"

	"github.com/flowguard/flowguard/rego"
)

type deciderFunc func(context.Context, rego.AdmissionRequest) (rego.Result, error)

func (f deciderFunc) Admit(ctx context.Context, in rego.AdmissionRequest) (rego.Result, error) {
	return f(ctx, in)
}

var breakingChange = rego.Rule{ID: "breaking-change", Action: rego.ActionDeny, NeedsFlows: true}

func TestHandlerDegradedModes(t *testing.T) {
	// stuck holds deciders that ignore their context until the test ends.
	stuck := make(chan struct{})
	t.Cleanup(func() { close(stuck) })

	skipping := func(rules ...rego.Rule) Decider {
		return deciderFunc(func(context.Context, rego.AdmissionRequest) (rego.Result, error) {
			return rego.Result{Skipped: rules}, nil
		})
	}
	untilDeadline := deciderFunc(func(ctx context.Context, _ rego.AdmissionRequest) (rego.Result, error) {
		<-ctx.Done()
		return rego.Result{}, fmt.Errorf("evaluate: %w", rego.ErrDeadline)
	})
	ignoringContext := deciderFunc(func(context.Context, rego.AdmissionRequest) (rego.Result, error) {
		<-stuck
		return rego.Result{}, nil
	})
	failing := deciderFunc(func(context.Context, rego.AdmissionRequest) (rego.Result, error) {
		return rego.Result{}, errors.New("rule set not loaded")
	})
	partlyFailing := deciderFunc(func(context.Context, rego.AdmissionRequest) (rego.Result, error) {
		return rego.Result{
			Violations: []rego.Violation{{Rule: rego.Rule{ID: "allow-all", Action: rego.ActionWarn}, Msg: "ingress rule 0 admits every peer"}},
			Errors:     []rego.RuleError{{Rule: breakingChange, Err: errors.New("flowguard.impact: object has no spec")}},
		}, nil
	})
	panicking := deciderFunc(func(context.Context, rego.AdmissionRequest) (rego.Result, error) {
		var m map[string]int
		m["boom"]++ //nolint:govet,staticcheck // nilness, SA5000: the nil map write is the point, a real runtime panic whose message the cases check
		return rego.Result{}, nil
	})

	tests := map[string]struct {
		decider      Decider
		failClosed   FailClosed
		wantAllowed  bool
		wantCode     int32
		wantMessage  []string
		wantWarnings []string
		wantReason   string // the evaluation_errors reason counted, if any
	}{
		"without the traffic graph, rules that need it are skipped with a warning": {
			decider:     skipping(breakingChange),
			wantAllowed: true, wantCode: 200,
			wantWarnings: []string{"flowguard: the traffic graph is not loaded yet; not checked against observed flows: breaking-change"},
		},
		"without the traffic graph, failing closed refuses when a skipped rule would deny": {
			decider: skipping(breakingChange), failClosed: FailClosed{WithoutFlows: true},
			wantAllowed: false, wantCode: 403,
			wantMessage: []string{"the traffic graph is not loaded yet, so rules breaking-change cannot check this change"},
		},
		"without the traffic graph, failing closed still admits when skipped rules only warn": {
			decider:     skipping(rego.Rule{ID: "wider-than-observed", Action: rego.ActionWarn, NeedsFlows: true}),
			failClosed:  FailClosed{WithoutFlows: true},
			wantAllowed: true, wantCode: 200,
			wantWarnings: []string{"flowguard: the traffic graph is not loaded yet; not checked against observed flows: wider-than-observed"},
		},
		"a decision past its deadline admits with a warning": {
			decider:     untilDeadline,
			wantAllowed: true, wantCode: 200,
			wantWarnings: []string{"flowguard: rules did not finish within 20ms; admitted unchecked"},
			wantReason:   reasonDeadline,
		},
		"a decision past its deadline is refused when failing closed": {
			decider: untilDeadline, failClosed: FailClosed{OnDeadline: true},
			wantAllowed: false, wantCode: 403,
			wantMessage: []string{"flowguard: rules did not finish within 20ms; refused because flowguard is configured to fail closed"},
			wantReason:  reasonDeadline,
		},
		"a decider that ignores its deadline cannot hold the request": {
			decider:     ignoringContext,
			wantAllowed: true, wantCode: 200,
			wantWarnings: []string{"flowguard: rules did not finish within 20ms; admitted unchecked"},
			wantReason:   reasonDeadline,
		},
		"an evaluation error admits with a warning": {
			decider:     failing,
			wantAllowed: true, wantCode: 200,
			wantWarnings: []string{"flowguard: rule evaluation failed: rule set not loaded; admitted unchecked"},
			wantReason:   reasonError,
		},
		"an evaluation error is refused when failing closed": {
			decider: failing, failClosed: FailClosed{OnError: true},
			wantAllowed: false, wantCode: 403,
			wantMessage: []string{"flowguard: rule evaluation failed: rule set not loaded; refused"},
			wantReason:  reasonError,
		},
		"one rule failing leaves the others' answers standing": {
			decider:     partlyFailing,
			wantAllowed: true, wantCode: 200,
			wantWarnings: []string{
				"[allow-all] ingress rule 0 admits every peer",
				"flowguard: rule breaking-change failed to evaluate: flowguard.impact: object has no spec; admitted unchecked",
			},
			wantReason: reasonError,
		},
		"a panic in the rules becomes a warning, not a crash": {
			decider:     panicking,
			wantAllowed: true, wantCode: 200,
			wantWarnings: []string{"flowguard: rule evaluation failed (internal error: panic: assignment to entry in nil map); admitted unchecked"},
			wantReason:   reasonPanic,
		},
		"a panic in the rules is refused when failing closed": {
			decider: panicking, failClosed: FailClosed{OnError: true},
			wantAllowed: false, wantCode: 403,
			wantMessage: []string{"internal error: panic: assignment to entry in nil map"},
			wantReason:  reasonPanic,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			cfg := DefaultConfig("flowguard-system")
			cfg.Deadline = 20 * time.Millisecond
			cfg.FailClosed = tc.failClosed
			h, m := newTestHandler(t, tc.decider, cfg)
			resp := h.Handle(context.Background(), newRequest(t, gvkNetworkPolicy, admissionv1.Create, narrowPolicy, ""))
			assertResponse(t, resp, tc.wantAllowed, tc.wantCode, tc.wantMessage, tc.wantWarnings)
			for _, reason := range []string{reasonError, reasonDeadline, reasonPanic} {
				want := 0.0
				if reason == tc.wantReason {
					want = 1
				}
				if got := testutil.ToFloat64(m.evalErrors.WithLabelValues(reason)); got != want {
					t.Errorf("evaluation_errors{reason=%s} = %v, want %v", reason, got, want)
				}
			}
		})
	}
}

// A panic anywhere in the handler, not only in the rules, becomes a response.
func TestHandlerPanicInACheckBecomesAnErrorResponse(t *testing.T) {
	tests := map[string]struct {
		failClosed   bool
		wantAllowed  bool
		wantWarnings []string
	}{
		"failing open admits with a warning": {
			wantAllowed:  true,
			wantWarnings: []string{"flowguard could not check this change (internal error: panic: check exploded); admitted unchecked"},
		},
		"failing closed refuses": {failClosed: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			cfg := DefaultConfig("flowguard-system")
			cfg.FailClosed.OnError = tc.failClosed
			h, m := newTestHandler(t, &ruleDecider{}, cfg)
			h.checks = append([]check{func(context.Context, *review) result { panic("check exploded") }}, h.checks...)

			resp := h.Handle(context.Background(), newRequest(t, gvkNetworkPolicy, admissionv1.Create, narrowPolicy, ""))
			assertResponse(t, resp, tc.wantAllowed, 500, []string{"internal error: panic: check exploded"}, tc.wantWarnings)
			if got := testutil.ToFloat64(m.evalErrors.WithLabelValues(reasonPanic)); got != 1 {
				t.Errorf("evaluation_errors{reason=panic} = %v, want 1", got)
			}
			if got := testutil.CollectAndCount(m.duration); got != 1 {
				t.Errorf("a panicked request must still be timed; duration series = %d", got)
			}
		})
	}
}

// A request flowguard cannot decode is its own failure, not the user's: admitted with a warning
// by default, refused with --fail-closed-on-error, and counted either way.
func TestHandlerUndecodableRequestFollowsFailClosedOnError(t *testing.T) {
	tests := map[string]struct {
		failClosed  bool
		wantAllowed bool
		wantWarning []string
	}{
		"admitted with a warning by default":  {wantAllowed: true, wantWarning: []string{"flowguard could not check this change (decode NetworkPolicy api: object: decode metadata:"}},
		"refused with --fail-closed-on-error": {failClosed: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			cfg := DefaultConfig("flowguard-system")
			cfg.FailClosed.OnError = tc.failClosed
			d := &ruleDecider{rules: testRules(), graphLoaded: true}
			h, m := newTestHandler(t, d, cfg)
			req := newRequest(t, gvkNetworkPolicy, admissionv1.Create, narrowPolicy, "")
			req.Object.Raw = []byte(`{"metadata": {"name": "api", "labels": ["not", "a", "map"]}}`)
			resp := h.Handle(context.Background(), req)
			if resp.Allowed != tc.wantAllowed || resp.Result == nil || resp.Result.Code != 500 {
				t.Fatalf("allowed = %v, result %+v; want allowed %v with code 500", resp.Allowed, resp.Result, tc.wantAllowed)
			}
			if !tc.wantAllowed && !strings.Contains(resp.Result.Message, "decode NetworkPolicy") {
				t.Errorf("message = %q, want it to name the decode failure", resp.Result.Message)
			}
			for _, w := range tc.wantWarning {
				if len(resp.Warnings) != 1 || !strings.Contains(resp.Warnings[0], w) {
					t.Errorf("warnings = %q, want one containing %q", resp.Warnings, w)
				}
			}
			if got := testutil.ToFloat64(m.evalErrors.WithLabelValues(reasonError)); got != 1 {
				t.Errorf("evaluation errors counted = %v, want 1", got)
			}
			if len(d.called()) != 0 {
				t.Error("rules ran over an object that did not decode")
			}
		})
	}
}
