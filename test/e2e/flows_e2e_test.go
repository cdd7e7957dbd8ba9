//go:build e2e

package e2e

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/pflag"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/yaml"

	"github.com/flowguard/flowguard/api/v1alpha1"
	"github.com/flowguard/flowguard/cmd/flowguard/app"
	"github.com/flowguard/flowguard/flows/observed"
	"github.com/flowguard/flowguard/replica"
	"github.com/flowguard/flowguard/test/cluster"
	"github.com/flowguard/flowguard/webhook/webhooktest"
)

// flowsPolicies add, to webhookCluster, api's admin ports that web may reach.
const flowsPolicies = `
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: allow-web-to-api-admin, namespace: shop}
spec:
  podSelector: {matchLabels: {app: api}}
  policyTypes: [Ingress]
  ingress:
  - from: [{namespaceSelector: {matchLabels: {team: web}}}]
    ports: [{port: 8443, protocol: TCP}, {port: 9090, protocol: TCP}]
`

// frontendDNSOnly would cut every connection frontend makes to api.
const frontendDNSOnly = `
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: frontend-dns-only, namespace: web}
spec:
  podSelector: {matchLabels: {app: frontend}}
  policyTypes: [Egress]
  egress: [{ports: [{port: 53, protocol: UDP}]}]
`

const flowsElectionID = "flowguard-e2e-flows"

// TestFlowsReachEveryReplicaAndSurviveRestarts runs two replicas of flowguard serve, with
// leader election, against the real API server and the real Goldmane of Calico v3.31.0. Flows
// arrive through Goldmane streaming, through HTTP ingest (NDJSON over TLS with the bearer
// token) and from a Calico flow-log file. The elected replica writes them to ObservedTraffic;
// the other replica's admission decision names them. Then both replicas and Goldmane are
// stopped and started again, Goldmane receiving again what Felix re-sends after its restart:
// the learned traffic is back, from the shards, and nothing is counted twice.
func TestFlowsReachEveryReplicaAndSurviveRestarts(t *testing.T) {
	c := cluster.StartForTest(t, cluster.Options{})
	ctx := t.Context()
	if _, err := c.KubectlStdin(ctx, webhookCluster+"---\n"+flowsPolicies, "apply", "-f", "-"); err != nil {
		t.Fatal(err)
	}
	env := newFlowsEnv(t, c)
	env.goldmane.start()

	a := env.startReplica(t, "a")
	a.awaitLeader(t)
	b := env.startReplica(t, "b")
	t.Run("a replica that is not elected refuses HTTP ingest, so that the shipper retries", func(t *testing.T) {
		code, body := b.ingest(t, "")
		if code != http.StatusServiceUnavailable {
			t.Errorf("ingest on the replica not elected: %d %s, want 503", code, body)
		}
		if got := b.metric(t, "flowguard_traffic_leader"); got != 0 {
			t.Errorf("flowguard_traffic_leader of the replica not elected = %v", got)
		}
		if got := b.metric(t, "flowguard_flow_ingest_not_leader_total"); got != 1 {
			t.Errorf("flowguard_flow_ingest_not_leader_total of the replica not elected = %v, want 1", got)
		}
	})
	env.pointWebhookAt(t, b)

	first := time.Now().Unix()
	env.goldmane.push(frontendToAPI(8080, 5, first))
	if code, body := a.ingest(t, calicoRecord(8443, "src", 7, first)); code != http.StatusOK || !strings.Contains(body, `"accepted":1`) {
		t.Fatalf("HTTP ingest on the elected replica: %d %s", code, body)
	}
	want := map[string]uint64{
		"web/frontend-7d9f8b6c5-* -> shop/api-6f8d9c7b4-*:8080 dst": 5, // Goldmane
		"web/frontend-7d9f8b6c5-* -> shop/api-6f8d9c7b4-*:8443 src": 7, // HTTP ingest
		"web/frontend-7d9f8b6c5-* -> shop/api-6f8d9c7b4-*:9090 dst": 3, // flow-log file
	}
	env.awaitLearned(t, "the three sources in ObservedTraffic", want)
	env.awaitRefusal(t, "the replica not elected refuses a change that cuts the learned traffic", "(15 connections)")

	t.Run("Goldmane's resume point is saved with the shards", func(t *testing.T) {
		var cm corev1.ConfigMap
		if err := c.Client.Get(ctx, types.NamespacedName{Namespace: flowguardNamespace, Name: flowsElectionID + "-goldmane"}, &cm); err != nil {
			t.Fatal(err)
		}
		if w, err := time.Parse(time.RFC3339, cm.Data["watermark"]); err != nil || w.Unix() < first+1 {
			t.Errorf("resume point %q, want the end of the window pushed (%d) or later", cm.Data["watermark"], first+1)
		}
	})

	b.stop()
	a.stop()
	env.goldmane.stop()
	env.goldmane.start()
	// Felix re-sends to the restarted Goldmane what it reported before, before flowguard is
	// back: the new elected replica's List finds it.
	env.goldmane.push(frontendToAPI(8080, 5, first))
	env.goldmane.awaitListed(1)

	a = env.startReplica(t, "a-restarted")
	a.awaitLeader(t)
	b = env.startReplica(t, "b-restarted")
	env.pointWebhookAt(t, b)
	env.awaitRefusal(t, "after restarting everything the learned traffic is back, from the shards", "(15 connections)")

	second := max(time.Now().Unix(), first+2)
	env.goldmane.push(frontendToAPI(8080, 2, second))
	if code, body := a.ingest(t, calicoRecord(8443, "src", 1, second)); code != http.StatusOK {
		t.Fatalf("HTTP ingest on the new elected replica: %d %s", code, body)
	}
	want["web/frontend-7d9f8b6c5-* -> shop/api-6f8d9c7b4-*:8080 dst"] += 2
	want["web/frontend-7d9f8b6c5-* -> shop/api-6f8d9c7b4-*:8443 src"]++
	env.awaitLearned(t, "the new traffic and nothing counted twice", want)
	env.awaitRefusal(t, "the new replica not elected sees the new traffic", "(18 connections)")
	for metric, atLeast := range map[string]float64{
		"flowguard_traffic_leader":                               1,
		"flowguard_goldmane_sessions_total":                      1,
		"flowguard_flow_records_ingested_total":                  1, // one HTTP record since the restart
		"flowguard_observed_traffic_last_sync_timestamp_seconds": float64(first),
	} {
		if got := a.metric(t, metric); got < atLeast {
			t.Errorf("%s on the elected replica = %v, want at least %v", metric, got, atLeast)
		}
	}
	if got := b.metric(t, "flowguard_observed_traffic_seeded"); got != 1 {
		t.Errorf("flowguard_observed_traffic_seeded on the replica not elected = %v, want 1", got)
	}
}

// flowsEnv is what the replicas share: the control plane, Goldmane, their serving certificate,
// the ingest token and the flow log they follow.
type flowsEnv struct {
	c        *cluster.Cluster
	goldmane *goldmaneServer
	pki      *goldmanePKI
	ca       *webhooktest.CA
	certDir  string
	token    string
	tokenDir string
	flowLog  string
	vwc      *admissionregistrationv1.ValidatingWebhookConfiguration
}

func newFlowsEnv(t *testing.T, c *cluster.Cluster) *flowsEnv {
	t.Helper()
	e := &flowsEnv{c: c, pki: newGoldmanePKI(t), certDir: t.TempDir(), tokenDir: t.TempDir(), token: "e2e-ingest-token"}
	// One-second windows keep the test short; the replicas are told the same.
	e.goldmane = newGoldmaneServer(t, e.pki, time.Second)
	var err error
	if e.ca, err = webhooktest.NewCA("flowguard-e2e", time.Now()); err != nil {
		t.Fatal(err)
	}
	if _, err := e.ca.WriteServingCert(e.certDir, time.Now(), "127.0.0.1"); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(e.tokenDir, "token"), []byte(e.token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// The flow log Felix wrote before flowguard first started: read from its start, once.
	e.flowLog = filepath.Join(t.TempDir(), "flows.log")
	if err := os.WriteFile(e.flowLog, []byte(calicoRecord(9090, "dst", 3, time.Now().Unix())), 0o600); err != nil {
		t.Fatal(err)
	}
	return e
}

// calicoRecord is a Calico flow-log line of frontend calling api, as a shipper sends it.
func calicoRecord(port int, reporter string, flows, end int64) string {
	return fmt.Sprintf(`{"start_time":%d,"end_time":%d,"source_ip":null,"source_name":"-","source_name_aggr":"frontend-7d9f8b6c5-*",`+
		`"source_namespace":"web","source_type":"wep","source_labels":{"labels":["app=frontend"]},"source_port":null,`+
		`"dest_ip":null,"dest_name":"-","dest_name_aggr":"api-6f8d9c7b4-*","dest_namespace":"shop","dest_type":"wep",`+
		`"dest_labels":{"labels":["app=api"]},"dest_port":%d,"proto":"tcp","action":"allow","reporter":%q,`+
		`"policies":{"enforced_policies":["0|default|shop/knp.default.allow-web-to-api-admin|allow|0"]},`+
		`"bytes_in":%d,"bytes_out":%d,"num_flows":%d,"num_flows_started":%d,"num_flows_completed":%d,"packets_in":%d,"packets_out":%d}`+"\n",
		end-30, end, port, reporter, 1000*flows, 500*flows, flows, flows, flows, 10*flows, 8*flows)
}

// servedReplica is one flowguard serve running in the test process, with metrics of its own.
type servedReplica struct {
	name     string
	url      string
	registry *prometheus.Registry
	client   *http.Client
	token    string
	logs     *lockedBuffer
	stop     func()
}

func (e *flowsEnv) startReplica(t *testing.T, name string) *servedReplica {
	t.Helper()
	webhookPort, probePort := freePort(t), freePort(t)
	o := app.NewServeOptions()
	fs := pflag.NewFlagSet("serve", pflag.ContinueOnError)
	o.AddFlags(fs)
	args := []string{
		"--kubeconfig=" + e.c.Kubeconfig,
		"--namespace=" + flowguardNamespace,
		"--webhook-host=127.0.0.1",
		fmt.Sprintf("--webhook-port=%d", webhookPort),
		"--cert-dir=" + e.certDir,
		"--metrics-bind-address=0",
		fmt.Sprintf("--health-probe-bind-address=127.0.0.1:%d", probePort),
		"--leader-elect=true",
		"--leader-election-id=" + flowsElectionID,
		"--auditor=false",
		"--goldmane-address=" + e.goldmane.addr(),
		"--goldmane-cert-dir=" + e.pki.ClientDir,
		"--goldmane-aggregation-window=1s",
		"--ingest-token-file=" + filepath.Join(e.tokenDir, "token"),
		"--flow-log=" + e.flowLog,
		"--observed-traffic-sync-interval=1s",
	}
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	if err := o.Validate(); err != nil {
		t.Fatal(err)
	}
	r := &servedReplica{name: name, url: fmt.Sprintf("https://127.0.0.1:%d", webhookPort), registry: prometheus.NewRegistry(),
		token: e.token, logs: &lockedBuffer{}}
	r.client = &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: e.ca.Pool()}}}
	o.Registry = r.registry
	logOpts := app.LogOptions{Level: "debug", Format: "console"}
	ctx, cancel := context.WithCancel(logf.IntoContext(context.Background(), logOpts.Logger(r.logs)))
	done := make(chan error, 1)
	go func() { done <- app.RunServe(ctx, o) }()
	r.stop = sync.OnceFunc(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("flowguard serve %s: %v", name, err)
		}
	})
	t.Cleanup(func() {
		r.stop()
		if t.Failed() {
			t.Logf("flowguard %s logs:\n%s", name, r.logs.String())
		}
	})

	readyz := fmt.Sprintf("http://127.0.0.1:%d/readyz", probePort)
	err := wait.PollUntilContextTimeout(t.Context(), 100*time.Millisecond, 60*time.Second, true, func(context.Context) (bool, error) {
		resp, err := http.Get(readyz)
		if err != nil {
			return false, nil
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, nil
	})
	if err != nil {
		t.Fatalf("flowguard %s did not become ready: %v\n%s", name, err, r.logs.String())
	}
	return r
}

// ingest posts an NDJSON body to the replica's HTTP ingest with the bearer token.
func (r *servedReplica) ingest(t *testing.T, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, r.url+replica.IngestPath, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-ndjson")
	req.Header.Set("Authorization", "Bearer "+r.token)
	resp, err := r.client.Do(req)
	if err != nil {
		t.Fatalf("POST %s to %s: %v", replica.IngestPath, r.name, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// awaitLeader waits until the replica is elected and ingests: its HTTP ingest accepts.
func (r *servedReplica) awaitLeader(t *testing.T) {
	t.Helper()
	err := wait.PollUntilContextTimeout(t.Context(), 200*time.Millisecond, 60*time.Second, true, func(context.Context) (bool, error) {
		code, _ := r.ingest(t, "")
		return code == http.StatusOK, nil
	})
	if err != nil {
		t.Fatalf("flowguard %s was never elected: %v\n%s", r.name, err, r.logs.String())
	}
}

// metric sums the samples of one metric in the replica's registry.
func (r *servedReplica) metric(t *testing.T, name string) float64 {
	t.Helper()
	families, err := r.registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			sum += m.GetGauge().GetValue() + m.GetCounter().GetValue()
		}
	}
	return sum
}

// pointWebhookAt makes the API server call r for admission, with config/webhook's
// configuration as shipped but for the URL.
func (e *flowsEnv) pointWebhookAt(t *testing.T, r *servedReplica) {
	t.Helper()
	ctx := t.Context()
	if e.vwc == nil {
		root, err := cluster.ModuleRoot()
		if err != nil {
			t.Fatal(err)
		}
		data, err := os.ReadFile(filepath.Join(root, "config", "webhook", "manifests.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		e.vwc = &admissionregistrationv1.ValidatingWebhookConfiguration{}
		if err := yaml.UnmarshalStrict(data, e.vwc); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if err := e.c.Client.Delete(context.Background(), e.vwc); err != nil {
				t.Errorf("delete ValidatingWebhookConfiguration: %v", err)
			}
		})
	}
	url := r.url + "/validate"
	for i := range e.vwc.Webhooks {
		e.vwc.Webhooks[i].ClientConfig = admissionregistrationv1.WebhookClientConfig{URL: &url, CABundle: e.ca.PEM}
	}
	var err error
	if e.vwc.ResourceVersion == "" {
		err = e.c.Client.Create(ctx, e.vwc)
	} else {
		err = e.c.Client.Update(ctx, e.vwc)
	}
	if err != nil {
		t.Fatalf("point the webhook at %s: %v", r.name, err)
	}
}

// awaitRefusal waits until a server-side dry run of frontendDNSOnly is refused by the replica
// the webhook calls, with a message holding want: its graph holds the flows it would cut.
func (e *flowsEnv) awaitRefusal(t *testing.T, what, want string) {
	t.Helper()
	fg := &runningFlowguard{c: e.c}
	var last kubectlResult
	err := wait.PollUntilContextTimeout(t.Context(), 250*time.Millisecond, 60*time.Second, true, func(context.Context) (bool, error) {
		last = fg.kubectl(t, frontendDNSOnly, "apply", "--dry-run=server", "-f", "-")
		return last.err != nil && strings.Contains(last.stderr, want), nil
	})
	if err != nil {
		t.Fatalf("%s: the refusal never said %q; last kubectl run: %+v", what, want, last)
	}
	for _, port := range []string{":8080/TCP", ":8443/TCP", ":9090/TCP"} {
		assertContains(t, what, last.stderr, "shop/api-6f8d9c7b4-*"+port)
	}
}

// awaitLearned waits until the ObservedTraffic objects hold want: flows per connection and
// reporter, summed over every shard and bucket. Counts only grow, so a count past want fails
// at once: something was counted twice.
func (e *flowsEnv) awaitLearned(t *testing.T, what string, want map[string]uint64) {
	t.Helper()
	var got map[string]uint64
	err := wait.PollUntilContextTimeout(t.Context(), 250*time.Millisecond, 60*time.Second, true, func(ctx context.Context) (bool, error) {
		var list v1alpha1.ObservedTrafficList
		if err := e.c.Client.List(ctx, &list); err != nil {
			return false, err
		}
		got = map[string]uint64{}
		for i := range list.Items {
			edges, err := observed.Decode(&list.Items[i])
			if err != nil {
				return false, err
			}
			for _, ed := range edges {
				key := fmt.Sprintf("%s/%s -> %s/%s:%d %s", ed.Src.Namespace, ed.Src.Name, ed.Dst.Namespace, ed.Dst.Name, ed.DstPort, ed.Reporter)
				for _, b := range ed.Buckets {
					got[key] += b.Flows
				}
			}
		}
		for k, n := range got {
			if n > want[k] {
				return false, fmt.Errorf("%s: %d flows, more than the %d sent", k, n, want[k])
			}
		}
		return maps.Equal(got, want), nil
	})
	if err != nil {
		keys := slices.Sorted(maps.Keys(got))
		var b strings.Builder
		for _, k := range keys {
			fmt.Fprintf(&b, "  %s: %d\n", k, got[k])
		}
		t.Fatalf("%s: %v; ObservedTraffic holds:\n%s", what, err, b.String())
	}
}
