package webhook

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	admissionv1 "k8s.io/api/admission/v1"
	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	clocktesting "k8s.io/utils/clock/testing"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/flowguard/flowguard/flows"
	"github.com/flowguard/flowguard/rego"
	"github.com/flowguard/flowguard/test/synth"
	"github.com/flowguard/flowguard/webhook/webhooktest"
)

// loadRecords is the size of the traffic graph behind the load benchmarks.
const loadRecords = 1_000_000

// loadTarget is flowguard's webhook as the API server sees it: the real handler with the
// built-in rule library over test/synth's verdict-scale cluster (2,000 Deployments, 2,000
// policies, 500 namespaces) and a traffic graph of loadRecords Calico flow records, served
// over TLS on loopback.
type loadTarget struct {
	load     *webhooktest.Load
	handler  *Handler
	expected []bool
	// serverTimes records the time spent inside the server per review: body read, decode,
	// decision, encode.
	serverTimes *timings
}

func newLoadTarget(b *testing.B, workers int) *loadTarget {
	b.Helper()
	now := time.Date(2025, 10, 1, 12, 0, 0, 0, time.UTC)
	sc := synth.Generate(synth.VerdictScale())
	state := NewState(clocktesting.NewFakeClock(now))
	for _, obj := range sc.Objects {
		if err := state.Apply(obj); err != nil {
			b.Fatalf("synthetic object: %v", err)
		}
	}
	g := syntheticTraffic(b, sc, now)
	state.SetTraffic(g)
	st := g.Stats()
	b.Logf("cluster: %d objects, %d policies; traffic graph: %d records, %d identities, %d edges",
		len(sc.Objects), sc.Policies, st.Added, st.Identities, st.Edges)

	engine, err := rego.NewEngine(state, rego.Options{Deadline: DefaultDeadline})
	if err != nil {
		b.Fatal(err)
	}
	state.OnPublish(engine.Warm)
	state.Publish()
	metrics, err := NewMetrics(prometheus.NewRegistry(), time.Now, state.TrafficUpdated)
	if err != nil {
		b.Fatal(err)
	}
	h, err := NewHandler(Options{Decider: engine, Config: DefaultConfig("flowguard-system"), Metrics: metrics})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(h.Close)

	dir := b.TempDir()
	ca, err := webhooktest.NewCA("load", time.Now())
	if err != nil {
		b.Fatal(err)
	}
	if _, err := ca.WriteServingCert(dir, time.Now(), "127.0.0.1"); err != nil {
		b.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	srv, certs, err := NewServer(ServerOptions{Host: "127.0.0.1", Port: port, CertDir: dir}, logr.Discard())
	if err != nil {
		b.Fatal(err)
	}
	t := &timings{}
	t.reset()
	srv.Register(Path, t.wrap(serveReviews(h, logr.Discard())))
	ctx, cancel := context.WithCancel(context.Background())
	b.Cleanup(cancel)
	go func() { _ = certs.Start(ctx) }()
	go func() { _ = srv.Start(ctx) }()
	started := srv.StartedChecker()
	if err := wait.PollUntilContextTimeout(ctx, 10*time.Millisecond, 30*time.Second, true, func(context.Context) (bool, error) {
		return started(nil) == nil, nil
	}); err != nil {
		b.Fatal(err)
	}

	bodies, expected := loadBodies(b, sc)
	client := webhooktest.NewClient(fmt.Sprintf("https://127.0.0.1:%d%s", port, Path), ca.Pool(), workers)
	target := &loadTarget{serverTimes: t, handler: h, expected: expected,
		load: &webhooktest.Load{Client: client, Bodies: bodies, Workers: workers}}
	// Learn each request's answer once (this also builds the engine's caches for the cluster
	// snapshot), then hold every later answer to it.
	for i, body := range bodies {
		resp, err := client.Send(body)
		if err != nil {
			b.Fatal(err)
		}
		if resp.Allowed != expected[i] {
			b.Fatalf("request %d: allowed = %v, want %v: %s", i, resp.Allowed, expected[i], resp.Result.Message)
		}
		b.Logf("request %d: allowed=%v warnings=%d %.200s", i, resp.Allowed, len(resp.Warnings), resp.Result.Message)
	}
	target.load.Check = func(i int, resp *admissionv1.AdmissionResponse) error {
		if resp.Allowed != expected[i] {
			return fmt.Errorf("request %d: allowed = %v, want %v", i, resp.Allowed, expected[i])
		}
		return nil
	}
	t.reset()
	return target
}

// syntheticTraffic aggregates loadRecords flow records of the synthetic cluster, spread over the
// 24 hours before now, both reporters where both ends report.
func syntheticTraffic(b *testing.B, sc *synth.Cluster, now time.Time) *flows.Graph {
	g, err := flows.NewGraph(flows.GraphOptions{Retention: -1, MaxEdges: -1, Clock: clocktesting.NewFakePassiveClock(now)})
	if err != nil {
		b.Fatal(err)
	}
	g.AddBatch(sc.Records(loadRecords, 1, now, 24*time.Hour))
	return g
}

// loadNames name the reviews of loadBodies in benchmark output.
var loadNames = []string{"allow-policy", "breaking-policy", "workload-label"}

// loadBodies are the AdmissionReviews sent in turn, and whether each must be admitted: a narrow
// allow policy, a Calico policy denying ring traffic the graph holds (refused, naming flows),
// and a Deployment whose pod template gains a label.
func loadBodies(b *testing.B, sc *synth.Cluster) ([][]byte, []bool) {
	b.Helper()
	raw := func(v any) k8sruntime.RawExtension {
		data, err := json.Marshal(v)
		if err != nil {
			b.Fatal(err)
		}
		return k8sruntime.RawExtension{Raw: data}
	}
	allow := rawYAML(b, `
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: bench-allow, namespace: team-003}
spec:
  podSelector: {matchLabels: {app: svc-02}}
  ingress: [{from: [{podSelector: {matchLabels: {app: svc-01}}}], ports: [{port: 8002, protocol: TCP}]}]`)
	deny := rawYAML(b, `
apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata: {name: bench-deny, namespace: team-003}
spec:
  order: 1
  selector: app == 'svc-02'
  types: [Ingress]
  ingress: [{action: Deny, source: {selector: app == 'svc-01'}}]`)
	var oldDep, newDep k8sruntime.RawExtension
	for _, obj := range sc.Objects {
		if d, ok := obj.(*appsv1.Deployment); ok && d.Namespace == "team-003" && d.Name == "svc-02" {
			d = d.DeepCopy()
			d.TypeMeta = metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"}
			oldDep = raw(d)
			d.Spec.Template.Labels["version"] = "v2"
			newDep = raw(d)
		}
	}
	if newDep.Raw == nil {
		b.Fatal("no Deployment team-003/svc-02 in the synthetic cluster")
	}
	reqs := []admissionv1.AdmissionRequest{
		{Kind: gvkNetworkPolicy, Operation: admissionv1.Create, Namespace: "team-003", Name: "bench-allow", Object: allow},
		{Kind: gvkCalicoPolicy, Operation: admissionv1.Create, Namespace: "team-003", Name: "bench-deny", Object: deny},
		{Kind: gvkDeployment, Operation: admissionv1.Update, Namespace: "team-003", Name: "svc-02", Object: newDep, OldObject: oldDep},
	}
	bodies := make([][]byte, len(reqs))
	for i := range reqs {
		reqs[i].UID = types.UID(fmt.Sprintf("load-%d", i))
		var err error
		if bodies[i], err = webhooktest.Body(&reqs[i]); err != nil {
			b.Fatal(err)
		}
	}
	return bodies, []bool{true, false, true}
}

// timings records how long the server spends on each review.
type timings struct {
	rec atomic.Pointer[webhooktest.Recorder]
}

func (t *timings) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		next.ServeHTTP(w, r)
		t.rec.Load().Record(time.Since(start), nil)
	})
}

// reset starts a new series of samples.
func (t *timings) reset() { t.rec.Store(webhooktest.NewRecorder(1 << 20)) }

func (t *timings) result(elapsed time.Duration) webhooktest.LoadResult {
	return t.rec.Load().Result(elapsed)
}

// report adds a run's figures to the benchmark output.
// cpu is the process's CPU time over the run, client and server together, which other work on
// a shared machine does not inflate.
func report(b *testing.B, client webhooktest.LoadResult, server webhooktest.LoadResult, cpu time.Duration) {
	b.ReportMetric(client.Throughput(), "reviews/s")
	if client.Sent > 0 {
		b.ReportMetric(float64(cpu.Microseconds())/float64(client.Sent), "cpu-µs/review")
	}
	b.ReportMetric(float64(client.Quantile(0.50).Microseconds()), "p50-µs")
	b.ReportMetric(float64(client.Quantile(0.99).Microseconds()), "p99-µs")
	b.ReportMetric(float64(server.Quantile(0.50).Microseconds()), "server-p50-µs")
	b.ReportMetric(float64(server.Quantile(0.99).Microseconds()), "server-p99-µs")
	b.ReportMetric(float64(client.Errors), "errors")
	b.ReportMetric(float64(client.Dropped), "dropped")
	if client.Errors > 0 {
		b.Logf("%d of %d reviews failed; first: %v", client.Errors, client.Sent, client.FirstError)
	}
	if client.Dropped > 0 {
		b.Logf("rate not sustained: %d reviews dropped", client.Dropped)
	}
}

// loadDuration is how long each fixed-rate run lasts: FLOWGUARD_LOAD_DURATION, or 20 s.
func loadDuration(b *testing.B) time.Duration {
	if s := os.Getenv("FLOWGUARD_LOAD_DURATION"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil {
			b.Fatalf("FLOWGUARD_LOAD_DURATION: %v", err)
		}
		return d
	}
	return 20 * time.Second
}

// BenchmarkWebhookLoad sends AdmissionReviews over TLS with keep-alive to the webhook on
// loopback, the load generator sharing the machine: at saturation (closed loop, 32 senders)
// and open loop at 1,000 and 5,000 reviews/s, and at 250/s, a rate within the capacity the
// rule engine leaves on 2 cores. Latencies are measured at the client from the moment each
// review was due, and inside the server.
//
//	go test ./webhook -run '^$' -bench WebhookLoad -benchtime 1x -timeout 30m
func BenchmarkWebhookLoad(b *testing.B) {
	target := newLoadTarget(b, 32)
	d := loadDuration(b)
	b.Run("saturation", func(b *testing.B) {
		for b.Loop() {
			target.serverTimes.reset()
			cpu0 := cpuTime()
			client := target.load.Saturate(context.Background(), d)
			report(b, client, target.serverTimes.result(client.Elapsed), cpuTime()-cpu0)
		}
	})
	for _, rate := range []int{250, 1000, 5000} {
		b.Run(fmt.Sprintf("rate=%d", rate), func(b *testing.B) {
			for b.Loop() {
				target.serverTimes.reset()
				cpu0 := cpuTime()
				client := target.load.AtRate(context.Background(), rate, d)
				report(b, client, target.serverTimes.result(client.Elapsed), cpuTime()-cpu0)
			}
		})
	}
}

// BenchmarkWebhookSoak holds FLOWGUARD_SOAK_RATE reviews/s (default 250) for FLOWGUARD_SOAK
// (skipped when unset) and samples the live heap and goroutines every 30 s: both must stay
// flat, and no review may fail.
//
//	FLOWGUARD_SOAK=10m go test ./webhook -run '^$' -bench WebhookSoak -benchtime 1x -timeout 30m
func BenchmarkWebhookSoak(b *testing.B) {
	s := os.Getenv("FLOWGUARD_SOAK")
	if s == "" {
		b.Skip("set FLOWGUARD_SOAK (e.g. 10m) to run the soak")
	}
	total, err := time.ParseDuration(s)
	if err != nil {
		b.Fatalf("FLOWGUARD_SOAK: %v", err)
	}
	rate := 250
	if s := os.Getenv("FLOWGUARD_SOAK_RATE"); s != "" {
		if rate, err = strconv.Atoi(s); err != nil || rate <= 0 {
			b.Fatalf("FLOWGUARD_SOAK_RATE %q: want a positive number", s)
		}
	}
	target := newLoadTarget(b, 32)
	const every = 30 * time.Second
	for b.Loop() {
		var samples []soakSample
		var sent, errs int
		for elapsed := time.Duration(0); elapsed < total; elapsed += every {
			target.serverTimes.reset()
			res := target.load.AtRate(context.Background(), rate, every)
			sent, errs = sent+res.Sent, errs+res.Errors
			if res.Errors > 0 || res.Dropped > 0 {
				b.Errorf("at %s: %d reviews failed, %d dropped; first error: %v", elapsed+every, res.Errors, res.Dropped, res.FirstError)
			}
			samples = append(samples, sampleRuntime(elapsed+every, res, target.serverTimes.result(res.Elapsed)))
			b.Logf("%s", samples[len(samples)-1])
		}
		first, last := samples[0], samples[len(samples)-1]
		b.ReportMetric(float64(sent), "reviews")
		b.ReportMetric(float64(errs), "errors")
		b.ReportMetric(float64(first.heapMiB), "heap-first-MiB")
		b.ReportMetric(float64(last.heapMiB), "heap-last-MiB")
		b.ReportMetric(float64(first.goroutines), "goroutines-first")
		b.ReportMetric(float64(last.goroutines), "goroutines-last")
	}
}

type soakSample struct {
	at                  time.Duration
	heapMiB             uint64
	goroutines          int
	p50, p99, serverP99 time.Duration
}

func (s soakSample) String() string {
	return fmt.Sprintf("t=%s live heap %d MiB, %d goroutines, p50 %s, p99 %s, server p99 %s",
		s.at, s.heapMiB, s.goroutines, s.p50, s.p99, s.serverP99)
}

func sampleRuntime(at time.Duration, client, server webhooktest.LoadResult) soakSample {
	runtime.GC() // live heap, not garbage awaiting collection
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return soakSample{at: at, heapMiB: ms.HeapAlloc >> 20, goroutines: runtime.NumGoroutine(),
		p50: client.Quantile(0.5), p99: client.Quantile(0.99), serverP99: server.Quantile(0.99)}
}

// BenchmarkHandle measures the handler alone, without TLS and HTTP, for each review of the load,
// beside the rule engine's decision for the same request, so that the difference is what the
// webhook itself costs (decoding, routing, Calico checks, mapping the violations).
//
//	go test ./webhook -run '^$' -bench 'Handle$' -benchtime 2000x -benchmem
func BenchmarkHandle(b *testing.B) {
	target := newLoadTarget(b, 1)
	for i, body := range target.load.Bodies {
		var review admissionv1.AdmissionReview
		if err := json.Unmarshal(body, &review); err != nil {
			b.Fatal(err)
		}
		req := admission.Request{AdmissionRequest: *review.Request}
		name := loadNames[i]
		b.Run("handler/"+name, func(b *testing.B) {
			for b.Loop() {
				if resp := target.handler.Handle(context.Background(), req); resp.Allowed != target.expected[i] {
					b.Fatalf("allowed = %v: %s", resp.Allowed, resp.Result.Message)
				}
			}
		})
		r, err := newReview(&req, kindInfo{})
		if err != nil {
			b.Fatal(err)
		}
		in, err := r.regoRequest()
		if err != nil {
			b.Fatal(err)
		}
		b.Run("engine/"+name, func(b *testing.B) {
			for b.Loop() {
				if _, err := target.handler.decider.Admit(context.Background(), in); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// cpuTime is the CPU time the process has used, user and system.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
