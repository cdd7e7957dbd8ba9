//go:build e2e

package e2e

import (
	"context"
	"crypto/tls"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/flowguard/flowguard/api/v1alpha1"
	"github.com/flowguard/flowguard/replica"
	"github.com/flowguard/flowguard/test/cluster"
	"github.com/flowguard/flowguard/webhook/webhooktest"
)

// A leader paused past its lease writes nothing once it resumes: `flowguard serve` processes A
// and B share a lease; A learns flows it has not yet written, is stopped (SIGSTOP) until B has
// taken over, and is resumed. A steps down without writing them (a final write would replace
// the traffic B now owns) and keeps serving; no ObservedTraffic object appears.
func TestPausedLeaderWritesNothingAfterItResumes(t *testing.T) {
	c := cluster.StartForTest(t, cluster.Options{})
	ctx := t.Context()
	if _, err := c.KubectlStdin(ctx, webhookCluster, "apply", "-f", "-"); err != nil {
		t.Fatal(err)
	}
	bin := buildFlowguard(t)
	certDir, tokenFile := t.TempDir(), filepath.Join(t.TempDir(), "token")
	ca, err := webhooktest.NewCA("flowguard-e2e", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ca.WriteServingCert(certDir, time.Now(), "127.0.0.1"); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(tokenFile, []byte("fencing-token\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	https := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: ca.Pool()}}}
	start := func(name string) *flowguardProcess {
		// Writes are paced an hour apart: whatever the leader learns stays unwritten until
		// its final write, which is the one a replica that lost the lease must not make.
		return startFlowguardProcess(t, bin, name, c.Kubeconfig, certDir, "--leader-elect=true",
			"--leader-election-id=flowguard-e2e-fencing", "--auditor=false", "--ingest-token-file="+tokenFile,
			"--observed-traffic-sync-interval=1h")
	}
	shards := func() int {
		t.Helper()
		var list v1alpha1.ObservedTrafficList
		if err := c.Client.List(ctx, &list); err != nil {
			t.Fatal(err)
		}
		return len(list.Items)
	}

	a := start("a")
	a.await(t, "A leads", func() bool { return a.fg.metric(t, "flowguard_traffic_leader") == 1 })
	body := calicoRecord(8080, "dst", 5, time.Now().Unix())
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.webhookURL+replica.IngestPath, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer fencing-token")
	resp, err := https.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("ingest on A: %d", resp.StatusCode)
	}
	if got := a.fg.metric(t, `flowguard_flow_records_ingested_total{source="http"}`); got != 1 {
		t.Fatalf("records ingested by A = %v, want 1", got)
	}

	a.signal(t, syscall.SIGSTOP)
	b := start("b")
	b.await(t, "B takes over the lease A can no longer renew", func() bool { return b.fg.metric(t, "flowguard_traffic_leader") == 1 })
	before := shards()
	a.signal(t, syscall.SIGCONT)
	a.await(t, "A notices it lost the lease", func() bool { return a.fg.metric(t, "flowguard_traffic_leader") == 0 })
	// A campaigns again but B holds the lease: a write that was going to happen has 5s to show.
	var got int
	changed := wait.PollUntilContextTimeout(t.Context(), 250*time.Millisecond, 5*time.Second, true, func(context.Context) (bool, error) {
		got = shards()
		return got != before, nil
	})
	if changed == nil {
		t.Errorf("ObservedTraffic objects: %d before A resumed, %d after; A wrote after losing the lease", before, got)
	}
	for _, op := range []string{"create", "update", "delete"} {
		if got := a.fg.metric(t, fmt.Sprintf(`flowguard_observed_traffic_writes_total{operation=%q}`, op)); got != 0 {
			t.Errorf("A's ObservedTraffic %s writes = %v, want none", op, got)
		}
	}
	if got := a.fg.metric(t, "flowguard_leader_terms_total"); got != 1 {
		t.Errorf("A's terms = %v, want 1: B holds the lease", got)
	}
	if !a.ready(t) {
		t.Error("A stopped serving after losing the lease")
	}
}

// buildFlowguard builds the flowguard binary once for the test process and returns its path.
func buildFlowguard(t *testing.T) string {
	t.Helper()
	bin, err := flowguardBinary.build()
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

// flowguardBinary is the flowguard binary the tests run, built on first use and removed by
// TestMain.
var flowguardBinary builtBinary

type builtBinary struct {
	once      sync.Once
	dir, path string
	err       error
}

func (b *builtBinary) build() (string, error) {
	b.once.Do(func() {
		root, err := cluster.ModuleRoot()
		if err != nil {
			b.err = err
			return
		}
		if b.dir, b.err = os.MkdirTemp("", "flowguard-e2e-bin-"); b.err != nil {
			return
		}
		b.path = filepath.Join(b.dir, "flowguard")
		cmd := exec.Command("go", "build", "-o", b.path, "./cmd/flowguard")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			b.err = fmt.Errorf("go build ./cmd/flowguard: %w\n%s", err, out)
		}
	})
	return b.path, b.err
}

func (b *builtBinary) remove() {
	if b.dir != "" {
		_ = os.RemoveAll(b.dir)
	}
}

// flowguardProcess is `flowguard serve` running as a process of its own, so that it can be
// paused and resumed.
type flowguardProcess struct {
	name       string
	cmd        *exec.Cmd
	fg         *runningFlowguard
	webhookURL string
	readyz     string
}

func startFlowguardProcess(t *testing.T, bin, name, kubeconfig, certDir string, args ...string) *flowguardProcess {
	t.Helper()
	webhookPort, metricsPort, probePort := freePort(t), freePort(t), freePort(t)
	args = append([]string{"serve",
		"--kubeconfig=" + kubeconfig,
		"--namespace=" + flowguardNamespace,
		"--webhook-host=127.0.0.1",
		fmt.Sprintf("--webhook-port=%d", webhookPort),
		"--cert-dir=" + certDir,
		fmt.Sprintf("--metrics-bind-address=127.0.0.1:%d", metricsPort),
		fmt.Sprintf("--health-probe-bind-address=127.0.0.1:%d", probePort),
	}, args...)
	p := &flowguardProcess{name: name, cmd: exec.Command(bin, args...),
		fg:         &runningFlowguard{metricsURL: fmt.Sprintf("http://127.0.0.1:%d/metrics", metricsPort), logs: &lockedBuffer{}},
		webhookURL: fmt.Sprintf("https://127.0.0.1:%d", webhookPort), readyz: fmt.Sprintf("http://127.0.0.1:%d/readyz", probePort)}
	p.cmd.Stdout, p.cmd.Stderr = p.fg.logs, p.fg.logs
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start flowguard %s: %v", name, err)
	}
	t.Cleanup(func() {
		_ = p.cmd.Process.Signal(syscall.SIGCONT)
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		if err := p.cmd.Wait(); err != nil {
			t.Errorf("flowguard %s: %v", name, err)
		}
		if t.Failed() {
			t.Logf("flowguard %s logs:\n%s", name, p.fg.logs.String())
		}
	})
	p.await(t, "ready", func() bool { return p.ready(t) })
	return p
}

func (p *flowguardProcess) ready(t *testing.T) bool {
	resp, err := http.Get(p.readyz)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

func (p *flowguardProcess) signal(t *testing.T, sig syscall.Signal) {
	t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		t.Fatalf("signal flowguard %s: %v", p.name, err)
	}
}

// await waits until cond holds, for at most a minute.
func (p *flowguardProcess) await(t *testing.T, what string, cond func() bool) {
	t.Helper()
	err := wait.PollUntilContextTimeout(t.Context(), 200*time.Millisecond, time.Minute, true, func(context.Context) (bool, error) {
		return cond(), nil
	})
	if err != nil {
		t.Fatalf("flowguard %s: %s never happened: %v\n%s", p.name, what, err, p.fg.logs.String())
	}
}
