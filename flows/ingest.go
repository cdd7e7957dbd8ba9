package flows

import (
	"compress/gzip"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	logf "sigs.k8s.io/controller-runtime/pkg/log"
)

// Defaults of IngestOptions.
const (
	DefaultIngestMaxBody = 8 << 20
	DefaultIngestQueue   = 16
	DefaultRetryAfter    = 5 * time.Second
)

// BatchSink receives parsed batches; *Graph is one.
type BatchSink interface {
	AddBatch([]Record) int
}

// IngestOptions configure the HTTP ingest handler. At least one way to authenticate must be
// set: the handler refuses to be built open.
type IngestOptions struct {
	// Token is accepted as "Authorization: Bearer <token>". The caller reads it from a Secret;
	// SetToken replaces it when the Secret changes.
	Token []byte
	// ClientCerts accepts requests that arrived over TLS with a client certificate the server
	// verified (its tls.Config must set ClientAuth to VerifyClientCertIfGiven or stricter, with
	// ClientCAs).
	ClientCerts bool
	// ClientNames, if set, narrows ClientCerts to leaf certificates whose common name or a DNS
	// name is listed.
	ClientNames []string
	// MaxBodyBytes bounds a request body, after decompression; larger bodies get 413 and none
	// of their records is kept, since the sender will split and resend them.
	MaxBodyBytes int64
	// MaxLineBytes bounds one record's line.
	MaxLineBytes int
	// Queue is how many batches may be parsed or waiting for the sink at once; beyond it the
	// handler answers 429 with Retry-After instead of buffering.
	Queue int
	// RetryAfter is the delay suggested with 429.
	RetryAfter time.Duration
	// Metrics, if set, counts records, refusals and responses.
	Metrics *Metrics
	// Tally, if set, also receives the counts, with request locations.
	Tally *Tally
}

// Ingest is an http.Handler for NDJSON batches of flow records: Calico flow-log records (what
// fluent-bit's json_lines and fluentd's http output send) and Goldmane Flows as its emitter
// encodes them, detected line by line. Bodies may be gzip-encoded. Malformed lines are counted
// and skipped; the good lines of the same body are kept. Run must be running to apply batches.
type Ingest struct {
	opts     IngestOptions
	sink     BatchSink
	token    atomic.Pointer[[sha256.Size]byte]
	slots    chan struct{}
	queue    chan []Record
	parsers  sync.Pool
	observer Observer
}

// NewIngest returns the handler; batches go to sink once Run is started.
func NewIngest(opts IngestOptions, sink BatchSink) (*Ingest, error) {
	if len(opts.Token) == 0 && !opts.ClientCerts {
		return nil, errors.New("new flow ingest handler: neither a bearer token nor client certificates are configured")
	}
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = DefaultIngestMaxBody
	}
	if opts.Queue <= 0 {
		opts.Queue = DefaultIngestQueue
	}
	if opts.RetryAfter <= 0 {
		opts.RetryAfter = DefaultRetryAfter
	}
	h := &Ingest{
		opts:     opts,
		sink:     sink,
		slots:    make(chan struct{}, opts.Queue),
		queue:    make(chan []Record, opts.Queue),
		observer: opts.Metrics.Observer("http"),
	}
	h.parsers.New = func() any { return NewParser() }
	h.SetToken(opts.Token)
	return h, nil
}

// SetToken replaces the accepted bearer token; an empty token disables token authentication.
func (h *Ingest) SetToken(token []byte) {
	if len(token) == 0 {
		h.token.Store(nil)
		return
	}
	sum := sha256.Sum256(token)
	h.token.Store(&sum)
}

// Run applies queued batches to the sink until ctx ends, then applies the batches already
// queued: each was answered 200, so its sender will not send it again. It has the shape of a
// controller-runtime Runnable's Start. Stop routing requests to the handler before ending ctx,
// or a request answered after Run returned is queued and never applied.
func (h *Ingest) Run(ctx context.Context) error {
	for {
		select {
		case <-ctx.Done():
			for {
				select {
				case batch := <-h.queue:
					h.apply(batch)
				default:
					return nil
				}
			}
		case batch := <-h.queue:
			h.apply(batch)
		}
	}
}

func (h *Ingest) apply(batch []Record) {
	h.sink.AddBatch(batch)
	<-h.slots
}

// ingestResponse is the body of a 200: how many lines were kept and refused, by reason.
type ingestResponse struct {
	Accepted  int            `json:"accepted"`
	Malformed map[Reason]int `json:"malformed,omitempty"`
}

func (h *Ingest) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	code := h.serve(w, r)
	h.opts.Metrics.request(code)
}

func (h *Ingest) serve(w http.ResponseWriter, r *http.Request) int {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		return httpError(w, http.StatusMethodNotAllowed, "use POST")
	}
	if !h.authenticated(r) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="flowguard"`)
		return httpError(w, http.StatusUnauthorized, "a valid bearer token or client certificate is required")
	}
	// Take a queue slot before reading the body: when the sink falls behind, senders are told
	// to come back later and no memory is spent on their bodies.
	select {
	case h.slots <- struct{}{}:
	default:
		w.Header().Set("Retry-After", strconv.Itoa(int((h.opts.RetryAfter+time.Second-1)/time.Second)))
		return httpError(w, http.StatusTooManyRequests, "flow ingest queue is full")
	}
	queued := false
	defer func() {
		if !queued {
			<-h.slots
		}
	}()

	body := io.Reader(http.MaxBytesReader(w, r.Body, h.opts.MaxBodyBytes))
	switch enc := strings.ToLower(r.Header.Get("Content-Encoding")); enc {
	case "", "identity":
	case "gzip":
		zr, err := gzip.NewReader(body)
		if err != nil {
			if tooLarge(err) {
				return httpError(w, http.StatusRequestEntityTooLarge, "body exceeds the size limit")
			}
			return httpError(w, http.StatusBadRequest, "body is not gzip: "+err.Error())
		}
		defer zr.Close()
		// Decompressed size is bounded too: a small gzip bomb must not become a huge batch.
		body = &limitedReader{r: zr, n: h.opts.MaxBodyBytes}
	default:
		return httpError(w, http.StatusUnsupportedMediaType, "unsupported Content-Encoding "+strconv.Quote(enc))
	}

	batch, resp, err := h.parse(r.Context(), r.RemoteAddr, body)
	switch {
	case tooLarge(err):
		return httpError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("body exceeds %d bytes; split the batch", h.opts.MaxBodyBytes))
	case err != nil:
		return httpError(w, http.StatusBadRequest, "read body: "+err.Error())
	}
	// Count only once the batch is certain to be kept, so a refused body counts nothing.
	if h.observer != nil {
		h.observer.ObserveAccepted(resp.Accepted)
		for reason, n := range resp.Malformed {
			for range n {
				h.observer.ObserveMalformed(reason)
			}
		}
	}
	if len(batch) > 0 {
		h.queue <- batch // cannot block: the slot taken above reserves room
		queued = true
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_ = json.NewEncoder(w).Encode(resp)
	return http.StatusOK
}

// parse reads NDJSON lines into a batch. Reading errors end it; bad lines do not.
func (h *Ingest) parse(ctx context.Context, remote string, body io.Reader) ([]Record, ingestResponse, error) {
	p := h.parsers.Get().(*Parser)
	defer h.parsers.Put(p)
	var (
		batch []Record
		resp  ingestResponse
		rec   Record
		split = lineSplitter{max: h.opts.MaxLineBytes}
		buf   = make([]byte, 32<<10)
	)
	source := "http " + remote
	// Refusals are held back until the body is known to be kept: a body refused with 413 is
	// sent again, split, and its bad lines would otherwise be counted twice.
	bad := map[Reason]*badLines{}
	each := func(line []byte, n int, tooLong bool) error {
		var err error
		switch {
		case tooLong:
			err = &ParseError{Reason: ReasonTooLong, Msg: "line exceeds the maximum length"}
		case len(trimSpace(line)) == 0:
			return nil
		default:
			err = p.ParseLine(line, &rec)
		}
		if err != nil {
			reason := classify(err, line)
			if resp.Malformed == nil {
				resp.Malformed = map[Reason]int{}
			}
			resp.Malformed[reason]++
			b := bad[reason]
			if b == nil {
				b = &badLines{err: err}
				bad[reason] = b
			}
			if len(b.first) < DefaultKeepLocations {
				b.first = append(b.first, Location{source, n})
			}
			return nil
		}
		batch = append(batch, rec)
		resp.Accepted++
		return nil
	}
	for {
		n, err := body.Read(buf)
		if ferr := split.feed(buf[:n], each); ferr != nil {
			return nil, resp, ferr
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, resp, err
		}
	}
	if err := split.flush(each); err != nil {
		return nil, resp, err
	}
	if h.opts.Tally != nil {
		h.opts.Tally.Accepted(resp.Accepted)
		for reason, b := range bad {
			h.opts.Tally.add(ctx, reason, uint64(resp.Malformed[reason]), b.first, b.err)
		}
	}
	if len(resp.Malformed) > 0 {
		logf.FromContext(ctx).V(1).Info("Flow ingest batch had malformed lines", "remote", remote, "accepted", resp.Accepted, "malformed", resp.Malformed)
	}
	return slices.Clip(batch), resp, nil
}

type badLines struct {
	first []Location
	err   error
}

func trimSpace(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t' || b[0] == '\r') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t' || b[len(b)-1] == '\r') {
		b = b[:len(b)-1]
	}
	return b
}

// authenticated accepts a verified client certificate (if enabled and, when names are set,
// named) or the bearer token, compared in constant time over its SHA-256 digest so that neither
// its content nor its length leaks through timing.
func (h *Ingest) authenticated(r *http.Request) bool {
	if h.opts.ClientCerts && r.TLS != nil && len(r.TLS.VerifiedChains) > 0 && h.clientNameAllowed(r.TLS.VerifiedChains[0][0]) {
		return true
	}
	want := h.token.Load()
	if want == nil {
		return false
	}
	auth := r.Header.Get("Authorization")
	const prefix = "bearer "
	if len(auth) <= len(prefix) || !strings.EqualFold(auth[:len(prefix)], prefix) {
		return false
	}
	got := sha256.Sum256([]byte(auth[len(prefix):]))
	return subtle.ConstantTimeCompare(got[:], want[:]) == 1
}

func (h *Ingest) clientNameAllowed(leaf *x509.Certificate) bool {
	if len(h.opts.ClientNames) == 0 {
		return true
	}
	for _, n := range h.opts.ClientNames {
		if leaf.Subject.CommonName == n || slices.Contains(leaf.DNSNames, n) {
			return true
		}
	}
	return false
}

func httpError(w http.ResponseWriter, code int, msg string) int {
	http.Error(w, msg, code)
	return code
}

func tooLarge(err error) bool {
	var mbe *http.MaxBytesError
	return errors.As(err, &mbe) || errors.Is(err, errDecompressedTooLarge)
}

var errDecompressedTooLarge = errors.New("decompressed body exceeds the size limit")

// limitedReader fails, rather than stopping quietly like io.LimitReader, when the limit is
// passed, so that a cut body is never mistaken for a whole one.
type limitedReader struct {
	r io.Reader
	n int64
}

func (l *limitedReader) Read(p []byte) (int, error) {
	if l.n < 0 {
		return 0, errDecompressedTooLarge
	}
	if int64(len(p)) > l.n+1 {
		p = p[:l.n+1]
	}
	n, err := l.r.Read(p)
	l.n -= int64(n)
	if l.n < 0 {
		return 0, errDecompressedTooLarge
	}
	return n, err
}
