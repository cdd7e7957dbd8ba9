package rego

import (
	"context"
	"maps"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/open-policy-agent/opa/v1/rego"
	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/flowguard/flowguard/flows"
	"github.com/flowguard/flowguard/netpol"
	"github.com/flowguard/flowguard/test/synth"
)

// benchRecords is the size of the traffic graph the admission benchmark runs against.
const benchRecords = 1_000_000

// benchFixture is test/synth's verdict-scale cluster (10,000 pods, 2,000 policies in 500
// namespaces) with a traffic graph of benchRecords Calico flow records over the last 24 hours.
type benchFixture struct {
	state   State
	graph   *flows.Graph
	now     time.Time
	objects []runtime.Object
}

func newBenchFixture(b *testing.B) *benchFixture {
	b.Helper()
	sc := synth.Generate(synth.VerdictScale())
	cluster := netpol.NewCluster()
	for _, obj := range sc.Objects {
		if err := cluster.Add(obj); err != nil {
			b.Fatalf("synthetic object: %v", err)
		}
	}
	g, err := flows.NewGraph(flows.GraphOptions{Retention: -1, MaxEdges: -1})
	if err != nil {
		b.Fatal(err)
	}
	now := time.Date(2025, 10, 1, 12, 0, 0, 0, time.UTC)
	recs := sc.Records(benchRecords, 1, now, 24*time.Hour)
	g.AddBatch(recs)
	st := g.Stats()
	b.Logf("cluster: %d objects, %d policies; traffic graph: %d records, %d identities, %d edges", len(sc.Objects), sc.Policies, st.Added, st.Identities, st.Edges)
	return &benchFixture{state: NewStaticState(cluster, g, now), graph: g, now: now, objects: sc.Objects}
}

// benchRequests are the admission requests measured: a narrow allow policy (breaks nothing),
// a Calico policy that denies ring traffic the graph holds (the message lists it), and a label
// added to a Deployment's pod template.
func benchRequests(b *testing.B, fx *benchFixture) map[string]AdmissionRequest {
	allow := map[string]any{
		"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
		"metadata": map[string]any{"name": "bench-allow", "namespace": "team-003"},
		"spec": map[string]any{
			"podSelector": map[string]any{"matchLabels": map[string]any{"app": "svc-02"}},
			"ingress": []any{map[string]any{
				"from":  []any{map[string]any{"podSelector": map[string]any{"matchLabels": map[string]any{"app": "svc-01"}}}},
				"ports": []any{map[string]any{"port": int64(8002), "protocol": "TCP"}},
			}},
		},
	}
	deny := map[string]any{
		"apiVersion": "projectcalico.org/v3", "kind": "NetworkPolicy",
		"metadata": map[string]any{"name": "bench-deny", "namespace": "team-003"},
		"spec": map[string]any{
			"order": int64(1), "selector": "app == 'svc-02'", "types": []any{"Ingress"},
			"ingress": []any{map[string]any{"action": "Deny", "source": map[string]any{"selector": "app == 'svc-01'"}}},
		},
	}
	var oldDep, newDep map[string]any
	for _, obj := range fx.objects {
		if d, ok := obj.(*appsv1.Deployment); ok && d.Namespace == "team-003" && d.Name == "svc-02" {
			var err error
			if oldDep, err = toMap(d); err != nil {
				b.Fatal(err)
			}
			next := d.DeepCopy()
			next.Spec.Template.Labels["version"] = "v2"
			if newDep, err = toMap(next); err != nil {
				b.Fatal(err)
			}
			oldDep["apiVersion"], oldDep["kind"], newDep["apiVersion"], newDep["kind"] = "apps/v1", "Deployment", "apps/v1", "Deployment"
		}
	}
	if newDep == nil {
		b.Fatal("no Deployment team-003/svc-02 in the synthetic cluster")
	}
	return map[string]AdmissionRequest{
		"workload-update": {UID: "3", Operation: "UPDATE", Namespace: "team-003", Name: "svc-02", Object: newDep, OldObject: oldDep, Kind: gvk("apps", "v1", "Deployment")},
		"allow-policy":    {UID: "1", Operation: "CREATE", Namespace: "team-003", Name: "bench-allow", Object: allow, Kind: gvk("networking.k8s.io", "v1", "NetworkPolicy")},
		"breaking-policy": {UID: "2", Operation: "CREATE", Namespace: "team-003", Name: "bench-deny", Object: deny, Kind: gvk("projectcalico.org", "v3", "NetworkPolicy")},
	}
}

// BenchmarkAdmission measures one admission decision with the whole built-in library against
// the traffic graph, reporting p50 and p99, beside a naive engine that builds the rego object
// per request and passes the window's flows as input.
//
//	go test ./rego -run '^$' -bench Admission -benchtime 20s
func BenchmarkAdmission(b *testing.B) {
	fx := newBenchFixture(b)
	e, err := NewEngine(fx.state, Options{Deadline: time.Minute})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	reqs := benchRequests(b, fx)
	for _, name := range slices.Sorted(maps.Keys(reqs)) {
		req := reqs[name]
		b.Run("flowguard/"+name, func(b *testing.B) {
			res, err := e.Admit(ctx, req) // builds the netpol engine of the snapshot, once
			if err != nil || len(res.Errors) > 0 {
				b.Fatalf("Admit: %v %v", err, res.Errors)
			}
			for _, v := range res.Violations {
				b.Logf("%s: %s %s: %.300s", name, v.Rule.Action, v.Rule.ID, v.Msg)
			}
			times := make([]time.Duration, 0, b.N)
			cpu0 := cpuTime()
			b.ResetTimer()
			for b.Loop() {
				t0 := time.Now()
				if _, err := e.Admit(ctx, req); err != nil {
					b.Fatal(err)
				}
				times = append(times, time.Since(t0))
			}
			reportPercentiles(b, times, cpuTime()-cpu0)
		})
	}
	b.Run("naive/allow-policy", func(b *testing.B) {
		req := reqs["allow-policy"]
		edges := naiveFlows(fx)
		b.Logf("naive input: %d flows", len(edges))
		times := make([]time.Duration, 0, b.N)
		cpu0 := cpuTime()
		b.ResetTimer()
		for b.Loop() {
			t0 := time.Now()
			r := rego.New(
				rego.Query("data.naive.violation"),
				rego.Module("naive.rego", naiveModule),
				rego.Input(map[string]any{"operation": req.Operation, "object": req.Object, "flows": edges}),
			)
			if _, err := r.Eval(ctx); err != nil {
				b.Fatal(err)
			}
			times = append(times, time.Since(t0))
		}
		reportPercentiles(b, times, cpuTime()-cpu0)
	})
}

// naiveModule is what a rule does when the flows come as input: scan them for traffic into the
// pods the policy selects, and look for allow-all rules.
const naiveModule = `package naive

violation contains sprintf("%d observed flows reach the selected pods", [n]) if {
	sel := input.object.spec.podSelector.matchLabels
	n := count([f |
		some f in input.flows
		f.dst_namespace == input.object.metadata.namespace
		every k, v in sel { f.dst_labels[k] == v }
	])
	n > 0
}

violation contains "allow-all" if {
	some r in input.object.spec.ingress
	count(object.get(r, "from", [])) == 0
	count(object.get(r, "ports", [])) == 0
}
`

// naiveFlows is the window's traffic as a naive engine would receive it: one object per edge.
func naiveFlows(fx *benchFixture) []any {
	var out []any
	fx.graph.Range(flows.Query{From: fx.now.Add(-DefaultLookback), To: fx.now}, func(e *flows.Edge) bool {
		out = append(out, map[string]any{
			"src_namespace": e.Src.Namespace, "src_name": e.Src.Name, "src_labels": labelMap(e.Src.Labels),
			"dst_namespace": e.Dst.Namespace, "dst_name": e.Dst.Name, "dst_labels": labelMap(e.Dst.Labels),
			"port": int64(e.DstPort), "proto": int64(e.Proto), "action": e.Action.String(), "count": int64(e.Flows),
		})
		return true
	})
	return out
}

func labelMap(l flows.Labels) map[string]any {
	m := make(map[string]any, len(l))
	for _, kv := range l {
		m[kv.Key] = kv.Value
	}
	return m
}

// reportPercentiles reports wall-clock p50 and p99 of the decisions, and the process CPU time
// per decision (garbage collection included), which other work on a shared machine does not
// inflate.
func reportPercentiles(b *testing.B, times []time.Duration, cpu time.Duration) {
	if len(times) == 0 {
		return
	}
	slices.Sort(times)
	at := func(q float64) float64 { return float64(times[int(q*float64(len(times)-1))].Microseconds()) }
	b.ReportMetric(at(0.50), "p50-µs")
	b.ReportMetric(at(0.99), "p99-µs")
	b.ReportMetric(float64(cpu.Microseconds())/float64(len(times)), "cpu-µs/op")
	b.ReportMetric(0, "ns/op")
}

// cpuTime is the CPU time the process has used, user and system.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func gvk(group, version, kind string) metav1.GroupVersionKind {
	return metav1.GroupVersionKind{Group: group, Version: version, Kind: kind}
}
