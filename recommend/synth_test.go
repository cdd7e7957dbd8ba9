package recommend

import (
	"context"
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/go-logr/logr"
	calicov3 "github.com/projectcalico/api/pkg/apis/projectcalico/v3"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/runtime"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/flowguard/flowguard/flows"
	"github.com/flowguard/flowguard/netpol"
	"github.com/flowguard/flowguard/test/synth"
)

// synthScenario turns a synthetic cluster of test/synth and n of its flows into a scenario:
// the cluster's objects without its policies (the recommendation replaces them), and one
// record per flow, spread over two days, with the action synth's policies gave it.
func synthScenario(cfg synth.Config, n int) *scenario {
	c := synth.Generate(cfg)
	s := &scenario{open: map[genConn]bool{}, observed: map[genConn]bool{}}
	for _, o := range c.Objects {
		if !isPolicy(o) {
			s.objs = append(s.objs, o)
		}
	}
	seen, blocked := map[string]bool{}, map[genConn]bool{}
	for i, f := range c.Flows(n, cfg.Seed) {
		r := flow(f.Src, f.Dst, f.Proto, f.Port, at(time.Duration(i%(48*60))*time.Minute))
		if !f.Allowed {
			r.Action = flows.ActionDeny
		}
		s.recs = append(s.recs, r)
		fc := flowConn{src: f.Src, dst: f.Dst, proto: f.Proto, port: f.Port}
		c := connOf(f.Src, f.Dst, f.Proto, f.Port)
		switch {
		case f.Allowed && !s.observed[c]:
			s.observed[c] = true
			s.allowed = append(s.allowed, fc)
		case !f.Allowed && f.Src.Type == flows.TypeWorkload && f.Dst.Type == flows.TypeWorkload && !blocked[c]:
			blocked[c] = true
			s.blocked = append(s.blocked, fc)
		}
		for _, ep := range []flows.Endpoint{f.Src, f.Dst} {
			if ep.Type == flows.TypeWorkload && ep.Namespace != "kube-system" && !seen[ep.String()] {
				seen[ep.String()] = true
				s.workloads = append(s.workloads, ep)
			}
		}
	}
	return s
}

// cpuTime is the user and system CPU time the process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func isPolicy(o runtime.Object) bool {
	switch o.(type) {
	case *networkingv1.NetworkPolicy, *calicov3.NetworkPolicy, *calicov3.GlobalNetworkPolicy,
		*calicov3.StagedNetworkPolicy, *calicov3.StagedGlobalNetworkPolicy, *calicov3.StagedKubernetesNetworkPolicy:
		return true
	}
	return false
}

// TestRecommendationOverSynthClusters runs the property test over test/synth's clusters: the
// traffic its policies allowed, recommended and applied, is allowed; what they denied, and
// unobserved connections between the same workloads, are denied.
func TestRecommendationOverSynthClusters(t *testing.T) {
	for seed := range int64(4) {
		cfg := synth.Config{Seed: seed, Namespaces: 4, WorkloadsPerNamespace: 6, Replicas: 2, Pods: seed%2 == 0,
			DefaultDeny: true, KubernetesPolicyWorkloads: 3, CalicoNamespaces: 2, GlobalPolicies: 2}
		s := synthScenario(cfg, 3000)
		for _, style := range Styles {
			t.Run(fmt.Sprintf("seed=%d/%s", seed, style), func(t *testing.T) {
				checkScenario(t, s, style, uint64(seed))
			})
		}
	}
}

// BenchmarkRecommend measures a recommendation for 10,000 workloads (500 namespaces of 20
// Deployments) and 1,000,000 flow records, aggregated into the traffic graph beforehand as
// the auditor's graph is.
func BenchmarkRecommend(b *testing.B) {
	cfg := synth.Config{Seed: 1, Namespaces: 500, WorkloadsPerNamespace: 20, Replicas: 1}
	sc := synth.Generate(cfg)
	cluster := netpol.NewCluster()
	for _, o := range sc.Objects {
		if err := cluster.Add(o); err != nil {
			b.Fatal(err)
		}
	}
	g, err := flows.NewGraph(flows.GraphOptions{Retention: -1, MaxEdges: -1})
	if err != nil {
		b.Fatal(err)
	}
	const records = 1_000_000
	batch := make([]flows.Record, 0, 10_000)
	for i, f := range sc.Flows(records, 1) {
		r := flow(f.Src, f.Dst, f.Proto, f.Port, at(time.Duration(i%(48*60))*time.Minute))
		if !f.Allowed {
			r.Action = flows.ActionDeny
		}
		batch = append(batch, r)
		if len(batch) == cap(batch) {
			g.AddBatch(batch)
			batch = batch[:0]
		}
	}
	g.AddBatch(batch)
	st := g.Stats()
	ctx := logf.IntoContext(context.Background(), logr.Discard())
	for _, style := range Styles {
		b.Run(string(style), func(b *testing.B) {
			b.ReportAllocs()
			var res *Result
			// CPU time next to wall time: on a shared machine the wall time also counts the
			// time other processes held the cores.
			cpu0 := cpuTime()
			for b.Loop() {
				if res, err = Recommend(ctx, cluster, g, Options{Style: style}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric((cpuTime()-cpu0).Seconds()/float64(b.N), "cpu-s/op")
			b.ReportMetric(float64(res.Stats.Workloads), "workloads")
			b.ReportMetric(float64(st.Added), "records")
			b.ReportMetric(float64(st.Edges), "edges")
			b.ReportMetric(float64(res.Stats.Policies), "policies")
		})
	}
}
