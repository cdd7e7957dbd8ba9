package main

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// overloadResult is what the overload step measured on one server: the step at three times
// its saturation rate, then the recovery step at the first fixed rate.
type overloadResult struct {
	over, after outcome
	// rate is the rate offered during overload, afterRate the one of the recovery step.
	rate, afterRate int
	// rssBefore is the resident memory just before overload; rssPeak the highest sampled
	// during overload and recovery.
	rssBefore, rssPeak int64
	// threshold is the p99 the recovery must get back under, and recovery how long after the
	// end of overload it did (every later one-second window at or under threshold); -1 when it
	// never did within the recovery step.
	threshold, recovery time.Duration
}

// overloadRun offers srv three times sat for o.overload, then the recovery step (rate, for
// o.duration): normal is the p99 measured at that rate before, from which the recovery
// threshold is set.
func overloadRun(ctx context.Context, o options, srv *server, reviews []review, sat float64, rate int,
	normal time.Duration, gatekeeper bool, caFile string,
) (overloadResult, error) {
	res := overloadResult{rate: int(3 * sat), afterRate: rate}
	if res.rate < 1 {
		return res, fmt.Errorf("%s: saturation rate %.0f/s is too low to overload", srv.name, sat)
	}
	// Normal latency: twice the p99 at that rate, and at least 5 ms above it, so that one
	// scheduling hiccup on a shared machine does not count as not recovered.
	res.threshold = max(2*normal, normal+5*time.Millisecond)
	var err error
	if res.rssBefore, err = srv.rss(); err != nil {
		return res, err
	}
	peak := srv.sampleRSS(250 * time.Millisecond)
	defer peak()
	over := step{rate: res.rate, duration: o.overload, phase: "overload"}
	if res.over, err = attack(ctx, o, srv, reviews, over, gatekeeper, caFile); err != nil {
		return res, fmt.Errorf("overload at %s: %w", over, err)
	}
	after := step{rate: rate, duration: o.duration, phase: "recovery"}
	if res.after, err = attack(ctx, o, srv, reviews, after, gatekeeper, caFile); err != nil {
		return res, fmt.Errorf("recovery at %s: %w", after, err)
	}
	res.rssPeak = peak()
	res.recovery = recoveryTime(res.after.all, o.timeout, res.threshold)
	return res, nil
}

// recoveryTime is the time from the first request of samples to the start of the first
// one-second window after which every window's p99 is at most threshold; -1 when the last window
// is still above it. A request that failed counts at the timeout.
func recoveryTime(samples []sample, timeout, threshold time.Duration) time.Duration {
	if len(samples) == 0 {
		return -1
	}
	first := samples[0].start
	for _, s := range samples {
		if s.start.Before(first) {
			first = s.start
		}
	}
	var windows [][]time.Duration
	for _, s := range samples {
		i := int(s.start.Sub(first) / time.Second)
		for len(windows) <= i {
			windows = append(windows, nil)
		}
		windows[i] = append(windows[i], min(s.latency, timeout))
	}
	recovered := -1
	for i := len(windows) - 1; i >= 0; i-- {
		w := windows[i]
		if len(w) == 0 {
			continue
		}
		slices.Sort(w)
		if w[min(len(w)-1, len(w)*99/100)] > threshold {
			break
		}
		recovered = i
	}
	if recovered < 0 {
		return -1
	}
	return time.Duration(recovered) * time.Second
}

// rss is the process's resident memory in bytes, from /proc/PID/status.
func (s *server) rss() (int64, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", s.cmd.Process.Pid))
	if err != nil {
		return 0, fmt.Errorf("read %s's memory: %w", s.name, err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			f := strings.Fields(rest)
			if len(f) != 2 || f[1] != "kB" {
				return 0, fmt.Errorf("%s's VmRSS line %q", s.name, line)
			}
			kb, err := strconv.ParseInt(f[0], 10, 64)
			if err != nil {
				return 0, fmt.Errorf("%s's VmRSS: %w", s.name, err)
			}
			return kb << 10, nil
		}
	}
	return 0, fmt.Errorf("%s's /proc status has no VmRSS", s.name)
}

// sampleRSS samples the resident memory every interval until the returned function is called,
// which returns the highest sample (0 when the process could not be read).
func (s *server) sampleRSS(interval time.Duration) func() int64 {
	var (
		mu   sync.Mutex
		peak int64
	)
	done := make(chan struct{})
	var once sync.Once
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			if v, err := s.rss(); err == nil {
				mu.Lock()
				peak = max(peak, v)
				mu.Unlock()
			}
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	return func() int64 {
		once.Do(func() { close(done) })
		<-stopped
		mu.Lock()
		defer mu.Unlock()
		return peak
	}
}

func mib(b int64) string { return fmt.Sprintf("%.0f MiB", float64(b)/(1<<20)) }

// printOverload writes the overload table.
func printOverload(o options, results map[string]overloadResult, order []*server) error {
	tw := newTable(o.out, "server\tstep\tachieved/s\tp50\tp99\tmax\ttimeouts\tother errors\tinvalid\tdegraded\tRSS before\tRSS peak\trecovered after\t")
	for _, t := range order {
		r, ok := results[t.name]
		if !ok {
			continue
		}
		for i, res := range []outcome{r.over, r.after} {
			name := fmt.Sprintf("overload %d/s for %s", r.rate, o.overload)
			rec, before, peak := "", mib(r.rssBefore), mib(r.rssPeak)
			if i == 1 {
				name = fmt.Sprintf("then %d/s", r.afterRate)
				before, peak = "", ""
				switch {
				case r.recovery < 0:
					rec = fmt.Sprintf("not within %s (p99 > %s)", o.duration, ms(r.threshold))
				default:
					rec = fmt.Sprintf("%s (p99 <= %s)", r.recovery, ms(r.threshold))
				}
			}
			// Invalid: no answer in time, or an answer that is neither the verdict nor the
			// documented degraded one.
			fmt.Fprintf(tw, "%s\t%s\t%.0f\t%s\t%s\t%s\t%d\t%d\t%d\t%d\t%s\t%s\t%s\t\n", t.name, name, res.achieved,
				ms(res.p50), ms(res.p99), ms(res.max), res.timeouts, res.transport+res.non2xx, res.wrong-res.uncheckedWrong,
				res.unchecked, before, peak, rec)
		}
	}
	return tw.Flush()
}
