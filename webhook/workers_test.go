package webhook

import (
	"testing"
)

func TestEvalWorkers(t *testing.T) {
	tests := map[string]struct {
		// stuck jobs never finish while the test runs, as a decider that ignores its deadline.
		stuck int
		// wantLive is the number of worker goroutines once one more job has run.
		wantLive int32
	}{
		"the first decision starts a worker":                          {stuck: 0, wantLive: 1},
		"a stuck decision leaves the next to another worker":          {stuck: 1, wantLive: 2},
		"past the bound, decisions still run on their own goroutines": {stuck: maxWorkers, wantLive: maxWorkers},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			w := newEvalWorkers()
			release := make(chan struct{})
			defer close(release)
			started := make(chan struct{})
			for range tc.stuck {
				w.run(func() {
					started <- struct{}{}
					<-release
				})
				<-started
			}
			done := make(chan struct{})
			w.run(func() { close(done) })
			<-done
			if got := w.live.Load(); got != tc.wantLive {
				t.Errorf("live workers = %d, want %d", got, tc.wantLive)
			}
		})
	}
}

// TestEvalWorkerTakesTheNextDecision checks that a worker, its decision done, waits for the
// next one (keeping its grown stack) rather than exiting.
func TestEvalWorkerTakesTheNextDecision(t *testing.T) {
	w := newEvalWorkers()
	done := make(chan int, 1)
	w.run(func() { done <- 1 })
	<-done
	// Only the worker receives on jobs: this send completes only if it is waiting.
	w.jobs <- func() { done <- 2 }
	if got := <-done; got != 2 {
		t.Fatalf("second decision answered %d", got)
	}
	if got := w.live.Load(); got != 1 {
		t.Errorf("live workers = %d, want 1", got)
	}
}
