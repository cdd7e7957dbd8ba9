package goldmane

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/keepalive"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/flowguard/flowguard/flows"
	pb "github.com/flowguard/flowguard/flows/goldmane/proto"
)

// Sink receives each record once. It may block to push back on the stream; an error stops Run.
type Sink func(ctx context.Context, rec flows.Record) error

// Options configure a Client. Address and the three TLS files are required.
type Options struct {
	// Address is Goldmane's host:port, e.g. "goldmane.calico-system.svc:7443", or any gRPC
	// target ("dns:///...", "passthrough:///...").
	Address string
	// CAFile verifies the server; CertFile and KeyFile are the client's certificate (Goldmane
	// requires one signed by the CA it trusts). They are re-read when they change.
	CAFile, CertFile, KeyFile string
	// ServerName is the name the server certificate must carry; empty means Address's host.
	ServerName string

	// Since skips flows that start before it; zero takes all the server holds. Passing a previous
	// client's Stats().Watermark resumes without delivering any window twice.
	Since time.Time
	// PageSize is the number of flows per List page; zero means DefaultPageSize.
	PageSize int
	// Interval is the server's aggregation window (Goldmane's AGGREGATION_WINDOW); zero means 15s.
	Interval time.Duration
	// History is how far back a reconnecting stream may ask; zero means DefaultHistory. Goldmane
	// keeps 242 windows (about an hour at 15s); asking for more than it holds backfills nothing.
	History time.Duration

	// Backoff paces reconnection; a zero Duration means 500ms doubling up to a 30s Cap, with 20%
	// jitter. Steps is ignored: the client retries until its context ends, waiting at most Cap.
	Backoff wait.Backoff
	// Clock drives backoff and the choice of time windows; nil means the real clock.
	Clock clock.Clock
	// Tally counts delivered and malformed flows; nil means a private one, read through Stats.
	Tally *flows.Tally
	// DialOptions are added to the client's own, after them.
	DialOptions []grpc.DialOption
}

// Defaults for Options.
const (
	DefaultPageSize = 500
	DefaultHistory  = 55 * time.Minute
	defaultInterval = 15 * time.Second
)

// defaultBackoff is Options.Backoff's default.
func defaultBackoff() wait.Backoff {
	return wait.Backoff{Duration: 500 * time.Millisecond, Factor: 2, Jitter: 0.2, Cap: 30 * time.Second}
}

// Stats describe what a Client has done so far.
type Stats struct {
	// Flows counts delivered and malformed flows by reason.
	Flows flows.TallyReport
	// Duplicates counts results dropped because their window was already delivered.
	Duplicates uint64
	// Overlaps counts results delivered although part of their window had been delivered.
	Overlaps uint64
	// Sessions counts connections that were attempted; Failures those that ended in error.
	Sessions, Failures uint64
	// Gaps counts reconnects after an outage longer than History: flows of the gap are lost.
	Gaps uint64
	// Watermark is the newest end time delivered (or Options.Since). A new client given it as
	// Since delivers nothing this one delivered.
	Watermark time.Time
}

// Client follows one Goldmane server. Create it with New and call Run once.
type Client struct {
	opts  Options
	sink  Sink
	files *tlsFiles
	conv  Converter

	// mu guards the state shared with Stats; Run's goroutine is its only writer.
	mu         sync.Mutex
	track      *tracker
	listUntil  int64 // the cut-off between List and Stream; 0 until the first List starts
	listed     bool
	dups, ovls uint64
	sessions   uint64
	failures   uint64
	gaps       uint64
	lastPrune  time.Time
}

// New checks opts and returns a client that delivers to sink.
func New(opts Options, sink Sink) (*Client, error) {
	switch {
	case opts.Address == "":
		return nil, errors.New("goldmane client: Address is required")
	case opts.CAFile == "" || opts.CertFile == "" || opts.KeyFile == "":
		return nil, errors.New("goldmane client: CAFile, CertFile and KeyFile are required (Goldmane requires mutual TLS)")
	case sink == nil:
		return nil, errors.New("goldmane client: a sink is required")
	case opts.PageSize < 0 || opts.Interval < 0 || opts.History < 0:
		return nil, errors.New("goldmane client: PageSize, Interval and History must not be negative")
	}
	if opts.PageSize == 0 {
		opts.PageSize = DefaultPageSize
	}
	if opts.Interval == 0 {
		opts.Interval = defaultInterval
	}
	if opts.History == 0 {
		opts.History = DefaultHistory
	}
	if opts.Backoff.Duration <= 0 {
		opts.Backoff = defaultBackoff()
	}
	if opts.Backoff.Cap <= 0 {
		opts.Backoff.Cap = defaultBackoff().Cap
	}
	if opts.Clock == nil {
		opts.Clock = clock.RealClock{}
	}
	if opts.Tally == nil {
		opts.Tally = &flows.Tally{}
	}
	var since int64
	if !opts.Since.IsZero() {
		since = opts.Since.Unix()
	}
	return &Client{
		opts:  opts,
		sink:  sink,
		files: &tlsFiles{ca: opts.CAFile, cert: opts.CertFile, key: opts.KeyFile},
		track: newTracker(since),
	}, nil
}

// Stats returns a snapshot of the client's counters.
func (c *Client) Stats() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := Stats{
		Flows:      c.opts.Tally.Report(),
		Duplicates: c.dups,
		Overlaps:   c.ovls,
		Sessions:   c.sessions,
		Failures:   c.failures,
		Gaps:       c.gaps,
	}
	if c.track.watermark > 0 {
		s.Watermark = time.Unix(c.track.watermark, 0).UTC()
	}
	return s
}

// sinkError marks errors returned by the sink, which end Run.
type sinkError struct{ err error }

func (e *sinkError) Error() string { return "deliver Goldmane flow: " + e.err.Error() }
func (e *sinkError) Unwrap() error { return e.err }

// Run follows the server until ctx ends, then returns nil; it returns early only with the error
// of a failed sink. Connection failures are logged and retried with backoff.
func (c *Client) Run(ctx context.Context) error {
	logger := log.FromContext(ctx).WithValues("goldmane", c.opts.Address)
	ctx = log.IntoContext(ctx, logger)
	bo := c.opts.Backoff
	bo.Steps = 1 << 30
	for {
		start := c.opts.Clock.Now()
		progressed, err := c.session(ctx)
		if ctx.Err() != nil {
			return nil
		}
		var se *sinkError
		if errors.As(err, &se) {
			return err
		}
		c.mu.Lock()
		c.failures++
		c.mu.Unlock()
		// A session that delivered, or stayed up longer than the longest wait, was healthy: the
		// next failure starts the backoff over.
		if progressed || c.opts.Clock.Since(start) >= bo.Cap {
			bo = c.opts.Backoff
			bo.Steps = 1 << 30
		}
		delay := bo.Step()
		logger.Info("Goldmane connection failed; reconnecting", "after", delay, "error", err.Error())
		select {
		case <-ctx.Done():
			return nil
		case <-c.opts.Clock.After(delay):
		}
	}
}

// session makes one connection: List (until the first List completes), then Stream until it
// breaks. It reports whether anything was received.
func (c *Client) session(ctx context.Context) (progressed bool, err error) {
	c.mu.Lock()
	c.sessions++
	c.mu.Unlock()
	// A fresh connection per session makes every reconnect a new TLS handshake, which picks up
	// rotated certificates.
	conn, err := grpc.NewClient(c.opts.Address, c.dialOptions()...)
	if err != nil {
		return false, fmt.Errorf("dial Goldmane at %s: %w", c.opts.Address, err)
	}
	defer conn.Close()
	api := pb.NewFlowsClient(conn)
	if !c.listed {
		n, err := c.list(ctx, api)
		if err != nil {
			return n > 0, err
		}
		progressed = n > 0
	}
	n, err := c.stream(ctx, api)
	return progressed || n > 0, err
}

func (c *Client) dialOptions() []grpc.DialOption {
	cp := grpc.ConnectParams{
		Backoff: backoff.Config{
			BaseDelay:  c.opts.Backoff.Duration,
			Multiplier: max(c.opts.Backoff.Factor, 1),
			Jitter:     c.opts.Backoff.Jitter,
			MaxDelay:   c.opts.Backoff.Cap,
		},
		MinConnectTimeout: 20 * time.Second,
	}
	opts := []grpc.DialOption{
		grpc.WithTransportCredentials(reloadingCreds{files: c.files}),
		grpc.WithConnectParams(cp),
		// Goldmane's gRPC server refuses pings more often than every 5 minutes.
		grpc.WithKeepaliveParams(keepalive.ClientParameters{Time: 5 * time.Minute, Timeout: 20 * time.Second}),
	}
	if c.opts.ServerName != "" {
		// gRPC verifies the server certificate against the authority, not tls.Config.ServerName.
		opts = append(opts, grpc.WithAuthority(c.opts.ServerName))
	}
	return append(opts, c.opts.DialOptions...)
}

// deliver judges, converts and hands on one result. It returns a *sinkError if the sink failed.
func (c *Client) deliver(ctx context.Context, res *pb.FlowResult, at flows.Location, streamed bool) error {
	f := res.GetFlow()
	if f == nil || f.Key == nil {
		c.opts.Tally.Malformed(ctx, flows.ReasonMissing, at, errors.New("result has no flow key"))
		return nil
	}
	c.mu.Lock()
	v := c.track.judge(f)
	switch v {
	case duplicate:
		c.dups++
		c.mu.Unlock()
		return nil
	case overlap:
		c.ovls++
	}
	c.mu.Unlock()
	rec, err := c.conv.Convert(f)
	if err == nil {
		if err := c.sink(ctx, rec); err != nil {
			return &sinkError{err: err}
		}
	}
	// A refused flow is recorded too, so that a replay of it is not counted again.
	c.mu.Lock()
	c.track.record(f, streamed)
	c.mu.Unlock()
	if err == nil {
		c.opts.Tally.Accepted(1)
		return nil
	}
	reason := flows.ReasonValue
	var pe *flows.ParseError
	if errors.As(err, &pe) {
		reason = pe.Reason
	}
	c.opts.Tally.Malformed(ctx, reason, at, err)
	return nil
}

// alignedNow returns the start of the server window holding the clock's now.
func (c *Client) alignedNow() int64 {
	iv := int64(c.opts.Interval / time.Second)
	if iv < 1 {
		iv = 1
	}
	now := c.opts.Clock.Now().Unix()
	return now - now%iv
}

func isEOF(err error) bool { return errors.Is(err, io.EOF) }
