package goldmane_test

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"google.golang.org/protobuf/proto"

	"github.com/flowguard/flowguard/flows"
	"github.com/flowguard/flowguard/flows/goldmane"
	pb "github.com/flowguard/flowguard/flows/goldmane/proto"
)

func TestConvert(t *testing.T) {
	cases := map[string]struct {
		flow *pb.Flow
		want flows.Record
	}{
		"workload to workload, allowed by a namespaced Calico policy": {
			flow: gmFlow(),
			want: record(),
		},
		"labels are sorted by key and may have empty values": {
			flow: gmFlow(withSrc(pb.EndpointType_WorkloadEndpoint, "shop", "frontend-7d9f8b6c5-*", "tier=web", "app=frontend", "canary=")),
			want: record(func(r *flows.Record) {
				r.Src.Labels = flows.Labels{{Key: "app", Value: "frontend"}, {Key: "canary"}, {Key: "tier", Value: "web"}}
			}),
		},
		"label values may contain '='": {
			flow: gmFlow(withDst(pb.EndpointType_WorkloadEndpoint, "shop", "backend-5c8d9f7b4-*", "expr=a=b")),
			want: record(func(r *flows.Record) { r.Dst.Labels = flows.Labels{{Key: "expr", Value: "a=b"}} }),
		},
		"the pod's service account comes from Calico's label, and a repeated key keeps its last value": {
			flow: gmFlow(withSrc(pb.EndpointType_WorkloadEndpoint, "shop", "frontend-7d9f8b6c5-*", "app=old", "projectcalico.org/serviceaccount=frontend", "app=frontend")),
			want: record(func(r *flows.Record) {
				r.Src.Labels = flows.Labels{{Key: "app", Value: "frontend"}, {Key: "projectcalico.org/serviceaccount", Value: "frontend"}}
				r.Src.ServiceAccount = "frontend"
			}),
		},
		"policy hits are ordered by their index": {
			flow: gmFlow(withEnforced(
				hit(pb.PolicyKind_NetworkPolicy, "shop", "backend-ingress", "default", pb.Action_Allow, 1, 0),
				hit(pb.PolicyKind_GlobalNetworkPolicy, "", "platform-guard", "platform", pb.Action_Pass, 0, 2),
			)),
			want: record(func(r *flows.Record) {
				r.Enforced = []flows.PolicyHit{
					{Index: 0, Tier: "platform", Kind: flows.KindGlobalNetworkPolicy, Name: "platform-guard", Action: flows.HitPass, RuleIndex: 2},
					{Index: 1, Tier: "default", Kind: flows.KindKubernetesNetworkPolicy, Namespace: "shop", Name: "backend-ingress", Action: flows.HitAllow, RuleIndex: 0},
				}
			}),
		},
		"connections count as the live and completed ones, else those started, else one": {
			flow: gmFlow(func(f *pb.Flow) { f.NumConnectionsLive, f.NumConnectionsCompleted, f.NumConnectionsStarted = 0, 0, 3 }),
			want: record(func(r *flows.Record) { r.Flows, r.FlowsEnded, r.FlowsStarted = 3, 0, 3 }),
		},
		"no service": {
			flow: gmFlow(func(f *pb.Flow) {
				f.Key.DestServiceName, f.Key.DestServiceNamespace, f.Key.DestServicePortName, f.Key.DestServicePort = "", "", "", 0
			}),
			want: record(func(r *flows.Record) { r.DstService = flows.Service{} }),
		},
		"host endpoint to a public network, not namespaced, reported by the source": {
			flow: gmFlow(
				withSrc(pb.EndpointType_HostEndpoint, "-", "node-1.eth0"),
				withDst(pb.EndpointType_Network, "", "pub"),
				withReporter(pb.Reporter_Src), withPort("udp", 53)),
			want: record(func(r *flows.Record) {
				r.Src = flows.Endpoint{Type: flows.TypeHost, Name: "node-1.eth0"}
				r.Dst = flows.Endpoint{Type: flows.TypeNetwork, Name: "pub"}
				r.Reporter, r.Proto, r.DstPort = flows.ReporterSrc, flows.ProtoUDP, 53
			}),
		},
		"a private network to a namespaced network set, denied": {
			flow: gmFlow(
				withSrc(pb.EndpointType_Network, "-", "pvt"),
				withDst(pb.EndpointType_NetworkSet, "shop", "partners"),
				withAction(pb.Action_Deny),
				withEnforced(endOfTier("default", pb.Action_Deny, 0,
					hit(pb.PolicyKind_CalicoNetworkPolicy, "shop", "partners-ingress", "default", pb.Action_ActionUnspecified, 0, 0)))),
			want: record(func(r *flows.Record) {
				r.Src = flows.Endpoint{Type: flows.TypeNetwork, Name: "pvt"}
				r.Dst = flows.Endpoint{Type: flows.TypeNetworkSet, Namespace: "shop", Name: "partners"}
				r.Action = flows.ActionDeny
				r.Enforced = []flows.PolicyHit{{Index: 0, Tier: "default", Kind: flows.KindNetworkPolicy, Namespace: "shop", Name: "partners-ingress", Action: flows.HitDeny, RuleIndex: -1}}
			}),
		},
		"ICMP carries no port": {
			flow: gmFlow(withPort("icmp", 0)),
			want: record(func(r *flows.Record) { r.Proto, r.DstPort = flows.ProtoICMP, 0 }),
		},
		"protocols Felix does not name arrive as numbers": {
			flow: gmFlow(withPort("47", 0)),
			want: record(func(r *flows.Record) { r.Proto, r.DstPort = 47, 0 }),
		},
		"ICMPv6 and SCTP names": {
			flow: gmFlow(withPort("sctp", 3868)),
			want: record(func(r *flows.Record) { r.Proto, r.DstPort = flows.ProtoSCTP, 3868 }),
		},
		"a policy trace through tiers, Kubernetes policy and profile, with staged hits pending": {
			flow: gmFlow(
				withEnforced(
					hit(pb.PolicyKind_GlobalNetworkPolicy, "", "platform-guard", "platform", pb.Action_Pass, 0, 2),
					hit(pb.PolicyKind_NetworkPolicy, "shop", "backend-ingress", "default", pb.Action_Allow, 1, 0),
				),
				withPending(
					hit(pb.PolicyKind_GlobalNetworkPolicy, "", "platform-guard", "platform", pb.Action_Pass, 0, 2),
					hit(pb.PolicyKind_StagedKubernetesNetworkPolicy, "shop", "lockdown", "default", pb.Action_Deny, 1, 0),
					hit(pb.PolicyKind_StagedNetworkPolicy, "shop", "audit", "security", pb.Action_Allow, 2, 3),
					hit(pb.PolicyKind_StagedGlobalNetworkPolicy, "", "deny-all", "security", pb.Action_Deny, 3, 0),
				)),
			want: record(func(r *flows.Record) {
				r.Enforced = []flows.PolicyHit{
					{Index: 0, Tier: "platform", Kind: flows.KindGlobalNetworkPolicy, Name: "platform-guard", Action: flows.HitPass, RuleIndex: 2},
					{Index: 1, Tier: "default", Kind: flows.KindKubernetesNetworkPolicy, Namespace: "shop", Name: "backend-ingress", Action: flows.HitAllow, RuleIndex: 0},
				}
				r.Pending = []flows.PolicyHit{
					{Index: 0, Tier: "platform", Kind: flows.KindGlobalNetworkPolicy, Name: "platform-guard", Action: flows.HitPass, RuleIndex: 2},
					{Index: 1, Tier: "default", Kind: flows.KindStagedKubernetesNetworkPolicy, Namespace: "shop", Name: "lockdown", Action: flows.HitDeny, RuleIndex: 0},
					{Index: 2, Tier: "security", Kind: flows.KindStagedNetworkPolicy, Namespace: "shop", Name: "audit", Action: flows.HitAllow, RuleIndex: 3},
					{Index: 3, Tier: "security", Kind: flows.KindStagedGlobalNetworkPolicy, Name: "deny-all", Action: flows.HitDeny, RuleIndex: 0},
				}
			}),
		},
		"a flow no policy selected is allowed by its namespace profile": {
			flow: gmFlow(withEnforced(hit(pb.PolicyKind_Profile, "", "kns.shop", "", pb.Action_Allow, 0, 0))),
			want: record(func(r *flows.Record) {
				r.Enforced = []flows.PolicyHit{{Index: 0, Tier: flows.ProfileTier, Kind: flows.KindProfile, Name: "kns.shop", Action: flows.HitAllow, RuleIndex: 0}}
			}),
		},
		"admin network policies of v3.31 and the cluster network policy of v3.32": {
			flow: gmFlow(withEnforced(
				hit(pb.PolicyKind_AdminNetworkPolicy, "", "cluster-guard", "adminnetworkpolicy", pb.Action_Pass, 0, 1),
				hit(pb.PolicyKind_BaselineAdminNetworkPolicy, "", "default", "baselineadminnetworkpolicy", pb.Action_Allow, 1, 0),
				hit(pb.PolicyKind_ClusterNetworkPolicy, "", "guard", "kube-admin", pb.Action_Pass, 2, 0),
			)),
			want: record(func(r *flows.Record) {
				r.Enforced = []flows.PolicyHit{
					{Index: 0, Tier: "adminnetworkpolicy", Kind: flows.KindAdminNetworkPolicy, Name: "cluster-guard", Action: flows.HitPass, RuleIndex: 1},
					{Index: 1, Tier: "baselineadminnetworkpolicy", Kind: flows.KindBaselineAdminNetworkPolicy, Name: "default", Action: flows.HitAllow, RuleIndex: 0},
					{Index: 2, Tier: "kube-admin", Kind: flows.KindClusterNetworkPolicy, Name: "guard", Action: flows.HitPass, RuleIndex: 0},
				}
			}),
		},
		"no policy trace at all": {
			flow: gmFlow(func(f *pb.Flow) { f.Key.Policies = nil }),
			want: record(func(r *flows.Record) { r.Enforced = nil }),
		},
		"a window of several intervals from List": {
			flow: gmFlow(withWindow(t0-3600, t0+15), withBytes(0, 0)),
			want: record(recWindow(t0-3600, t0+15), func(r *flows.Record) { r.Bytes = 0 }),
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			var c goldmane.Converter
			got, err := c.Convert(tc.flow)
			if err != nil {
				t.Fatalf("Convert: %v", err)
			}
			if diff := cmp.Diff(tc.want, got, cmpopts.EquateComparable(netipAddr)); diff != "" {
				t.Errorf("record (-want +got):\n%s", diff)
			}
		})
	}
}

func TestConvertRefusesMalformedFlows(t *testing.T) {
	cases := map[string]struct {
		flow   *pb.Flow
		reason flows.Reason
		field  string
	}{
		"no key": {
			flow: &pb.Flow{StartTime: t0, EndTime: t0 + 15}, reason: flows.ReasonMissing, field: "Key",
		},
		"unspecified source type": {
			flow: gmFlow(withSrc(pb.EndpointType_EndpointTypeUnspecified, "shop", "frontend-*")), reason: flows.ReasonValue, field: "Key.source_type",
		},
		"destination type from a newer server": {
			flow: gmFlow(withDst(pb.EndpointType(9), "shop", "x")), reason: flows.ReasonValue, field: "Key.dest_type",
		},
		"endpoint without a name": {
			flow: gmFlow(withDst(pb.EndpointType_WorkloadEndpoint, "shop", "")), reason: flows.ReasonMissing, field: "Key.dest_name",
		},
		"pass is not a final action": {
			flow: gmFlow(withAction(pb.Action_Pass)), reason: flows.ReasonValue, field: "Key.action",
		},
		"unspecified action": {
			flow: gmFlow(withAction(pb.Action_ActionUnspecified)), reason: flows.ReasonValue, field: "Key.action",
		},
		"unspecified reporter": {
			flow: gmFlow(withReporter(pb.Reporter_ReporterUnspecified)), reason: flows.ReasonValue, field: "Key.reporter",
		},
		"unknown protocol name": {
			flow: gmFlow(withPort("quic", 443)), reason: flows.ReasonValue, field: "Key.proto",
		},
		"protocol number above 255": {
			flow: gmFlow(withPort("256", 0)), reason: flows.ReasonValue, field: "Key.proto",
		},
		"no protocol": {
			flow: gmFlow(withPort("", 80)), reason: flows.ReasonMissing, field: "Key.proto",
		},
		"port above 65535": {
			flow: gmFlow(withPort("tcp", 70000)), reason: flows.ReasonValue, field: "Key.dest_port",
		},
		"negative port": {
			flow: gmFlow(withPort("tcp", -1)), reason: flows.ReasonValue, field: "Key.dest_port",
		},
		"label without '='": {
			flow: gmFlow(withSrc(pb.EndpointType_WorkloadEndpoint, "shop", "frontend-*", "app=frontend", "orphan")), reason: flows.ReasonValue, field: "source_labels[1]",
		},
		"label with an empty key": {
			flow: gmFlow(withDst(pb.EndpointType_WorkloadEndpoint, "shop", "backend-*", "=x")), reason: flows.ReasonValue, field: "dest_labels[0]",
		},
		"service port above 65535": {
			flow: gmFlow(func(f *pb.Flow) { f.Key.DestServicePort = 65536 }), reason: flows.ReasonValue, field: "Key.dest_service_port",
		},
		"negative live connections": {
			flow: gmFlow(func(f *pb.Flow) { f.NumConnectionsLive = -1 }), reason: flows.ReasonValue, field: "num_connections_live",
		},
		"negative byte counter": {
			flow: gmFlow(withBytes(-5, 0)), reason: flows.ReasonValue, field: "bytes_in",
		},
		"window ends before it starts": {
			flow: gmFlow(withWindow(t0, t0-15)), reason: flows.ReasonValue, field: "end_time",
		},
		"no start time": {
			flow: gmFlow(withWindow(0, 15)), reason: flows.ReasonValue, field: "start_time",
		},
		"policy kind from a newer server": {
			flow:   gmFlow(withEnforced(hit(pb.PolicyKind_GlobalNetworkPolicy, "", "a", "t", pb.Action_Pass, 0, 0), hit(pb.PolicyKind(42), "", "b", "t", pb.Action_Allow, 1, 0))),
			reason: flows.ReasonValue, field: "Key.policies.enforced_policies[1].kind",
		},
		"unspecified policy action": {
			flow:   gmFlow(withPending(hit(pb.PolicyKind_StagedNetworkPolicy, "shop", "a", "t", pb.Action_ActionUnspecified, 0, 0))),
			reason: flows.ReasonValue, field: "Key.policies.pending_policies[0].action",
		},
		"end of tier without the policy that triggered it": {
			flow:   gmFlow(withEnforced(endOfTier("default", pb.Action_Deny, 0, nil))),
			reason: flows.ReasonMissing, field: "Key.policies.enforced_policies[0].trigger",
		},
		"end of tier triggered by an end of tier": {
			flow:   gmFlow(withEnforced(endOfTier("default", pb.Action_Deny, 0, endOfTier("x", pb.Action_Deny, 0, nil)))),
			reason: flows.ReasonValue, field: "Key.policies.enforced_policies[0].trigger.kind",
		},
		"rule index below -2": {
			flow:   gmFlow(withEnforced(hit(pb.PolicyKind_CalicoNetworkPolicy, "shop", "a", "default", pb.Action_Allow, 0, -3))),
			reason: flows.ReasonValue, field: "Key.policies.enforced_policies[0].rule_index",
		},
		"negative policy index": {
			flow:   gmFlow(withEnforced(hit(pb.PolicyKind_CalicoNetworkPolicy, "shop", "a", "default", pb.Action_Allow, -1, 0))),
			reason: flows.ReasonValue, field: "Key.policies.enforced_policies[0].policy_index",
		},
		"nil policy hit": {
			flow:   gmFlow(withEnforced(nil)),
			reason: flows.ReasonMissing, field: "Key.policies.enforced_policies[0]",
		},
		"policy hit without a name": {
			flow:   gmFlow(withEnforced(hit(pb.PolicyKind_CalicoNetworkPolicy, "shop", "", "default", pb.Action_Allow, 0, 0))),
			reason: flows.ReasonMissing, field: "Key.policies.enforced_policies[0].name",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			var c goldmane.Converter
			_, err := c.Convert(tc.flow)
			var pe *flows.ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("Convert error = %v, want a *flows.ParseError", err)
			}
			if pe.Reason != tc.reason || pe.Field != tc.field {
				t.Errorf("Convert error reason %q field %q, want %q %q (%v)", pe.Reason, pe.Field, tc.reason, tc.field, err)
			}
		})
	}
}

// A converter shares label sets and policy traces between records of the same workloads and
// policies, and a refused trace is not cached as good.
func TestConverterSharesRepeatedValues(t *testing.T) {
	var c goldmane.Converter
	a, err := c.Convert(gmFlow())
	if err != nil {
		t.Fatal(err)
	}
	b, err := c.Convert(gmFlow(withWindow(t0+15, t0+30)))
	if err != nil {
		t.Fatal(err)
	}
	if &a.Src.Labels[0] != &b.Src.Labels[0] || &a.Enforced[0] != &b.Enforced[0] {
		t.Errorf("labels or policy trace of equal flows are not shared")
	}
	bad := gmFlow(withEnforced(hit(pb.PolicyKind(42), "", "x", "t", pb.Action_Allow, 0, 0)))
	for range 2 {
		if _, err := c.Convert(proto.Clone(bad).(*pb.Flow)); err == nil {
			t.Fatalf("a flow with an unknown policy kind converted")
		}
	}
}

// FuzzConvert feeds arbitrary wire bytes through decoding and conversion: nothing may panic, and
// what converts is within the model's domain.
func FuzzConvert(f *testing.F) {
	for _, fl := range []*pb.Flow{gmFlow(), gmFlow(withEnforced(endOfTier("default", pb.Action_Deny, 0, hit(pb.PolicyKind_NetworkPolicy, "shop", "x", "default", 0, 0, 0))))} {
		b, err := proto.Marshal(fl)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var fl pb.Flow
		if err := proto.Unmarshal(data, &fl); err != nil {
			return
		}
		var c goldmane.Converter
		rec, err := c.Convert(&fl)
		if err != nil {
			var pe *flows.ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("Convert error %v is not a *flows.ParseError", err)
			}
			return
		}
		if rec.Src.Type == 0 || rec.Dst.Type == 0 || rec.Action == 0 || rec.Reporter == 0 || rec.End.Before(rec.Start) {
			t.Fatalf("Convert accepted an out-of-domain record: %+v", rec)
		}
	})
}
