package netpol_test

import (
	"sync"
	"syscall"
	"testing"
	"time"

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
