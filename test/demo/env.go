package demo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/yaml"

	"github.com/flowguard/flowguard/test/cluster"
	"github.com/flowguard/flowguard/webhook/webhooktest"
)

// Namespace is the namespace flowguard runs in; the webhook never judges it.
const Namespace = "flowguard-system"

// Options say where the demo finds what it runs and where it writes.
type Options struct {
	// Root is the module root: examples/shop and config/ are read from it.
	Root string
	// Dir is the demo's own folder (bin/demo): kubeconfig, certificates, the replayed flow log
	// and flowguard's log.
	Dir string
	// AssetsDir holds etcd, kube-apiserver and kubectl (make envtest).
	AssetsDir string
	// Flowguard is the flowguard binary that runs `flowguard serve`.
	Flowguard string
	// Progress receives one line per setup step.
	Progress io.Writer
}

// Kubeconfig is the kubeconfig file Up writes, for kubectl and for exploring afterwards.
func (o Options) Kubeconfig() string { return filepath.Join(o.Dir, "kubeconfig") }

// Env is the running demo: the control plane, the shop and flowguard serve.
type Env struct {
	Options
	// Cluster is the control plane.
	Cluster *cluster.Cluster
	// MetricsURL is flowguard's Prometheus endpoint.
	MetricsURL string

	serve     *exec.Cmd
	serveDone chan error
}

// Up starts everything the story needs, saying what it does at each step. On error what was
// started is stopped again.
func Up(ctx context.Context, o Options) (*Env, error) {
	e := &Env{Options: o}
	if err := e.up(ctx); err != nil {
		return nil, errors.Join(err, e.Down())
	}
	return e, nil
}

func (e *Env) up(ctx context.Context) error {
	if err := os.MkdirAll(e.Dir, 0o755); err != nil {
		return fmt.Errorf("create demo folder: %w", err)
	}
	e.say("Starting a Kubernetes control plane (etcd and kube-apiserver from %s)", e.AssetsDir)
	c, err := cluster.Start(cluster.Options{AssetsDir: e.AssetsDir, CRDDirs: cluster.DefaultCRDDirs(e.Root)})
	if err != nil {
		return err
	}
	e.Cluster = c
	if err := os.WriteFile(e.Kubeconfig(), c.Environment.KubeConfig, 0o600); err != nil {
		return fmt.Errorf("write kubeconfig: %w", err)
	}
	e.say("  API server at %s; %d CRDs installed: flowguard's (AuditSchedule, reports, RegoRule, ObservedTraffic), Calico's projectcalico.org/v3 kinds and cert-manager's",
		c.Config.Host, len(c.CRDs))

	e.say("Applying the example shop (examples/shop): five namespaces, their workloads and today's network policies")
	if out, err := c.Kubectl(ctx, "apply", "-f", filepath.Join(e.Root, "examples", "shop")); err != nil {
		return fmt.Errorf("apply examples/shop: %w\n%s", err, out)
	}
	if err := c.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: Namespace}}); err != nil {
		return fmt.Errorf("create namespace %s: %w", Namespace, err)
	}

	flowLog := filepath.Join(e.Dir, "flows.jsonl")
	n, newest, err := ReplayFlows(filepath.Join(e.Root, "examples", "shop", "flows.jsonl"), flowLog, time.Now().Add(-time.Minute))
	if err != nil {
		return err
	}
	e.say("Replaying the shop's day of Calico flow logs (%d records) as if the last one ended at %s", n, newest.Format("15:04:05 MST"))

	e.say("Starting flowguard serve (log: %s)", filepath.Join(e.Dir, "flowguard.log"))
	ca, err := webhooktest.NewCA("flowguard-demo", time.Now())
	if err != nil {
		return err
	}
	certDir := filepath.Join(e.Dir, "certs")
	if err := os.MkdirAll(certDir, 0o700); err != nil {
		return fmt.Errorf("create certificate folder: %w", err)
	}
	if _, err := ca.WriteServingCert(certDir, time.Now(), "127.0.0.1"); err != nil {
		return err
	}
	ports, err := freePorts(3)
	if err != nil {
		return err
	}
	if err := e.startServe(flowLog, ports); err != nil {
		return err
	}
	if err := e.waitReady(ctx, fmt.Sprintf("http://127.0.0.1:%d/readyz", ports[2])); err != nil {
		return err
	}
	e.say("  flowguard is ready; waiting until it has learned the flows")
	if err := e.waitFlows(ctx, n); err != nil {
		return err
	}
	edges, _ := e.metric("flowguard_traffic_graph_edges")
	e.say("  %d flow records read into a traffic graph of %.0f edges (who talks to whom, on which port)", n, edges)

	e.say("Installing the ValidatingWebhookConfiguration of config/webhook, calling flowguard over TLS")
	if err := e.installWebhook(ctx, fmt.Sprintf("https://127.0.0.1:%d/validate", ports[0]), ca.PEM); err != nil {
		return err
	}
	return nil
}

// startServe runs flowguard serve with its log in Dir/flowguard.log. ports are the webhook's,
// the metrics' and the health probes'.
func (e *Env) startServe(flowLog string, ports []int) error {
	logFile, err := os.Create(filepath.Join(e.Dir, "flowguard.log"))
	if err != nil {
		return fmt.Errorf("create flowguard log: %w", err)
	}
	cmd := exec.Command(e.Flowguard, "serve",
		"--kubeconfig="+e.Kubeconfig(),
		"--namespace="+Namespace,
		"--webhook-host=127.0.0.1",
		fmt.Sprintf("--webhook-port=%d", ports[0]),
		"--cert-dir="+filepath.Join(e.Dir, "certs"),
		fmt.Sprintf("--metrics-bind-address=127.0.0.1:%d", ports[1]),
		fmt.Sprintf("--health-probe-bind-address=127.0.0.1:%d", ports[2]),
		"--leader-elect=false",
		"--flow-log="+flowLog,
	)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return fmt.Errorf("start %s serve: %w", e.Flowguard, err)
	}
	e.serve, e.serveDone = cmd, make(chan error, 1)
	e.MetricsURL = fmt.Sprintf("http://127.0.0.1:%d/metrics", ports[1])
	go func() {
		e.serveDone <- cmd.Wait()
		logFile.Close()
	}()
	return nil
}

// waitReady waits until flowguard's readiness probe passes.
func (e *Env) waitReady(ctx context.Context, url string) error {
	err := e.poll(ctx, time.Minute, func() bool {
		resp, err := http.Get(url)
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	if err != nil {
		return fmt.Errorf("flowguard serve did not become ready: %w (log: %s)", err, filepath.Join(e.Dir, "flowguard.log"))
	}
	return nil
}

// waitFlows waits until flowguard has read n records from the flow log.
func (e *Env) waitFlows(ctx context.Context, n int) error {
	err := e.poll(ctx, time.Minute, func() bool {
		v, err := e.metric(`flowguard_flow_records_ingested_total{source="file"}`)
		return err == nil && v >= float64(n)
	})
	if err != nil {
		got, _ := e.metric(`flowguard_flow_records_ingested_total{source="file"}`)
		return fmt.Errorf("flowguard read %.0f of the %d flow records: %w (log: %s)", got, n, err, filepath.Join(e.Dir, "flowguard.log"))
	}
	return nil
}

// poll calls done every 200ms until it is true, flowguard exits or timeout passes.
func (e *Env) poll(ctx context.Context, timeout time.Duration, done func() bool) error {
	return wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, timeout, true, func(context.Context) (bool, error) {
		select {
		case err := <-e.serveDone:
			e.serveDone <- err
			return false, fmt.Errorf("flowguard serve exited: %w", err)
		default:
		}
		return done(), nil
	})
}

// metric reads one sample of flowguard's metrics; series is written as Prometheus prints it.
func (e *Env) metric(series string) (float64, error) {
	resp, err := http.Get(e.MetricsURL)
	if err != nil {
		return 0, fmt.Errorf("scrape flowguard metrics: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, fmt.Errorf("read flowguard metrics: %w", err)
	}
	for _, line := range strings.Split(string(body), "\n") {
		if rest, ok := strings.CutPrefix(line, series+" "); ok {
			var v float64
			if _, err := fmt.Sscan(rest, &v); err != nil {
				return 0, fmt.Errorf("metric %q: %w", line, err)
			}
			return v, nil
		}
	}
	return 0, fmt.Errorf("flowguard metrics have no %s", series)
}

// installWebhook creates config/webhook's ValidatingWebhookConfiguration as shipped, except that
// the API server reaches flowguard by URL instead of through the Service, and waits until the
// API server calls it (it loads webhook configurations asynchronously).
func (e *Env) installWebhook(ctx context.Context, url string, caPEM []byte) error {
	path := filepath.Join(e.Root, "config", "webhook", "manifests.yaml")
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("read webhook configuration: %w", err)
	}
	var vwc admissionregistrationv1.ValidatingWebhookConfiguration
	if err := yaml.UnmarshalStrict(data, &vwc); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	for i := range vwc.Webhooks {
		vwc.Webhooks[i].ClientConfig = admissionregistrationv1.WebhookClientConfig{URL: &url, CABundle: caPEM}
	}
	if err := e.Cluster.Client.Create(ctx, &vwc); err != nil {
		return fmt.Errorf("create ValidatingWebhookConfiguration: %w", err)
	}
	// A server-side dry run of an allow-all policy is answered with flowguard's warning once
	// the API server calls it.
	probe := "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: probe, namespace: storefront}\n" +
		"spec: {podSelector: {}, ingress: [{}]}\n"
	var last string
	err = e.poll(ctx, 30*time.Second, func() bool {
		cmd := e.Cluster.KubectlCommand(ctx, "apply", "--dry-run=server", "-f", "-")
		cmd.Stdin = strings.NewReader(probe)
		out, _ := cmd.CombinedOutput()
		last = string(out)
		return strings.Contains(last, "[allow-all]")
	})
	if err != nil {
		return fmt.Errorf("the API server never called flowguard: %w; last dry run said: %s", err, last)
	}
	return nil
}

// Down stops flowguard serve and the control plane. It is safe to call more than once.
func (e *Env) Down() error {
	var errs []error
	if e.serve != nil {
		_ = e.serve.Process.Signal(syscall.SIGTERM)
		select {
		case err := <-e.serveDone:
			var exit *exec.ExitError
			if err != nil && !errors.As(err, &exit) {
				errs = append(errs, fmt.Errorf("flowguard serve: %w", err))
			}
		case <-time.After(40 * time.Second):
			_ = e.serve.Process.Kill()
			errs = append(errs, errors.New("flowguard serve did not stop within 40s of SIGTERM; killed"))
		}
		e.serve = nil
	}
	if e.Cluster != nil {
		errs = append(errs, e.Cluster.Stop())
		e.Cluster = nil
	}
	return errors.Join(errs...)
}

// say prints a step of the setup; a line starting with spaces details the step before it.
func (e *Env) say(format string, args ...any) {
	if e.Progress == nil {
		return
	}
	prefix := "==> "
	if strings.HasPrefix(format, " ") {
		prefix = "  "
	}
	fmt.Fprintf(e.Progress, prefix+format+"\n", args...)
}

// freePorts returns n ports free on the loopback address now.
func freePorts(n int) ([]int, error) {
	var ports []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("find a free port: %w", err)
		}
		defer l.Close()
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}
