package webhook

import (
	"context"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	admissionv1 "k8s.io/api/admission/v1"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/flowguard/flowguard/rego"
)

// gate is a decider that holds every decision until released, counting those it started.
type gate struct {
	started chan struct{}
	release chan struct{}
	calls   atomic.Int32
}

func newGate(t *testing.T) *gate {
	g := &gate{started: make(chan struct{}, 16), release: make(chan struct{})}
	t.Cleanup(func() {
		select {
		case <-g.release:
		default:
			close(g.release)
		}
	})
	return g
}

func (g *gate) Admit(context.Context, rego.AdmissionRequest) (rego.Result, error) {
	g.calls.Add(1)
	g.started <- struct{}{}
	<-g.release
	return rego.Result{}, nil
}

func TestHandlerOverload(t *testing.T) {
	tests := map[string]struct {
		failClosed   bool
		wantAllowed  bool
		wantCode     int32
		wantMessage  []string
		wantWarnings []string
	}{
		"a full queue admits at once with a warning": {
			wantAllowed: true, wantCode: 200,
			wantWarnings: []string{"flowguard: overloaded (every decision worker is busy and the queue is full); admitted unchecked"},
		},
		"a full queue refuses at once when failing closed": {
			failClosed:  true,
			wantAllowed: false, wantCode: 403,
			wantMessage: []string{"flowguard: overloaded (every decision worker is busy and the queue is full); refused because flowguard is configured to fail closed"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			g := newGate(t)
			cfg := DefaultConfig("flowguard-system")
			// No decision here reaches its deadline: only the overload answer can come back
			// while the worker is held.
			cfg.Deadline = time.Hour
			cfg.Workers, cfg.Queue = 1, 1
			cfg.FailClosed.OnDeadline = tc.failClosed
			h, m := newTestHandler(t, g, cfg)
			req := newRequest(t, gvkNetworkPolicy, admissionv1.Create, narrowPolicy, "")

			answers := make(chan admission.Response, 2)
			go func() { answers <- h.Handle(context.Background(), req) }()
			<-g.started // the one worker holds the first decision
			go func() { answers <- h.Handle(context.Background(), req) }()
			for len(h.pool.jobs) == 0 { // the second waits in the queue
				runtime.Gosched()
			}

			resp := h.Handle(context.Background(), req)
			assertResponse(t, resp, tc.wantAllowed, tc.wantCode, tc.wantMessage, tc.wantWarnings)
			if got := testutil.ToFloat64(m.evalErrors.WithLabelValues(reasonOverload)); got != 1 {
				t.Errorf("evaluation_errors{reason=overload} = %v, want 1", got)
			}

			close(g.release)
			for range 2 {
				assertResponse(t, <-answers, true, 200, nil, nil)
			}
			if got := g.calls.Load(); got != 2 {
				t.Errorf("decisions started = %d, want 2 (the turned-away one never runs)", got)
			}
		})
	}
}

// TestHandlerDropsAbandonedQueuedDecisions checks that a decision whose request gave up while
// it waited in the queue is never started: under overload, work nobody waits for would only
// delay the answers somebody does.
func TestHandlerDropsAbandonedQueuedDecisions(t *testing.T) {
	g := newGate(t)
	cfg := DefaultConfig("flowguard-system")
	cfg.Deadline = 20 * time.Millisecond
	cfg.Workers, cfg.Queue = 1, 1
	h, m := newTestHandler(t, g, cfg)
	req := newRequest(t, gvkNetworkPolicy, admissionv1.Create, narrowPolicy, "")

	first := make(chan admission.Response, 1)
	go func() { first <- h.Handle(context.Background(), req) }()
	<-g.started
	// The first decision ignores its deadline; the second waits behind it past its own.
	resp := h.Handle(context.Background(), req)
	assertResponse(t, resp, true, 200, nil, []string{"flowguard: rules did not finish within 20ms; admitted unchecked"})
	<-first // answered at its deadline too

	close(g.release)
	// The worker, freed, takes the queued job and must drop it. A third decision queued after
	// it runs only once the worker is past the second, so its start proves the second was seen.
	h.cfg.Deadline = time.Hour
	for len(h.pool.jobs) > 0 { // the worker has taken the second job off the queue
		runtime.Gosched()
	}
	third := make(chan admission.Response, 1)
	go func() { third <- h.Handle(context.Background(), req) }()
	<-g.started
	assertResponse(t, <-third, true, 200, nil, nil)
	if got := g.calls.Load(); got != 2 {
		t.Errorf("decisions started = %d, want 2 (the abandoned one dropped)", got)
	}
	if got := testutil.ToFloat64(m.evalErrors.WithLabelValues(reasonDeadline)); got != 2 {
		t.Errorf("evaluation_errors{reason=deadline} = %v, want 2", got)
	}
}

// TestEvalPoolKeepsItsWorkers checks that the pool starts no more than its workers, and that a
// worker, its decision done, takes the next one (keeping its grown stack) rather than exiting.
func TestEvalPoolKeepsItsWorkers(t *testing.T) {
	p := newEvalPool(2, 4)
	done := make(chan int, 8)
	for i := range 8 {
		for !p.submit(func() { done <- i }) {
			runtime.Gosched() // queue full for a moment: wait, as no request here may be turned away
		}
	}
	seen := 0
	for range 8 {
		seen += <-done
	}
	if seen != 0+1+2+3+4+5+6+7 {
		t.Errorf("jobs run sum = %d, want every job once", seen)
	}
	if got := p.started.Load(); got != 2 {
		t.Errorf("workers started = %d, want 2", got)
	}
}

// TestEvalPoolStops checks that stop ends every worker and that the pool then takes no job,
// so a closed handler leaves no goroutine behind.
func TestEvalPoolStops(t *testing.T) {
	p := newEvalPool(3, 4)
	done := make(chan struct{}, 3)
	for range 3 {
		if !p.submit(func() { done <- struct{}{} }) {
			t.Fatal("an idle pool turned a job away")
		}
	}
	for range 3 {
		<-done
	}
	p.stop()
	p.running.Wait() // hangs, failing the test at its timeout, if a worker outlives stop
	if p.submit(func() { t.Error("a stopped pool ran a job") }) {
		t.Error("a stopped pool took a job")
	}
	p.stop() // a second stop is harmless
}
