package webhooktest

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	admissionv1 "k8s.io/api/admission/v1"
)

// LoadResult is what one load run measured.
type LoadResult struct {
	// Sent and Errors count requests; an error is a transport failure, a non-200 answer or a
	// response Check refused.
	Sent, Errors int
	// Dropped counts requests of an open-loop run that were never sent because the target fell
	// more than the grace period behind the schedule: the rate was not sustained.
	Dropped int
	// FirstError is the first error seen, for the report.
	FirstError error
	// Elapsed is the wall time of the run.
	Elapsed time.Duration
	// Latencies are sorted. In an open-loop run each is measured from the moment the request
	// was due, not from when a worker got round to sending it, so a generator that falls behind
	// shows up as latency instead of hiding it (coordinated omission).
	Latencies []time.Duration
}

// Throughput is completed requests per second.
func (r LoadResult) Throughput() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Sent) / r.Elapsed.Seconds()
}

// Quantile returns the q-quantile (0..1) of the latencies.
func (r LoadResult) Quantile(q float64) time.Duration {
	if len(r.Latencies) == 0 {
		return 0
	}
	i := int(q * float64(len(r.Latencies)-1))
	return r.Latencies[i]
}

// Load describes a run: Bodies are sent in turn, Check judges each response.
type Load struct {
	Client *Client
	Bodies [][]byte
	// Check returns an error when the response to Bodies[i] is not the expected one.
	Check func(i int, resp *admissionv1.AdmissionResponse) error
	// Workers is the number of concurrent senders, each with its own kept-alive connection.
	Workers int
}

// AtRate sends rate requests per second for d, open loop: requests are due on a fixed
// schedule whatever the answers' speed. A target that cannot keep up is not waited for past
// d plus a grace of 10% (at least a second): what was not sent by then is counted as dropped.
func (l *Load) AtRate(ctx context.Context, rate int, d time.Duration) LoadResult {
	stopAt := time.Now().Add(d + max(d/10, time.Second))
	n := int(float64(rate) * d.Seconds())
	interval := time.Second / time.Duration(rate)
	due := make(chan time.Time, l.Workers)
	rec := NewRecorder(n)
	var wg sync.WaitGroup
	start := time.Now()
	for range l.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for at := range due {
				i := rec.next()
				resp, err := l.Client.Send(l.Bodies[i%len(l.Bodies)])
				rec.Record(time.Since(at), l.judge(i, resp, err))
			}
		}()
	}
	for i := range n {
		at := start.Add(time.Duration(i) * interval)
		if wait := time.Until(at); wait > 0 {
			select {
			case <-ctx.Done():
			case <-time.After(wait):
			}
		}
		if ctx.Err() != nil || time.Now().After(stopAt) {
			break
		}
		select {
		case due <- at:
		case <-time.After(time.Until(stopAt)):
		}
	}
	close(due)
	wg.Wait()
	res := rec.Result(time.Since(start))
	res.Dropped = n - res.Sent
	return res
}

// Saturate sends as fast as Workers senders can for d, closed loop: each sends its next
// request when the previous one is answered.
func (l *Load) Saturate(ctx context.Context, d time.Duration) LoadResult {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	rec := NewRecorder(1 << 16)
	var wg sync.WaitGroup
	start := time.Now()
	for range l.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				i := rec.next()
				t := time.Now()
				resp, err := l.Client.Send(l.Bodies[i%len(l.Bodies)])
				rec.Record(time.Since(t), l.judge(i, resp, err))
			}
		}()
	}
	wg.Wait()
	return rec.Result(time.Since(start))
}

func (l *Load) judge(i int, resp *admissionv1.AdmissionResponse, err error) error {
	if err != nil || l.Check == nil {
		return err
	}
	return l.Check(i%len(l.Bodies), resp)
}

// Recorder collects latencies from many goroutines.
type Recorder struct {
	seq       atomic.Int64
	mu        sync.Mutex
	latencies []time.Duration
	errors    int
	first     error
}

// NewRecorder returns a recorder sized for about capacity samples.
func NewRecorder(capacity int) *Recorder {
	return &Recorder{latencies: make([]time.Duration, 0, capacity)}
}

func (r *Recorder) next() int { return int(r.seq.Add(1) - 1) }

// Record adds one sample and its error, if any.
func (r *Recorder) Record(d time.Duration, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.latencies = append(r.latencies, d)
	if err != nil {
		r.errors++
		if r.first == nil {
			r.first = err
		}
	}
}

// Result returns the samples so far, sorted, as a run that lasted elapsed.
func (r *Recorder) Result(elapsed time.Duration) LoadResult {
	r.mu.Lock()
	defer r.mu.Unlock()
	slices.Sort(r.latencies)
	return LoadResult{Sent: len(r.latencies), Errors: r.errors, FirstError: r.first, Elapsed: elapsed, Latencies: r.latencies}
}
