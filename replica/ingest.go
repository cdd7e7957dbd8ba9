package replica

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/utils/clock"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/manager"

	"github.com/flowguard/flowguard/flows"
)

// IngestPath is where `flowguard serve --ingest-token-file` accepts NDJSON flow batches, on the
// webhook's TLS port.
const IngestPath = "/ingest/flows"

// tokenPoll is how often the ingest token file is re-read. The kubelet updates a Secret volume
// within about a minute of the Secret's change, so this adds little to a rotation.
const tokenPoll = 10 * time.Second

// addIngest mounts the HTTP flow ingest on the webhook server behind a gate that only the
// elected replica opens, and keeps its token in step with the token file.
func (l *trafficLeader) addIngest(mgr manager.Manager, tokenFile string, metrics *flows.Metrics) error {
	token, err := readToken(tokenFile)
	if err != nil {
		return err
	}
	l.ingest, err = flows.NewIngest(flows.IngestOptions{Token: token, Metrics: metrics}, l.graph)
	if err != nil {
		return err
	}
	l.gate = &ingestGate{next: l.ingest, refused: l.metrics.ingestNotLeader}
	mgr.GetWebhookServer().Register(IngestPath, l.gate)
	watcher := &tokenWatcher{path: tokenFile, ingest: l.ingest, current: token}
	if err := mgr.Add(loop{wait: flows.PollEvery(clock.RealClock{}, tokenPoll), step: forever(watcher.reread)}); err != nil {
		return fmt.Errorf("add ingest token watcher: %w", err)
	}
	return nil
}

// ingestGate passes HTTP ingest requests to the handler while this replica is the elected one.
// Another replica's graph is neither written to the shards nor kept: the shards it reads
// replace it. So it answers 503 with Retry-After and closes the connection, so that the
// shipper's retry opens a new one, which the Service may route to the elected replica.
type ingestGate struct {
	next    http.Handler
	refused prometheus.Counter

	// mu is held for reading while a request is served, so that closing the gate waits for
	// the requests in flight.
	mu   sync.RWMutex
	open bool
}

func (g *ingestGate) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	g.mu.RLock()
	defer g.mu.RUnlock()
	if !g.open {
		g.refused.Inc()
		w.Header().Set("Retry-After", "1")
		w.Header().Set("Connection", "close")
		http.Error(w, "this flowguard replica is not the elected one; retry on a new connection", http.StatusServiceUnavailable)
		return
	}
	g.next.ServeHTTP(w, r)
}

// setOpen opens or closes the gate; closing returns once the requests in flight are answered.
func (g *ingestGate) setOpen(open bool) {
	g.mu.Lock()
	g.open = open
	g.mu.Unlock()
}

// tokenWatcher re-reads the bearer token file on every replica, so that a rotated Secret takes
// effect without a restart. A file that cannot be read, or is empty, leaves the token in force.
type tokenWatcher struct {
	path    string
	ingest  *flows.Ingest
	current []byte
}

// reread is the watcher's loop step.
func (w *tokenWatcher) reread(ctx context.Context) {
	log := logf.FromContext(ctx).WithValues("path", w.path)
	token, err := readToken(w.path)
	switch {
	case err != nil:
		log.Error(err, "Keeping the previous ingest token")
	case !bytes.Equal(token, w.current):
		w.ingest.SetToken(token)
		w.current = token
		log.Info("Ingest token rotated")
	}
}

// readToken reads a bearer token file, as a Secret volume holds it: surrounding white space,
// such as the newline an editor adds, is not part of the token.
func readToken(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("--ingest-token-file: %w", err)
	}
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return nil, fmt.Errorf("--ingest-token-file %s: %w", path, errEmptyToken)
	}
	return b, nil
}

var errEmptyToken = errors.New("the token is empty")
