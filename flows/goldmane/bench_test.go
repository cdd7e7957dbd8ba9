package goldmane_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/flowguard/flowguard/flows"
	"github.com/flowguard/flowguard/flows/goldmane"
	pb "github.com/flowguard/flowguard/flows/goldmane/proto"
)

// benchKeys is the number of distinct flow keys the benchmarks cycle through: every pair of 100
// source and 10 destination workloads, each flow with labels and a two-hit policy trace.
const benchKeys = 1000

func benchFlows() []*pb.Flow {
	out := make([]*pb.Flow, benchKeys)
	for i := range out {
		ns := fmt.Sprintf("team-%d", i%4)
		src := fmt.Sprintf("client-%d-7d9f8b6c5-*", i%100)
		dst := fmt.Sprintf("server-%d-5c8d9f7b4-*", i/100)
		out[i] = gmFlow(
			withSrc(pb.EndpointType_WorkloadEndpoint, ns, src, "app="+src[:len(src)-2], "team="+ns, "projectcalico.org/serviceaccount=default"),
			withDst(pb.EndpointType_WorkloadEndpoint, ns, dst, "app="+dst[:len(dst)-2], "team="+ns),
			withPort("tcp", int64(8000+i%10)),
			withEnforced(
				hit(pb.PolicyKind_GlobalNetworkPolicy, "", "platform-guard", "platform", pb.Action_Pass, 0, 2),
				hit(pb.PolicyKind_CalicoNetworkPolicy, ns, fmt.Sprintf("allow-%d", i%10), "default", pb.Action_Allow, 1, 0),
			))
	}
	return out
}

// BenchmarkConvert measures conversion alone: Goldmane flow to flows.Record.
func BenchmarkConvert(b *testing.B) {
	fs := benchFlows()
	var c goldmane.Converter
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if _, err := c.Convert(fs[i%len(fs)]); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "flows/s")
}

// BenchmarkStream measures the whole client path: an in-process Goldmane streams b.N results over
// gRPC with mutual TLS; the client decodes, deduplicates, converts and delivers them. The
// server's encoding runs on the same cores, so this is a lower bound for the client.
func BenchmarkStream(b *testing.B) {
	fs := benchFlows()
	pki := newTestPKI(b)
	g := &fakeGoldmane{scripts: []streamScript{func(ctx context.Context, send func(...*pb.Flow)) error {
		res := &pb.Flow{}
		for i := range b.N {
			// Each result is a new window of one of the keys.
			f := fs[i%len(fs)]
			*res = pb.Flow{Key: f.Key, SourceLabels: f.SourceLabels, DestLabels: f.DestLabels,
				StartTime: until + int64(i/len(fs))*15, EndTime: until + int64(i/len(fs)+1)*15,
				BytesIn: 100, PacketsIn: 1, NumConnectionsStarted: 1}
			send(res)
		}
		<-ctx.Done()
		return nil
	}}}
	opts := g.start(b, pki)
	opts.Clock = newClock()
	done := make(chan struct{})
	n := 0
	sink := func(context.Context, flows.Record) error {
		if n++; n == b.N {
			close(done)
		}
		return nil
	}
	c, err := goldmane.New(opts, sink)
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(log.IntoContext(context.Background(), logr.Discard()))
	defer cancel()
	b.ReportAllocs()
	b.ResetTimer()
	go func() { _ = c.Run(ctx) }()
	select {
	case <-done:
	case <-time.After(5 * time.Minute):
		b.Fatalf("delivered %d of %d", n, b.N)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "flows/s")
}
