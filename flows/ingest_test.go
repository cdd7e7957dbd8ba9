package flows

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/tls"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// signalSink applies batches to a graph and says so, so tests wait for Run without sleeping.
type signalSink struct {
	g       *Graph
	applied chan int
}

func (s *signalSink) AddBatch(recs []Record) int {
	n := s.g.AddBatch(recs)
	s.applied <- len(recs)
	return n
}

type ingestFixture struct {
	srv   *httptest.Server
	h     *Ingest
	sink  *signalSink
	reg   *prometheus.Registry
	ca    *testCA
	tally *Tally
}

const testToken = "s3cr3t-token-from-a-secret"

func newIngestFixture(t *testing.T, opts IngestOptions, run bool) *ingestFixture {
	t.Helper()
	g, err := NewGraph(GraphOptions{Retention: -1})
	if err != nil {
		t.Fatal(err)
	}
	f := &ingestFixture{sink: &signalSink{g: g, applied: make(chan int, 16)}, reg: prometheus.NewRegistry(), ca: newTestCA(t), tally: &Tally{}}
	if opts.Metrics, err = NewMetrics(f.reg); err != nil {
		t.Fatal(err)
	}
	opts.Tally = f.tally
	if f.h, err = NewIngest(opts, f.sink); err != nil {
		t.Fatal(err)
	}
	f.srv = httptest.NewUnstartedServer(f.h)
	f.srv.TLS = &tls.Config{ClientAuth: tls.VerifyClientCertIfGiven, ClientCAs: f.ca.pool}
	f.srv.StartTLS()
	t.Cleanup(f.srv.Close)
	if run {
		f.run(t)
	}
	return f
}

func (f *ingestFixture) run(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		if err := f.h.Run(ctx); err != nil {
			t.Errorf("ingest Run: %v", err)
		}
		close(done)
	}()
	t.Cleanup(func() { cancel(); <-done })
}

// client returns an HTTPS client trusting the server, presenting cert if given.
func (f *ingestFixture) client(cert *tls.Certificate) *http.Client {
	c := f.srv.Client()
	tr := c.Transport.(*http.Transport).Clone()
	if cert != nil {
		tr.TLSClientConfig.Certificates = []tls.Certificate{*cert}
	}
	c.Transport = tr
	return c
}

type ingestRequest struct {
	method, token, encoding string
	body                    []byte
	cert                    *tls.Certificate
}

// ingestReply is what a client saw of a response, read in full and closed.
type ingestReply struct {
	code   int
	header http.Header
	body   string
}

func (f *ingestFixture) do(t *testing.T, r ingestRequest) ingestReply {
	t.Helper()
	if r.method == "" {
		r.method = http.MethodPost
	}
	req, err := http.NewRequest(r.method, f.srv.URL+"/flows", bytes.NewReader(r.body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-ndjson")
	if r.token != "" {
		req.Header.Set("Authorization", "Bearer "+r.token)
	}
	if r.encoding != "" {
		req.Header.Set("Content-Encoding", r.encoding)
	}
	resp, err := f.client(r.cert).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read the ingest response: %v", err)
	}
	return ingestReply{code: resp.StatusCode, header: resp.Header, body: string(b)}
}

func ndjson(t *testing.T, files ...string) []byte {
	var b bytes.Buffer
	for _, f := range files {
		for _, l := range readLines(t, f) {
			b.Write(l)
			b.WriteByte('\n')
		}
	}
	return b.Bytes()
}

func gzipped(t *testing.T, b []byte) []byte {
	t.Helper()
	var out bytes.Buffer
	zw := gzip.NewWriter(&out)
	if _, err := zw.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

func TestIngest(t *testing.T) {
	calico := ndjson(t, "testdata/calico/level2.jsonl")                                     // 9 records
	mixed := ndjson(t, "testdata/malformed/mixed.jsonl", "testdata/goldmane/emitter.jsonl") // 5 + 3 good, 7 bad
	bomb := gzipped(t, bytes.Repeat([]byte(" "), 2<<20))                                    // 2 MiB of spaces, tiny compressed
	ca := newTestCA(t)
	tests := map[string]struct {
		opts         IngestOptions
		req          func(f *ingestFixture) ingestRequest
		wantCode     int
		wantBody     string
		wantRecords  int
		wantRequests map[string]float64
	}{
		"a bearer token from the Secret is accepted": {
			req:      func(*ingestFixture) ingestRequest { return ingestRequest{token: testToken, body: calico} },
			wantCode: 200, wantBody: `{"accepted":9}`, wantRecords: 9,
		},
		"a wrong token is refused": {
			req: func(*ingestFixture) ingestRequest {
				return ingestRequest{token: "s3cr3t-token-from-a-secreT", body: calico}
			},
			wantCode: 401,
		},
		"a token of another length is refused": {
			req:      func(*ingestFixture) ingestRequest { return ingestRequest{token: "s3cr3t", body: calico} },
			wantCode: 401,
		},
		"no credentials at all are refused": {
			req:      func(*ingestFixture) ingestRequest { return ingestRequest{body: calico} },
			wantCode: 401,
		},
		"a client certificate the server verified is accepted": {
			opts: IngestOptions{ClientCerts: true},
			req: func(f *ingestFixture) ingestRequest {
				c := f.ca.clientCert(t, "fluent-bit")
				return ingestRequest{cert: &c, body: calico}
			},
			wantCode: 200, wantBody: `{"accepted":9}`, wantRecords: 9,
		},
		"a verified certificate with a name not listed is refused": {
			opts: IngestOptions{ClientCerts: true, ClientNames: []string{"goldmane-emitter"}},
			req: func(f *ingestFixture) ingestRequest {
				c := f.ca.clientCert(t, "fluent-bit")
				return ingestRequest{cert: &c, body: calico}
			},
			wantCode: 401,
		},
		"a certificate from another CA does not authenticate": {
			opts: IngestOptions{ClientCerts: true},
			req: func(*ingestFixture) ingestRequest {
				c := ca.clientCert(t, "fluent-bit")
				return ingestRequest{cert: &c, body: calico}
			},
			wantCode: -1, // the TLS handshake fails
		},
		"good lines of a body with bad ones are kept, the bad ones counted by reason": {
			req:      func(*ingestFixture) ingestRequest { return ingestRequest{token: testToken, body: mixed} },
			wantCode: 200, wantRecords: 8,
			wantBody: `{"accepted":8,"malformed":{"bad-value":2,"binary":1,"missing-field":1,"syntax":2,"wrong-type":1}}`,
		},
		"a gzip body is decompressed": {
			req: func(*ingestFixture) ingestRequest {
				return ingestRequest{token: testToken, body: gzipped(t, calico), encoding: "gzip"}
			},
			wantCode: 200, wantBody: `{"accepted":9}`, wantRecords: 9,
		},
		"a body over the limit gets 413 and keeps nothing": {
			opts:     IngestOptions{MaxBodyBytes: 4096},
			req:      func(*ingestFixture) ingestRequest { return ingestRequest{token: testToken, body: calico} },
			wantCode: 413,
		},
		"a gzip bomb over the limit once decompressed gets 413": {
			opts: IngestOptions{MaxBodyBytes: 1 << 20},
			req: func(*ingestFixture) ingestRequest {
				return ingestRequest{token: testToken, body: bomb, encoding: "gzip"}
			},
			wantCode: 413,
		},
		"an unknown encoding gets 415": {
			req: func(*ingestFixture) ingestRequest {
				return ingestRequest{token: testToken, body: calico, encoding: "br"}
			},
			wantCode: 415,
		},
		"GET is not allowed": {
			req:      func(*ingestFixture) ingestRequest { return ingestRequest{method: http.MethodGet, token: testToken} },
			wantCode: 405,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if !tc.opts.ClientCerts {
				tc.opts.Token = []byte(testToken)
			}
			f := newIngestFixture(t, tc.opts, true)
			r := tc.req(f)
			if tc.wantCode == -1 {
				req, _ := http.NewRequest(http.MethodPost, f.srv.URL, bytes.NewReader(r.body))
				if resp, err := f.client(r.cert).Do(req); err == nil {
					resp.Body.Close()
					if resp.StatusCode == http.StatusOK {
						t.Fatal("a certificate from an unknown CA was accepted")
					}
				}
				return
			}
			reply := f.do(t, r)
			if reply.code != tc.wantCode {
				t.Fatalf("status %d (%s), want %d", reply.code, reply.body, tc.wantCode)
			}
			if tc.wantBody != "" && strings.TrimSpace(reply.body) != tc.wantBody {
				t.Errorf("body %s, want %s", reply.body, tc.wantBody)
			}
			if tc.wantRecords > 0 {
				if n := <-f.sink.applied; n != tc.wantRecords {
					t.Errorf("sink got %d records, want %d", n, tc.wantRecords)
				}
			}
			gotRecords := testutil.ToFloat64(f.h.opts.Metrics.records.WithLabelValues("http"))
			if gotRecords != float64(tc.wantRecords) {
				t.Errorf("ingested metric = %v, want %d", gotRecords, tc.wantRecords)
			}
			if got := testutil.ToFloat64(f.h.opts.Metrics.requests.WithLabelValues(strconv.Itoa(tc.wantCode))); got != 1 {
				t.Errorf("requests{code=%d} = %v, want 1", tc.wantCode, got)
			}
		})
	}
}

func TestIngestMetricsAndTallyForMalformedLines(t *testing.T) {
	f := newIngestFixture(t, IngestOptions{Token: []byte(testToken)}, true)
	if reply := f.do(t, ingestRequest{token: testToken, body: ndjson(t, "testdata/malformed/mixed.jsonl")}); reply.code != 200 {
		t.Fatalf("status %d (%s), want 200", reply.code, reply.body)
	}
	<-f.sink.applied
	m := f.h.opts.Metrics.malformed
	for reason, want := range map[Reason]float64{ReasonSyntax: 2, ReasonValue: 2, ReasonType: 1, ReasonBinary: 1, ReasonMissing: 1, ReasonTooLong: 0} {
		if got := testutil.ToFloat64(m.WithLabelValues("http", string(reason))); got != want {
			t.Errorf("malformed{reason=%s} = %v, want %v", reason, got, want)
		}
	}
	rep := f.tally.Report()
	var syntaxAt []string
	for _, m := range rep.Malformed {
		if m.Reason == ReasonSyntax {
			syntaxAt = m.First
		}
	}
	if rep.Records != 5 || len(syntaxAt) != 2 || !strings.HasPrefix(syntaxAt[0], "http 127.0.0.1:") || !strings.HasSuffix(syntaxAt[1], ":10") {
		t.Errorf("tally = %+v, want 5 records and syntax errors located at lines 2 and 10 of the request", rep)
	}
}

func TestIngestBackPressure(t *testing.T) {
	f := newIngestFixture(t, IngestOptions{Token: []byte(testToken), Queue: 1, RetryAfter: 3 * time.Second}, false)
	body := ndjson(t, "testdata/calico/level1.jsonl")
	if reply := f.do(t, ingestRequest{token: testToken, body: body}); reply.code != 200 {
		t.Fatalf("first batch: %d %s", reply.code, reply.body)
	}
	// The sink is not running: the one queue slot stays taken.
	reply := f.do(t, ingestRequest{token: testToken, body: body})
	if reply.code != http.StatusTooManyRequests || reply.header.Get("Retry-After") != "3" {
		t.Fatalf("second batch: %d Retry-After %q, want 429 and 3", reply.code, reply.header.Get("Retry-After"))
	}
	f.run(t)
	if n := <-f.sink.applied; n != 8 {
		t.Fatalf("queued batch had %d records, want 8", n)
	}
	if reply := f.do(t, ingestRequest{token: testToken, body: body}); reply.code != 200 {
		t.Fatalf("after the queue drained: %d %s", reply.code, reply.body)
	}
	<-f.sink.applied
}

func TestIngestRunAppliesQueuedBatchesWhenStopped(t *testing.T) {
	f := newIngestFixture(t, IngestOptions{Token: []byte(testToken), Queue: 2}, false)
	body := ndjson(t, "testdata/calico/level1.jsonl")
	for i := range 2 {
		if reply := f.do(t, ingestRequest{token: testToken, body: body}); reply.code != 200 {
			t.Fatalf("batch %d: %d %s", i, reply.code, reply.body)
		}
	}
	// Both senders were answered 200: a Run that is already stopped still applies their batches.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := f.h.Run(ctx); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if got := len(f.sink.applied); got != 2 {
		t.Fatalf("%d batches applied by the stopped Run, want 2", got)
	}
	if reply := f.do(t, ingestRequest{token: testToken, body: body}); reply.code != 200 {
		t.Errorf("after the drain the queue has room again: %d %s", reply.code, reply.body)
	}
}

func TestIngestTokenRotation(t *testing.T) {
	f := newIngestFixture(t, IngestOptions{Token: []byte(testToken)}, true)
	f.h.SetToken([]byte("rotated"))
	if reply := f.do(t, ingestRequest{token: testToken, body: []byte("\n")}); reply.code != 401 {
		t.Errorf("old token after rotation: %d, want 401", reply.code)
	}
	if reply := f.do(t, ingestRequest{token: "rotated", body: []byte("\n")}); reply.code != 200 {
		t.Errorf("new token: %d, want 200", reply.code)
	}
}

func TestNewIngestRefusesNoAuthentication(t *testing.T) {
	if _, err := NewIngest(IngestOptions{}, nil); err == nil {
		t.Error("an ingest handler without authentication was built")
	}
}
