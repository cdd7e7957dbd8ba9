package webhook

import (
	"sync"
	"sync/atomic"
)

// evalPool runs decisions on a fixed number of workers fed by a bounded queue, so that load
// past what the machine can decide is turned away at once instead of piling up goroutines and
// stretching every answer towards its deadline.
//
// Workers are started as decisions arrive, up to the bound, and then kept until stop: rule
// evaluation recurses deeply, and a fresh goroutine per decision grew and copied its stack
// several times (about a tenth of the webhook's CPU under load), while a kept worker keeps its
// grown stack.
type evalPool struct {
	jobs     chan func()
	workers  int32
	started  atomic.Int32
	done     chan struct{}
	stopOnce sync.Once
	// running counts the workers still running, for tests to see them end.
	running sync.WaitGroup
}

func newEvalPool(workers, queue int) *evalPool {
	return &evalPool{jobs: make(chan func(), queue), workers: int32(workers), done: make(chan struct{})}
}

// submit queues job for a worker and reports whether it was taken: false when every worker is
// busy and the queue is full, or the pool is stopped. job must not panic: admit recovers inside
// it.
func (p *evalPool) submit(job func()) bool {
	select {
	case <-p.done:
		return false
	default:
	}
	if n := p.started.Load(); n < p.workers && p.started.CompareAndSwap(n, n+1) {
		p.running.Add(1)
		go p.work()
	}
	select {
	case p.jobs <- job:
		return true
	default:
		return false
	}
}

func (p *evalPool) work() {
	defer p.running.Done()
	for {
		select {
		case job := <-p.jobs:
			job()
		case <-p.done:
			return
		}
	}
}

// stop ends the workers: each exits once its current decision returns (one that ignores its
// deadline may hold a worker longer; stop does not wait for it). Decisions still queued are not
// run; whoever waits for them answers at its deadline.
func (p *evalPool) stop() {
	p.stopOnce.Do(func() { close(p.done) })
}
