package replica

import (
	"context"
	"fmt"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/utils/clock"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/flowguard/flowguard/flows"
	"github.com/flowguard/flowguard/flows/goldmane"
	"github.com/flowguard/flowguard/flows/observed"
)

// trafficLeader is the elected replica's part of the traffic pipeline: it ingests from every
// configured source into the graph and writes the graph to the ObservedTraffic shards.
//
// Goldmane streaming resumes where the shards end: before each write cycle the client's
// watermark (the newest window end delivered) is noted, and once the cycle has written the
// shards without error it is saved (goldmaneResume). A new leader, after a failover or a restart
// of every pod, seeds its graph from the shards and asks Goldmane only for windows from that
// point on; the windows Goldmane replays (or Felix re-sends to a restarted Goldmane) are thus not
// counted twice. A window that was being delivered while the watermark was noted may be lost on
// failover: the client's resume is at most once.
type trafficLeader struct {
	graph    *flows.Graph
	syncer   *observed.Syncer
	clock    clock.Clock
	interval time.Duration
	metrics  *trafficMetrics

	goldmane         *goldmane.Options // nil: Goldmane is not a source
	resume           *goldmaneResume
	goldmaneObserver flows.Observer

	flowLogs     []string
	fileObserver flows.Observer

	ingest *flows.Ingest // nil: no HTTP ingest
	gate   *ingestGate

	mu     sync.Mutex
	client *goldmane.Client
	// noted is the watermark noted before the current write cycle; written is the one that the
	// last successful cycle covers, not yet saved.
	noted, written time.Time
	lastOK         bool
}

// lead is the traffic pipeline's leaderWork: it ingests and writes until ctx (the term's stop)
// ends, then stops the sources, applies what they accepted and, while the lease is still held,
// writes the shards a last time. A replica that lost the lease writes nothing more: held has
// ended, and the fenced client refuses the write anyway. Either way the graph then follows the
// shards again, which the next leader writes.
func (l *trafficLeader) lead(ctx, held context.Context) error {
	log := logf.FromContext(ctx).WithName("traffic")
	// Shards applied after ingestion began would replace the records counted since.
	if err := wait.PollUntilContextCancel(ctx, 100*time.Millisecond, true, func(context.Context) (bool, error) {
		return l.syncer.Seeded(), nil
	}); err != nil {
		return nil
	}
	l.metrics.leader.Set(1)
	defer l.metrics.leader.Set(0)
	// Nothing learned yet: a followed file is read from its start rather than its end.
	fresh := l.graph.Stats().Edges == 0
	if l.goldmane != nil {
		if err := l.startGoldmane(ctx); err != nil {
			if ctx.Err() != nil {
				return nil // stopped before Goldmane's resume point could be read
			}
			return err
		}
	}
	l.note()

	writer := make(chan struct{})
	go func() {
		defer close(writer)
		if err := l.syncer.Start(ctx); err != nil {
			log.Error(err, "Writing ObservedTraffic stopped")
		}
	}()
	var sources sync.WaitGroup
	if l.client != nil {
		sources.Go(func() {
			if err := l.client.Run(ctx); err != nil {
				log.Error(err, "Goldmane streaming stopped")
			}
		})
	}
	for _, path := range l.flowLogs {
		sources.Go(func() { l.follow(ctx, path, fresh) })
	}
	ingestCtx, stopIngest := context.WithCancel(context.WithoutCancel(ctx))
	ingested := make(chan struct{})
	if l.ingest != nil {
		go func() {
			defer close(ingested)
			_ = l.ingest.Run(ingestCtx)
		}()
		l.gate.setOpen(true)
	} else {
		close(ingested)
	}
	log.Info("Ingesting flows as the elected replica", "goldmane", l.client != nil, "flowLogs", l.flowLogs, "httpIngest", l.ingest != nil, "edges", l.graph.Stats().Edges)

	<-ctx.Done()
	// Refuse new requests and wait for those in flight, whose batches are then queued; Run
	// applies the queue before it returns.
	if l.gate != nil {
		l.gate.setOpen(false)
	}
	stopIngest()
	<-ingested
	sources.Wait()
	<-writer
	defer l.syncer.Follow(context.WithoutCancel(held))
	if held.Err() != nil {
		log.Info("Lost the lease: flows since the last write of ObservedTraffic are left to the next leader")
		return nil
	}

	final, cancel := context.WithTimeout(held, finalSyncTimeout)
	defer cancel()
	l.note()
	if err := l.syncer.SyncOnce(final); err != nil {
		log.Error(err, "Writing ObservedTraffic before stepping down failed; flows since the last write are lost")
		return nil
	}
	if err := l.saveResume(final); err != nil {
		log.Error(err, "Saving Goldmane's resume point before stepping down failed")
	}
	return nil
}

// startGoldmane reads where the last leader's shards end and creates the client from there.
// It retries reading until ctx ends: starting from nothing would count again every window
// Goldmane still holds.
func (l *trafficLeader) startGoldmane(ctx context.Context) error {
	log := logf.FromContext(ctx)
	var since time.Time
	err := wait.PollUntilContextCancel(ctx, 2*time.Second, true, func(ctx context.Context) (bool, error) {
		var err error
		if since, err = l.resume.load(ctx); err != nil {
			log.Error(err, "Reading Goldmane's resume point failed; retrying")
			return false, nil
		}
		return true, nil
	})
	if err != nil {
		return err
	}
	opts := *l.goldmane
	opts.Since = since
	client, err := goldmane.New(opts, l.deliverGoldmane)
	if err != nil {
		return err
	}
	l.mu.Lock()
	l.client = client
	l.mu.Unlock()
	log.Info("Streaming flows from Goldmane", "address", opts.Address, "since", since)
	return nil
}

func (l *trafficLeader) deliverGoldmane(_ context.Context, rec flows.Record) error {
	l.graph.Add(&rec)
	if l.goldmaneObserver != nil {
		l.goldmaneObserver.ObserveAccepted(1)
	}
	return nil
}

// follow tails one flow-log file until ctx ends; a file that cannot be read is retried.
func (l *trafficLeader) follow(ctx context.Context, path string, fromStart bool) {
	log := logf.FromContext(ctx).WithValues("path", path)
	app := l.graph.NewAppender(0)
	reader := flows.NewReader(&flows.Tally{})
	reader.Observer = l.fileObserver
	for {
		f := &flows.Follower{Path: path, Reader: reader, FromStart: fromStart,
			Wait: flows.PollEvery(l.clock, flowLogPoll),
			Idle: func() error { app.Flush(); return nil }}
		err := f.Run(ctx, app.Add)
		app.Flush()
		if ctx.Err() != nil {
			return
		}
		log.Error(err, "Following the flow log failed; retrying")
		// A retried file is joined at its end: the lines read before the failure must not be
		// counted twice.
		fromStart = false
		select {
		case <-ctx.Done():
			return
		case <-l.clock.After(10 * flowLogPoll):
		}
	}
}

// note records the Goldmane watermark the next write cycle covers: everything delivered up to
// it is in the graph the cycle reads.
func (l *trafficLeader) note() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.client != nil {
		l.noted = l.client.Stats().Watermark
	}
}

// synced is the Syncer's OnSynced: it counts the cycle and, when the shards were all written,
// marks the noted watermark for saving.
func (l *trafficLeader) synced(res observed.SyncResult, err error) {
	l.metrics.synced(res, err, l.clock.Now())
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lastOK = err == nil
	if l.lastOK {
		l.written = l.noted
	}
}

// waitCycle is the Syncer's Wait: it saves the resume point the last cycle made safe, waits for
// the next cycle and notes the watermark it will cover.
func (l *trafficLeader) waitCycle(ctx context.Context) error {
	if err := l.saveResume(ctx); err != nil && ctx.Err() == nil {
		logf.FromContext(ctx).Error(err, "Saving Goldmane's resume point failed; retrying after the next write")
	}
	if err := flows.PollEvery(l.clock, l.interval)(ctx); err != nil {
		return err
	}
	l.note()
	return nil
}

func (l *trafficLeader) saveResume(ctx context.Context) error {
	if l.resume == nil {
		return nil
	}
	l.mu.Lock()
	w, ok := l.written, l.lastOK
	l.mu.Unlock()
	if !ok || w.IsZero() {
		return nil
	}
	if err := l.resume.save(ctx, w); err != nil {
		return fmt.Errorf("save Goldmane resume point %s: %w", w.Format(time.RFC3339), err)
	}
	return nil
}

// goldmaneStats reads the running client's counters for the metrics; false when there is none.
func (l *trafficLeader) goldmaneStats() (goldmane.Stats, bool) {
	l.mu.Lock()
	c := l.client
	l.mu.Unlock()
	if c == nil {
		return goldmane.Stats{}, false
	}
	return c.Stats(), true
}
