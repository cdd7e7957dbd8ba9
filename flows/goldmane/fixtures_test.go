package goldmane_test

import (
	"net/netip"
	"time"

	"github.com/flowguard/flowguard/flows"
	pb "github.com/flowguard/flowguard/flows/goldmane/proto"
)

// netipAddr lets cmp compare records, whose endpoints hold a netip.Addr.
var netipAddr netip.Addr

// t0 is a window boundary for 15s windows.
const t0 = int64(1_700_000_010)

// gmFlow builds a Goldmane flow as Felix reports one: frontend pods in shop calling backend pods
// on TCP 8080, allowed by a namespaced Calico policy, reported by the destination, in the window
// starting at t0. Modifiers change one aspect each.
func gmFlow(mods ...func(*pb.Flow)) *pb.Flow {
	f := &pb.Flow{
		Key: &pb.FlowKey{
			SourceName: "frontend-7d9f8b6c5-*", SourceNamespace: "shop", SourceType: pb.EndpointType_WorkloadEndpoint,
			DestName: "backend-5c8d9f7b4-*", DestNamespace: "shop", DestType: pb.EndpointType_WorkloadEndpoint,
			DestPort: 8080, Proto: "tcp", Reporter: pb.Reporter_Dst, Action: pb.Action_Allow,
			DestServiceName: "backend", DestServiceNamespace: "shop", DestServicePortName: "http", DestServicePort: 80,
			Policies: &pb.PolicyTrace{EnforcedPolicies: []*pb.PolicyHit{
				hit(pb.PolicyKind_CalicoNetworkPolicy, "shop", "allow-frontend", "default", pb.Action_Allow, 0, 0),
			}},
		},
		StartTime: t0, EndTime: t0 + 15,
		SourceLabels: []string{"app=frontend", "tier=web"},
		DestLabels:   []string{"app=backend"},
		PacketsIn:    10, PacketsOut: 8, BytesIn: 1500, BytesOut: 900,
		NumConnectionsStarted: 2, NumConnectionsCompleted: 1, NumConnectionsLive: 1,
	}
	for _, m := range mods {
		m(f)
	}
	return f
}

func withSrc(t pb.EndpointType, ns, name string, labels ...string) func(*pb.Flow) {
	return func(f *pb.Flow) {
		f.Key.SourceType, f.Key.SourceNamespace, f.Key.SourceName, f.SourceLabels = t, ns, name, labels
	}
}

func withDst(t pb.EndpointType, ns, name string, labels ...string) func(*pb.Flow) {
	return func(f *pb.Flow) {
		f.Key.DestType, f.Key.DestNamespace, f.Key.DestName, f.DestLabels = t, ns, name, labels
	}
}

func withPort(proto string, port int64) func(*pb.Flow) {
	return func(f *pb.Flow) { f.Key.Proto, f.Key.DestPort = proto, port }
}

func withAction(a pb.Action) func(*pb.Flow) { return func(f *pb.Flow) { f.Key.Action = a } }

func withReporter(r pb.Reporter) func(*pb.Flow) { return func(f *pb.Flow) { f.Key.Reporter = r } }

func withEnforced(hits ...*pb.PolicyHit) func(*pb.Flow) {
	return func(f *pb.Flow) { f.Key.Policies.EnforcedPolicies = hits }
}

func withPending(hits ...*pb.PolicyHit) func(*pb.Flow) {
	return func(f *pb.Flow) { f.Key.Policies.PendingPolicies = hits }
}

func withWindow(start, end int64) func(*pb.Flow) {
	return func(f *pb.Flow) { f.StartTime, f.EndTime = start, end }
}

func withBytes(in, out int64) func(*pb.Flow) {
	return func(f *pb.Flow) { f.BytesIn, f.BytesOut = in, out }
}

func hit(kind pb.PolicyKind, ns, name, tier string, action pb.Action, policyIdx, ruleIdx int64) *pb.PolicyHit {
	return &pb.PolicyHit{Kind: kind, Namespace: ns, Name: name, Tier: tier, Action: action, PolicyIndex: policyIdx, RuleIndex: ruleIdx}
}

func endOfTier(tier string, action pb.Action, policyIdx int64, trigger *pb.PolicyHit) *pb.PolicyHit {
	return &pb.PolicyHit{Kind: pb.PolicyKind_EndOfTier, Tier: tier, Action: action, PolicyIndex: policyIdx, RuleIndex: -1, Trigger: trigger}
}

// record is the flows.Record gmFlow() converts to; modifiers adjust it like the flow's.
func record(mods ...func(*flows.Record)) flows.Record {
	r := flows.Record{
		Src: flows.Endpoint{Type: flows.TypeWorkload, Namespace: "shop", Name: "frontend-7d9f8b6c5-*",
			Labels: flows.Labels{{Key: "app", Value: "frontend"}, {Key: "tier", Value: "web"}}},
		Dst: flows.Endpoint{Type: flows.TypeWorkload, Namespace: "shop", Name: "backend-5c8d9f7b4-*",
			Labels: flows.Labels{{Key: "app", Value: "backend"}}},
		DstPort: 8080, Proto: flows.ProtoTCP, Action: flows.ActionAllow, Reporter: flows.ReporterDst,
		Enforced: []flows.PolicyHit{{Index: 0, Tier: "default", Kind: flows.KindNetworkPolicy, Namespace: "shop", Name: "allow-frontend", Action: flows.HitAllow, RuleIndex: 0}},
		Bytes:    2400, Packets: 18, FlowsStarted: 2, FlowsEnded: 1, Flows: 2,
		DstService: flows.Service{Namespace: "shop", Name: "backend", PortName: "http", Port: 80},
		Start:      time.Unix(t0, 0).UTC(), End: time.Unix(t0+15, 0).UTC(),
	}
	for _, m := range mods {
		m(&r)
	}
	return r
}

func recWindow(start, end int64) func(*flows.Record) {
	return func(r *flows.Record) { r.Start, r.End = time.Unix(start, 0).UTC(), time.Unix(end, 0).UTC() }
}
