package netpol_test

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/flowguard/flowguard/netpol"
	"github.com/flowguard/flowguard/test/synth"
)

// The verdict-scale world: 10,000 pods (2,000 Deployments with their ReplicaSets and Pods) in
// 500 namespaces, 2,000 policies, and 1,000,000 flows over it. Built once per test binary.
var verdictWorld = sync.OnceValues(func() (*synth.Cluster, []netpol.Connection) {
	cfg := synth.VerdictScale()
	cfg.Pods = true
	sc := synth.Generate(cfg)
	return sc, connections(sc.Flows(1_000_000, 1))
})

// BenchmarkVerdicts1M decides 1,000,000 flows on a new engine each iteration, so class
// resolution, applicable-policy lists and the memo are all built inside the measurement.
func BenchmarkVerdicts1M(b *testing.B) {
	sc, conns := verdictWorld()
	c := loadSynth(b, sc)
	cpu := startCPU()
	for b.Loop() {
		e := netpol.NewEngine(c)
		allowed := 0
		for i := range conns {
			if e.Verdict(conns[i].Src, conns[i].Dst, conns[i].Packet).Allowed {
				allowed++
			}
		}
		if allowed == 0 {
			b.Fatal("nothing allowed")
		}
	}
	cpu.report(b)
}

// BenchmarkVerdicts1MWarm decides the same 1,000,000 flows again on a warm engine.
func BenchmarkVerdicts1MWarm(b *testing.B) {
	sc, conns := verdictWorld()
	e := netpol.NewEngine(loadSynth(b, sc))
	for i := range conns {
		e.Verdict(conns[i].Src, conns[i].Dst, conns[i].Packet)
	}
	cpu := startCPU()
	for b.Loop() {
		for i := range conns {
			e.Verdict(conns[i].Src, conns[i].Dst, conns[i].Packet)
		}
	}
	cpu.report(b)
}

// cpuClock measures the process's CPU time (user and system, every thread, so garbage
// collection counts) beside the benchmark's wall time: on a shared machine wall time says as
// much about the neighbours as about the code.
type cpuClock struct{ start time.Duration }

func startCPU() cpuClock { return cpuClock{processCPU()} }

func (c cpuClock) report(b *testing.B) {
	b.ReportMetric(float64((processCPU()-c.start).Milliseconds())/float64(b.N), "cpu-ms/op")
}

func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkImpact1M measures what the admission check does for one change over 1,000,000
// flows: derive the engine after the change, then find the flows whose verdict changes. The
// engine before the change is warm, as a running webhook's is.
func BenchmarkImpact1M(b *testing.B) {
	sc, conns := verdictWorld()
	c := loadSynth(b, sc)
	before := netpol.NewEngine(c)
	for i := range conns {
		before.Verdict(conns[i].Src, conns[i].Dst, conns[i].Packet)
	}
	pol := find(sc, func(p *networkingv1.NetworkPolicy) bool { return p.Name == "svc-01" && p.Namespace == "team-250" })
	narrowed := pol.DeepCopy()
	narrowed.Spec.Ingress = nil
	ns := find(sc, func(n *corev1.Namespace) bool { return n.Name == "team-250" })
	relabelled := ns.DeepCopy()
	relabelled.Labels["team"] = "renamed"
	dep := find(sc, func(d *appsv1.Deployment) bool { return d.Name == "svc-01" && d.Namespace == "team-250" })
	depRelabelled := dep.DeepCopy()
	depRelabelled.Spec.Template.Labels["tier"] = "data"
	for name, change := range map[string][2]runtime.Object{
		"update a Kubernetes policy":  {pol, narrowed},
		"relabel a namespace":         {ns, relabelled},
		"relabel a Deployment's pods": {dep, depRelabelled},
	} {
		b.Run(name, func(b *testing.B) {
			cpu := startCPU()
			impacted := 0
			for b.Loop() {
				after, err := before.WithChange(netpol.Update, change[0], change[1])
				if err != nil {
					b.Fatal(err)
				}
				impacted = len(impactOf(b, before, after, conns))
			}
			cpu.report(b)
			b.ReportMetric(float64(impacted), "impacted")
		})
	}
}

// BenchmarkAdmissionChange is netpol's part of one admission check: derive the engine after
// the change from the warm engine before it, and find which of the connections with an end
// in the changed namespace (those an admission check asks about: 10,000 of the 1,000,000)
// the change flips.
func BenchmarkAdmissionChange(b *testing.B) {
	sc, all := verdictWorld()
	c := loadSynth(b, sc)
	before := netpol.NewEngine(c)
	for i := range all {
		before.Verdict(all[i].Src, all[i].Dst, all[i].Packet)
	}
	var conns []netpol.Connection
	for _, cn := range all {
		if cn.Src.Namespace == "team-250" || cn.Dst.Namespace == "team-250" {
			conns = append(conns, cn)
		}
	}
	pol := find(sc, func(p *networkingv1.NetworkPolicy) bool { return p.Name == "svc-01" && p.Namespace == "team-250" })
	narrowed := pol.DeepCopy()
	narrowed.Spec.Ingress = nil
	created := pol.DeepCopy()
	created.Name = "svc-01-copy"
	ns := find(sc, func(n *corev1.Namespace) bool { return n.Name == "team-250" })
	relabelled := ns.DeepCopy()
	relabelled.Labels["team"] = "renamed"
	dep := find(sc, func(d *appsv1.Deployment) bool { return d.Name == "svc-01" && d.Namespace == "team-250" })
	depRelabelled := dep.DeepCopy()
	depRelabelled.Spec.Template.Labels["tier"] = "data"
	for name, ch := range map[string]struct {
		op       netpol.Operation
		old, new runtime.Object
	}{
		"create a Kubernetes policy":  {netpol.Create, nil, created},
		"update a Kubernetes policy":  {netpol.Update, pol, narrowed},
		"delete a Kubernetes policy":  {netpol.Delete, pol, nil},
		"relabel a namespace":         {netpol.Update, ns, relabelled},
		"relabel a Deployment's pods": {netpol.Update, dep, depRelabelled},
	} {
		b.Run(name, func(b *testing.B) {
			cpu := startCPU()
			impacted := 0
			for b.Loop() {
				after, err := before.WithChange(ch.op, ch.old, ch.new)
				if err != nil {
					b.Fatal(err)
				}
				impacted = len(impactOf(b, before, after, conns))
			}
			b.ReportMetric(float64((processCPU()-cpu.start).Microseconds())/float64(b.N), "cpu-µs/op")
			b.ReportMetric(float64(len(conns)), "connections")
			b.ReportMetric(float64(impacted), "impacted")
		})
	}
}

// BenchmarkConnectivity computes the connectivity map of 1,000 workloads under 1,020
// policies (a default deny per namespace, one policy per workload with pod and namespace
// selectors, a named port, ipBlock with except and endPort), from a loaded cluster.
func BenchmarkConnectivity(b *testing.B) {
	c := loadSynth(b, synth.Generate(synth.ConnectivityScale()))
	cpu := startCPU()
	edges := 0
	for b.Loop() {
		edges = len(netpol.NewEngine(c).Connectivity())
	}
	cpu.report(b)
	b.ReportMetric(float64(edges), "edges")
}

// BenchmarkConnectivityFromYAML is what `flowguard connectivity -f` does on the same
// cluster: read the manifests (one multi-document file), compile, compute and print the map.
func BenchmarkConnectivityFromYAML(b *testing.B) {
	path := filepath.Join(b.TempDir(), "cluster.yaml")
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	if err := synth.Generate(synth.ConnectivityScale()).WriteYAML(f); err != nil {
		b.Fatal(err)
	}
	f.Close()
	cpu := startCPU()
	for b.Loop() {
		c, err := netpol.Load(path)
		if err != nil {
			b.Fatal(err)
		}
		w := bufio.NewWriter(io.Discard)
		for _, e := range netpol.NewEngine(c).Connectivity() {
			fmt.Fprintln(w, e)
		}
		w.Flush()
	}
	cpu.report(b)
}

// BenchmarkConnectivityDense streams the map of mostly open clusters (synth.DenseScale: named
// ports, ipBlock with except, endPort, DNS egress, Calico tiers and the admin policy kinds),
// where the edges grow with pairs: one line written per edge, nothing held.
func BenchmarkConnectivityDense(b *testing.B) {
	for _, n := range []int{1000, 2000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			c := loadSynth(b, synth.Generate(synth.DenseScale(n)))
			cpu := startCPU()
			edges := 0
			for b.Loop() {
				edges = 0
				w := bufio.NewWriter(io.Discard)
				err := netpol.NewEngine(c).ConnectivityFunc(func(e netpol.ConnectivityEdge) error {
					edges++
					_, err := fmt.Fprintln(w, e)
					return err
				})
				if err != nil {
					b.Fatal(err)
				}
				w.Flush()
			}
			cpu.report(b)
			b.ReportMetric(float64(edges), "edges")
		})
	}
}
