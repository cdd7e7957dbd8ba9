//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/yaml"

	"github.com/flowguard/flowguard/flows"
	"github.com/flowguard/flowguard/test/cluster"
	"github.com/flowguard/flowguard/webhook/webhooktest"
)

// flowguardNamespace is the namespace the webhook under test believes it runs in.
const flowguardNamespace = "flowguard-system"

// runningFlowguard is `flowguard serve` running against the control plane, called by the API
// server through the ValidatingWebhookConfiguration of config/webhook.
type runningFlowguard struct {
	c          *cluster.Cluster
	metricsURL string
	logs       *lockedBuffer
}

// startFlowguard runs the flowguard binary's serve with args (besides the addresses and
// certificates it chooses) as a process of its own, as a Pod runs it, waits until it reports
// ready, installs config/webhook's configuration pointing at it over TLS with a CA made for the
// test, and waits until the API server calls it.
func startFlowguard(t *testing.T, c *cluster.Cluster, args ...string) *runningFlowguard {
	t.Helper()
	now := time.Now()
	certDir := t.TempDir()
	ca, err := webhooktest.NewCA("flowguard-e2e", now)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ca.WriteServingCert(certDir, now, "127.0.0.1"); err != nil {
		t.Fatal(err)
	}
	p := startFlowguardProcess(t, buildFlowguard(t), "serve", c.Kubeconfig, certDir,
		append([]string{"--leader-elect=false", "--log-level=debug"}, args...)...)
	p.fg.c = c
	p.fg.installWebhookConfiguration(t, p.webhookURL+"/validate", ca.PEM)
	return p.fg
}

// installWebhookConfiguration creates config/webhook's ValidatingWebhookConfiguration as shipped,
// except that the API server reaches flowguard by URL instead of through the Service.
func (fg *runningFlowguard) installWebhookConfiguration(t *testing.T, url string, caPEM []byte) {
	t.Helper()
	root, err := cluster.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(root, "config", "webhook", "manifests.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var vwc admissionregistrationv1.ValidatingWebhookConfiguration
	if err := yaml.UnmarshalStrict(data, &vwc); err != nil {
		t.Fatalf("config/webhook/manifests.yaml: %v", err)
	}
	for i := range vwc.Webhooks {
		vwc.Webhooks[i].ClientConfig = admissionregistrationv1.WebhookClientConfig{URL: &url, CABundle: caPEM}
	}
	if err := fg.c.Client.Create(t.Context(), &vwc); err != nil {
		t.Fatalf("create ValidatingWebhookConfiguration: %v", err)
	}
	t.Cleanup(func() {
		if err := fg.c.Client.Delete(context.Background(), &vwc); err != nil {
			t.Errorf("delete ValidatingWebhookConfiguration: %v", err)
		}
	})
}

// waitForWebhook waits until the API server calls flowguard for a namespaced and a cluster-scoped
// change: it reloads webhook configurations asynchronously. probe is a server-side dry run that
// flowguard answers with a warning.
func (fg *runningFlowguard) waitForWebhook(t *testing.T, probe, wantWarning string) {
	t.Helper()
	var last kubectlResult
	err := wait.PollUntilContextTimeout(t.Context(), 200*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		last = fg.kubectl(t, probe, "apply", "--dry-run=server", "-f", "-")
		return strings.Contains(last.stderr, wantWarning), nil
	})
	if err != nil {
		t.Fatalf("the API server never called flowguard: last kubectl run: %+v\n%s", last, fg.logs.String())
	}
}

// kubectlResult is what the real kubectl printed and whether it succeeded.
type kubectlResult struct {
	stdout, stderr string
	err            error
}

// kubectl runs the real kubectl with stdin, keeping stderr: that is where warnings appear.
func (fg *runningFlowguard) kubectl(t *testing.T, stdin string, args ...string) kubectlResult {
	t.Helper()
	cmd := fg.c.KubectlCommand(t.Context(), args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdin = strings.NewReader(stdin)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	return kubectlResult{stdout: stdout.String(), stderr: stderr.String(), err: err}
}

// metric returns the value of one sample of flowguard's metrics endpoint, 0 when absent. series
// is written as Prometheus prints it, e.g. `flowguard_webhook_decisions_total{action="dryrun",rule="x"}`.
func (fg *runningFlowguard) metric(t *testing.T, series string) float64 {
	t.Helper()
	resp, err := http.Get(fg.metricsURL)
	if err != nil {
		t.Fatalf("scrape metrics: %v", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(body), "\n") {
		if rest, ok := strings.CutPrefix(line, series+" "); ok {
			var v float64
			if _, err := fmt.Sscan(rest, &v); err != nil {
				t.Fatalf("metric %s: %v", line, err)
			}
			return v
		}
	}
	return 0
}

// lockedBuffer collects flowguard's logs, written from many goroutines, for failing tests.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// observedFlows writes a traffic graph snapshot holding the flows the scenarios rely on, as a
// Calico deployment would have reported them in the last few minutes, and returns its path.
func observedFlows(t *testing.T, now time.Time) string {
	t.Helper()
	g, err := flows.NewGraph(flows.GraphOptions{})
	if err != nil {
		t.Fatal(err)
	}
	workload := func(ns, aggr, app string) flows.Endpoint {
		return flows.Endpoint{Type: flows.TypeWorkload, Namespace: ns, Name: aggr,
			Labels: flows.Labels{{Key: "app", Value: app}}, ServiceAccount: "default"}
	}
	frontend := workload("web", "frontend-7d9f8b6c5-*", "frontend")
	api := workload("shop", "api-6f8d9c7b4-*", "api")
	for _, reporter := range []flows.Reporter{flows.ReporterSrc, flows.ReporterDst} {
		g.Add(&flows.Record{
			Src: frontend, Dst: api, DstPort: 8080, Proto: flows.ProtoTCP,
			Action: flows.ActionAllow, Reporter: reporter,
			Flows: 12, Bytes: 48_000, Packets: 120, FlowsStarted: 12, FlowsEnded: 12,
			Start: now.Add(-10 * time.Minute), End: now.Add(-time.Minute),
		})
	}
	path := filepath.Join(t.TempDir(), "traffic.snapshot")
	if err := g.SaveFile(path); err != nil {
		t.Fatal(err)
	}
	return path
}
