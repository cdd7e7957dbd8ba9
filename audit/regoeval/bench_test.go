package regoeval

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/flowguard/flowguard/audit"
	"github.com/flowguard/flowguard/flows"
	"github.com/flowguard/flowguard/netpol"
	"github.com/flowguard/flowguard/rego"
	"github.com/flowguard/flowguard/test/synth"
)

// benchRecords is the number of Calico flow records in the audited traffic graph.
const benchRecords = 1_000_000

// benchState is test/synth's verdict-scale cluster (10,000 pods in 500 namespaces, 2,000
// policies) with a traffic graph of benchRecords flow records over the 24 hours before now.
func benchState(b *testing.B) rego.State {
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
	g.AddBatch(sc.Records(benchRecords, 1, now, 24*time.Hour))
	st := g.Stats()
	b.Logf("cluster: %d objects (%d workloads), %d policies; traffic graph: %d records, %d identities, %d edges",
		len(sc.Objects), len(sc.Workloads), sc.Policies, st.Added, st.Identities, st.Edges)
	return rego.NewStaticState(cluster, g, now)
}

// BenchmarkAudit measures one full audit run as the auditor performs it on a new snapshot: the
// rule library compiled, every audit rule evaluated over every object of the cluster against the
// traffic graph, and the report objects built and serialised; with the namespaces audited in one
// shard and in two (one per core). Besides time it reports the CPU time per run, which does not
// depend on what else the machine runs, the findings, and the heap in use before and after.
//
//	go test ./audit/regoeval -run '^$' -bench Audit -benchtime 3x -benchmem
func BenchmarkAudit(b *testing.B) {
	state := benchState(b)
	for _, workers := range []int{1, 2} {
		b.Run(fmt.Sprintf("workers=%d", workers), func(b *testing.B) { benchmarkAudit(b, state, workers) })
	}
}

func benchmarkAudit(b *testing.B, state rego.State, workers int) {
	ctx := context.Background()
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	cpu0 := cpuTime()
	b.ResetTimer()
	var findings, bytes int
	var last audit.Result
	for b.Loop() {
		ev := NewEvaluator(state, Options{Engine: rego.Options{Deadline: time.Minute}, Workers: workers})
		res, err := ev.Evaluate(ctx, audit.Scope{})
		if err != nil {
			b.Fatal(err)
		}
		for _, s := range res.Skipped {
			b.Fatalf("rule %s did not run: %s", s.Rule, s.Reason)
		}
		reps := audit.BuildReports(res, audit.ReportOptions{RunName: "bench"})
		bytes = 0
		for _, r := range reps.Namespaced {
			j, _ := json.Marshal(r)
			bytes += len(j)
		}
		j, _ := json.Marshal(reps.Cluster)
		bytes += len(j)
		findings = len(res.Findings)
		last = res
	}
	b.StopTimer()
	// CPU time, unlike wall time, does not depend on what else the machine runs.
	b.ReportMetric((cpuTime()-cpu0).Seconds()/float64(b.N), "cpu-s/op")
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	b.ReportMetric(float64(findings), "findings")
	for _, rc := range last.Summarize().ByRule {
		b.Logf("%s: %d findings", rc.Rule, rc.Count)
	}
	b.ReportMetric(float64(bytes)/(1<<20), "report-MiB")
	b.ReportMetric(float64(before.HeapInuse)/(1<<20), "heap-before-MiB")
	b.ReportMetric(float64(after.HeapInuse)/(1<<20), "heap-after-MiB")
}

// cpuTime is the user and system CPU time the process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
