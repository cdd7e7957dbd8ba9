package webhook

import (
	"sync/atomic"
	"time"
)

const (
	// maxWorkers bounds the goroutines kept for decisions; past it each decision gets a fresh
	// goroutine, as it would without workers.
	maxWorkers = 64
	// workerIdle is how long a worker waits for the next decision before it exits, so that a
	// quiet webhook holds none.
	workerIdle = 30 * time.Second
)

// evalWorkers runs decisions on goroutines kept from one request to the next. Rule evaluation
// recurses deeply: a fresh goroutine starts with a small stack and copies it several times as
// it grows, which under load cost about a tenth of the webhook's CPU. A worker keeps its grown
// stack for the next decision.
type evalWorkers struct {
	jobs chan func()
	live atomic.Int32
}

func newEvalWorkers() *evalWorkers {
	return &evalWorkers{jobs: make(chan func())}
}

// run starts job on an idle worker, on a new worker while there are fewer than maxWorkers, or
// else on a goroutine of its own (every worker busy, or held by a decider that ignores its
// deadline). job must not panic: admit recovers inside it.
func (w *evalWorkers) run(job func()) {
	select {
	case w.jobs <- job:
		return
	default:
	}
	if w.live.Add(1) <= maxWorkers {
		go w.work(job)
		return
	}
	w.live.Add(-1)
	go job()
}

func (w *evalWorkers) work(job func()) {
	defer w.live.Add(-1)
	idle := time.NewTimer(workerIdle)
	defer idle.Stop()
	for {
		job()
		idle.Reset(workerIdle)
		select {
		case job = <-w.jobs:
		case <-idle.C:
			return
		}
	}
}
