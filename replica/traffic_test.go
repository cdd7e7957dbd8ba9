package replica

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"k8s.io/apimachinery/pkg/types"
	clocktesting "k8s.io/utils/clock/testing"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/flowguard/flowguard/flows"
	"github.com/flowguard/flowguard/flows/goldmane"
	"github.com/flowguard/flowguard/flows/observed"
)

func TestIngestGate(t *testing.T) {
	entered, release := make(chan struct{}), make(chan struct{})
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Has("hold") {
			close(entered)
			<-release
		}
		w.WriteHeader(http.StatusOK)
	})
	refused := prometheus.NewCounter(prometheus.CounterOpts{Name: "refused"})
	gate := &ingestGate{next: next, refused: refused}
	srv := httptest.NewServer(gate)
	t.Cleanup(srv.Close)
	// reply is what the shipper saw: the code, Retry-After, and whether the connection closes.
	type reply struct {
		code       int
		retryAfter string
		closes     bool
	}
	post := func(query string) reply {
		t.Helper()
		resp, err := srv.Client().Post(srv.URL+IngestPath+query, "application/x-ndjson", strings.NewReader("{}\n"))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		return reply{code: resp.StatusCode, retryAfter: resp.Header.Get("Retry-After"), closes: resp.Close}
	}

	t.Run("a replica that is not elected refuses, so that the shipper retries elsewhere", func(t *testing.T) {
		if r := post(""); r.code != http.StatusServiceUnavailable || r.retryAfter == "" || !r.closes {
			t.Errorf("got %+v; want 503 with Retry-After on a closed connection", r)
		}
		if got := testutil.ToFloat64(refused); got != 1 {
			t.Errorf("refusals counted = %v, want 1", got)
		}
	})
	t.Run("the elected replica passes requests on", func(t *testing.T) {
		gate.setOpen(true)
		if r := post(""); r.code != http.StatusOK {
			t.Errorf("got %d, want 200", r.code)
		}
	})
	t.Run("closing waits for the request in flight, and refuses the next", func(t *testing.T) {
		answered := make(chan int)
		go func() { answered <- post("?hold").code }()
		<-entered
		if gate.mu.TryLock() {
			t.Fatal("the gate could be closed while a request was being served")
		}
		closed := make(chan struct{})
		go func() { gate.setOpen(false); close(closed) }()
		close(release)
		if code := <-answered; code != http.StatusOK {
			t.Errorf("request in flight answered %d, want 200", code)
		}
		<-closed
		if r := post(""); r.code != http.StatusServiceUnavailable {
			t.Errorf("after closing: %d, want 503", r.code)
		}
	})
}

func TestTokenWatcher(t *testing.T) {
	path := filepath.Join(t.TempDir(), "token")
	write := func(s string) {
		t.Helper()
		if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("first-token\n")
	token, err := readToken(path)
	if err != nil || string(token) != "first-token" {
		t.Fatalf("readToken = %q, %v; want the token without its newline", token, err)
	}
	g, err := flows.NewGraph(flows.GraphOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ingest, err := flows.NewIngest(flows.IngestOptions{Token: token}, g)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(ingest)
	t.Cleanup(srv.Close)
	status := func(token string) int {
		t.Helper()
		req, err := http.NewRequest(http.MethodPost, srv.URL, strings.NewReader("\n"))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}

	// The watcher reads the file once per turn of its loop; the test takes the turns.
	w := &tokenWatcher{path: path, ingest: ingest, current: token}
	poll := func() { w.reread(context.Background()) }

	// The steps run in order: each starts from the token the one before left in force.
	steps := []struct {
		name              string
		file              string
		accepted, refused string
	}{
		{name: "the token in force at start", file: "first-token\n", accepted: "first-token", refused: "second-token"},
		{name: "a rotated Secret is in force without a restart", file: "second-token", accepted: "second-token", refused: "first-token"},
		{name: "an empty file leaves the token in force", file: "  \n", accepted: "second-token", refused: ""},
	}
	for _, tc := range steps {
		t.Run(tc.name, func(t *testing.T) {
			write(tc.file)
			poll()
			if got := status(tc.accepted); got != http.StatusOK {
				t.Errorf("token %q: %d, want 200", tc.accepted, got)
			}
			if tc.refused != "" {
				if got := status(tc.refused); got != http.StatusUnauthorized {
					t.Errorf("token %q: %d, want 401", tc.refused, got)
				}
			}
		})
	}
}

func TestReadTokenRefusesAnEmptyFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(path, []byte("\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := readToken(path); err == nil || !strings.Contains(err.Error(), "the token is empty") {
		t.Errorf("readToken of an empty file = %v, want an error saying so", err)
	}
}

func TestLoadSnapshot(t *testing.T) {
	saved := func(t *testing.T, dir string) string {
		g, err := flows.NewGraph(flows.GraphOptions{})
		if err != nil {
			t.Fatal(err)
		}
		now := time.Now()
		g.Add(&flows.Record{Src: flows.Endpoint{Type: flows.TypeWorkload, Namespace: "web", Name: "frontend-*"},
			Dst: flows.Endpoint{Type: flows.TypeWorkload, Namespace: "shop", Name: "api-*"}, DstPort: 8080,
			Proto: flows.ProtoTCP, Action: flows.ActionAllow, Reporter: flows.ReporterDst, Flows: 3,
			Start: now.Add(-time.Minute), End: now})
		path := filepath.Join(dir, "traffic.snapshot")
		if err := g.SaveFile(path); err != nil {
			t.Fatal(err)
		}
		return path
	}
	readOnly := makeReadOnly
	tests := map[string]struct {
		setup                  func(t *testing.T, dir string) string
		wantLoaded, wantWrites bool
		wantErr                string
	}{
		"a saved snapshot is loaded and saved again": {setup: saved, wantLoaded: true, wantWrites: true},
		"the first start in a writable folder has nothing to load": {
			setup:      func(t *testing.T, dir string) string { return filepath.Join(dir, "traffic.snapshot") },
			wantWrites: true,
		},
		"a snapshot in a read-only folder is only read": {
			setup:      func(t *testing.T, dir string) string { p := saved(t, dir); readOnly(t, dir); return p },
			wantLoaded: true,
		},
		"a missing snapshot in a read-only folder is a mistake": {
			setup:   func(t *testing.T, dir string) string { readOnly(t, dir); return filepath.Join(dir, "traffic.snapshot") },
			wantErr: "--traffic-snapshot: load traffic graph",
		},
		"a snapshot in a folder that does not exist is a mistake": {
			setup:   func(t *testing.T, dir string) string { return filepath.Join(dir, "missing", "traffic.snapshot") },
			wantErr: "--traffic-snapshot: load traffic graph",
		},
		"a corrupt snapshot is refused": {
			setup: func(t *testing.T, dir string) string {
				p := filepath.Join(dir, "traffic.snapshot")
				if err := os.WriteFile(p, []byte("not a snapshot"), 0o600); err != nil {
					t.Fatal(err)
				}
				return p
			},
			wantErr: "--traffic-snapshot: load traffic graph from",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			path := tc.setup(t, t.TempDir())
			g, err := flows.NewGraph(flows.GraphOptions{})
			if err != nil {
				t.Fatal(err)
			}
			loaded, writable, err := loadSnapshot(g, path)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("loadSnapshot error = %v, want it to contain %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || loaded != tc.wantLoaded || writable != tc.wantWrites {
				t.Fatalf("loadSnapshot = loaded %t, writable %t, %v; want %t, %t", loaded, writable, err, tc.wantLoaded, tc.wantWrites)
			}
			if edges := g.Stats().Edges; (edges > 0) != tc.wantLoaded {
				t.Errorf("graph has %d edges after loading", edges)
			}
		})
	}
}

// TestGoldmaneResumeFollowsSuccessfulWrites: the resume point saved is the Goldmane watermark
// noted before the last write cycle that wrote every shard, so the next leader never skips
// windows the shards lack. The API is controller-runtime's fake client; the e2e test runs the
// same against the real API server.
func TestGoldmaneResumeFollowsSuccessfulWrites(t *testing.T) {
	api := fake.NewClientBuilder().Build()
	key := types.NamespacedName{Namespace: "flowguard-system", Name: "flowguard-goldmane"}
	metrics, err := newTrafficMetrics(prometheus.NewRegistry(), func() (goldmane.Stats, bool) { return goldmane.Stats{}, false })
	if err != nil {
		t.Fatal(err)
	}
	l := &trafficLeader{metrics: metrics, clock: clocktesting.NewFakeClock(time.Now()),
		resume: &goldmaneResume{reader: api, writer: api, key: key}}
	t1, t2 := time.Date(2025, 10, 1, 12, 0, 15, 0, time.UTC), time.Date(2025, 10, 1, 12, 0, 30, 0, time.UTC)
	// delivered stands for a client that has delivered every window up to watermark.
	delivered := func(watermark time.Time) {
		c, err := goldmane.New(goldmane.Options{Address: "goldmane:7443", CAFile: "ca", CertFile: "crt", KeyFile: "key", Since: watermark},
			func(context.Context, flows.Record) error { return nil })
		if err != nil {
			t.Fatal(err)
		}
		l.client = c
	}
	saved := func() time.Time {
		t.Helper()
		if err := l.saveResume(t.Context()); err != nil {
			t.Fatal(err)
		}
		got, err := (&goldmaneResume{reader: api, writer: api, key: key}).load(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	failed := errors.New("write traffic shard shop/traffic-0-of-1: conflict")

	// The steps run in order, as the writer's cycles do.
	steps := []struct {
		name  string
		cycle func()
		want  time.Time
	}{
		{name: "nothing is saved before a cycle wrote the shards", cycle: func() { delivered(t1); l.note() }},
		{name: "a cycle that wrote every shard saves the watermark noted before it", cycle: func() { l.synced(observed.SyncResult{Created: 1}, nil) }, want: t1},
		{name: "a failed cycle leaves the point where it was", cycle: func() { delivered(t2); l.note(); l.synced(observed.SyncResult{}, failed) }, want: t1},
		{name: "the next cycle that succeeds moves it", cycle: func() { l.note(); l.synced(observed.SyncResult{Updated: 1}, nil) }, want: t2},
	}
	for _, step := range steps {
		t.Run(step.name, func(t *testing.T) {
			step.cycle()
			if got := saved(); !got.Equal(step.want) {
				t.Errorf("resume point = %v, want %v", got, step.want)
			}
		})
	}
	if got := testutil.ToFloat64(metrics.syncCycles.WithLabelValues("error")); got != 1 {
		t.Errorf("failed cycles counted = %v, want 1", got)
	}
}
