// Package netpol is flowguard's model of network policy semantics: it reads Kubernetes and Calico
// policies, the workloads they govern and the sets and tiers they refer to, compiles them into
// one intermediate representation, and answers questions about traffic with the exact rules
// Kubernetes and Calico (Felix) apply.
//
// # Inputs
//
// A Cluster holds typed objects: Kubernetes NetworkPolicy; Calico (projectcalico.org/v3)
// NetworkPolicy, GlobalNetworkPolicy, StagedNetworkPolicy, StagedGlobalNetworkPolicy,
// StagedKubernetesNetworkPolicy, NetworkSet, GlobalNetworkSet, Tier and HostEndpoint;
// AdminNetworkPolicy, BaselineAdminNetworkPolicy and ClusterNetworkPolicy; Namespaces,
// Pods and pod-template workloads (Deployment, StatefulSet, DaemonSet, ReplicaSet,
// ReplicationController, Job, CronJob), ServiceAccounts and Services. Load reads them from
// YAML/JSON files and folders (multi-document files, List kinds, typed lists whose items carry
// no kind as the API server returns them; a status block on a kind that has none, like
// NetworkPolicy's, is ignored, unknown spec fields are errors) and applies the API defaulting
// a validating webhook would see (policyTypes, protocol TCP, Calico types inference); informers
// fill the same model with (*Cluster).Add and Remove. Every object is validated and compiled
// once, when it is added; pods fold into their controller, and a pod whose controller is not
// in the input into a workload named for it (a ReplicaSet "<name>-<pod-template-hash>" by its
// Deployment <name>, as kubectl does); a bad object is refused with an error naming its file, kind,
// namespace/name and field path, and the others still load.
//
// # Engine and verdicts
//
// NewEngine freezes a Cluster snapshot and answers Verdict(src, dst, proto, port): egress
// decided at the source and ingress at the destination, each with the Hit that decided it (tier,
// policy, rule index, action; or "no policy selects this endpoint"; or the end-of-tier default;
// or the profile). Explain returns the full trace including Log and Pass hits. PendingVerdict
// answers the same question with staged policies enforced (stagedAction Delete removes the
// enforced twin), as Calico's pending_policies do.
//
// Evaluation follows Calico: tiers by order (nil last, ties by name), within a tier the
// policies that select the endpoint for that direction by order, ties broken by the key Felix
// sorts on (order.go: "a/default.c" before "default.b-all"), rules in order;
// Allow and Deny are final, Log continues, Pass skips to the next tier; a tier in which a policy
// selected the endpoint but no rule matched ends with its default action (Deny, or Pass);
// after all tiers the profile allows. Kubernetes NetworkPolicies sit in tier "default" at
// order 1000 and keep Kubernetes semantics for their peers and ports (pods only, the policy's
// namespace unless a namespaceSelector says otherwise, named ports resolved on the destination
// pod, ipBlock except, endPort).
//
// The Kubernetes admin policy kinds are placed exactly as Calico places them, each converted to
// the GlobalNetworkPolicy Calico makes of it and evaluated as one:
//   - AdminNetworkPolicy (policy.networking.k8s.io/v1alpha1; Calico v3.30-v3.31): tier
//     "adminnetworkpolicy" (order 1,000, default action Pass), order = spec.priority, key
//     "kanp.adminnetworkpolicy.<name>"; actions Allow, Deny, Pass.
//   - BaselineAdminNetworkPolicy (v1alpha1): tier "baselineadminnetworkpolicy" (order
//     10,000,000, default Pass), order 1000, key "kbanp.baselineadminnetworkpolicy.<name>";
//     actions Allow, Deny.
//   - ClusterNetworkPolicy (v1alpha2; Calico v3.32): spec.tier Admin in tier "kube-admin"
//     (order 1,000, default Pass), Baseline in "kube-baseline" (order 10,000,000, default
//     Pass), order = spec.priority; Accept is Allow.
//
// The subject becomes the policy's namespaceSelector and a selector requiring
// projectcalico.org/orchestrator == 'k8s' (pods only, never host endpoints); each rule becomes
// one Calico rule per protocol and peer; a rule Calico cannot convert (a peer of nodes or
// domain names only, a port range it refuses) is dropped when it allows and replaced by a
// Deny of everything when it denies or passes; with no rules the policy governs both
// directions and so only adds its tier's Pass; in v1alpha1 a namedPort reads as every port
// and protocol (Calico v3.31 does not support named ports there), in v1alpha2 a
// destinationNamedPort is resolved on the destination pod. Traces name the rule as written
// (spec.ingress[i]). Sources, projectcalico/calico at v3.31.0:
// libcalico-go/lib/backend/k8s/conversion/conversion.go (K8sAdminNetworkPolicyToCalico,
// K8sBaselineAdminNetworkPolicyToCalico, combinePortsWithANP*Peers, unpackANPPorts,
// k8sSelectorToCalico), libcalico-go/lib/names/policy.go (tier names and key prefixes),
// libcalico-go/lib/clientv3/client.go (ensureTierExists: tiers and default actions),
// api/pkg/apis/projectcalico/v3/tier.go (tier orders), felix/calc/policy_sorter.go (TierLess,
// PolKVLess, ExtractPolicyMetadata: empty types mean both); at v3.32.0:
// libcalico-go/lib/backend/k8s/conversion/clusternetworkpolicy.go and the same names,
// client.go and tier.go files (kube-admin, kube-baseline). The types come from
// sigs.k8s.io/network-policy-api v0.2.0, the version Calico v3.32 builds with, which holds
// both v1alpha1 and v1alpha2 (v0.3.0 needs a newer Go than this module's).
//
// Endpoints (pods, workloads, host endpoints, network sets, addresses outside the cluster) are
// values independent of any engine. An engine resolves an endpoint against its cluster (the
// workload behind a flow's aggregated name, its namespace's labels, service account, named
// ports, Services and the NetworkSets that contain its addresses) and interns the result in an
// equivalence class; endpoints with the same resolved identity share one class, its applicable
// policy lists (found through an index of policy selectors, never a scan) and memoised verdicts.
//
// # Changes and impact
//
// (*Engine).WithChange(op, oldObj, newObj) returns a new engine for the cluster after one
// create, update or delete of any kind above, copy-on-write: everything the change cannot touch
// is shared. The cluster copies one namespace's objects, the identity index rebuilds one
// namespace, the policy index is the parent's with one policy replaced, address pieces are cut
// further only at nets the change adds, and endpoints keep the parent's resolution and
// applicable policies unless the change can alter them (derive.go says how each is decided;
// a property test holds derived engines to engines built from scratch). Impact(before, after,
// conns) returns the connections whose verdict differs, with both verdicts; when after
// descends from before through WithChange only the connections whose endpoints the change can
// touch are evaluated, so one change over a million connections costs little more than a
// scan, and one over the few hundred an admission check asks about well under a millisecond.
//
// # Connectivity
//
// Connectivity computes the allowed connections between all workloads and to and from address
// space outside the cluster, per equivalence class pair rather than per workload pair, with the
// allowed ports and protocols as sets. ConnectivityFunc streams the same edges in printed
// order as they are computed, holding per-class answers and one source class's row, never
// the pairs. A workload whose pods use the host network is marked
// (ConnectivityPeer.HostNetwork): no pod policy governs it.
//
// # Using it
//
//	c, err := netpol.Load("manifests/")            // or NewCluster + c.Add(obj) from informers
//	e := netpol.NewEngine(c)                        // frozen snapshot; safe for concurrent use
//	src := netpol.FlowEndpoint(rec.Src)             // once per flow identity, shared by pointer
//	dst := netpol.FlowEndpoint(rec.Dst)
//	v := e.Verdict(src, dst, netpol.PacketOf(rec.Proto, rec.DstPort))
//	v.Allowed; v.Egress.Hit; v.Ingress.Hit          // Explain(...) adds the full trace
//
//	after, err := e.WithChange(netpol.Operation(req.Operation), oldObj, newObj)
//	for _, ic := range netpol.Impact(e, after, conns) { ic.Before, ic.After }
//
// Endpoints also come from WorkloadEndpoint(ref), AddrEndpoint(ip), RangeEndpoint(name,
// nets...) and (*Cluster).ParsePeer("ns/name"). Policies(ep, dir), Selects(p, ep) and
// Resolve(ep) answer which policies apply and which workload a name means; Connectivity()
// maps what is allowed between all workloads. EvaluationOrder and ComparePolicies export the
// one evaluation order; Shadowed(p) finds the rules of p that order never lets decide.
// PrivateNets (package flows) and VolatileLabels are the one list of private networks and of
// labels never to select on.
//
// Semantics decided here, where Calico or Kubernetes leave a choice or flows lack data: a pod
// without a known address never matches nets or ipBlocks (and never notNets); an endpoint
// known only by a range (a network set, "pub", "pvt") is inside nets only when all of the
// range is; a rule constraining source ports matches a packet whose source port
// the question gives (Packet.SrcPort) and not one it leaves unknown, a rule on an ICMP type
// likewise, and a rule with an HTTP match never matches in the dataplane: when such a rule
// comes before what decided, the decision says it depends on it (Decision.DependsOn, and
// "! depends on" in explanations), so an outcome is never silently taken for certain; the
// connectivity map, whose connection sets carry destination ports only, leaves source-port
// and HTTP rules out; an unknown destination port matches no port rule; doNotTrack and
// preDNAT policies apply to host endpoints only and are evaluated like the others; a policy naming a missing tier sits in an
// unordered tier with default Deny; staged Learn acts like Set and Ignore takes no part; a
// host endpoint without profiles denies what its policies leave undecided, and a host no
// HostEndpoint object describes is not policed; a host-network pod is neither policed nor
// matched by pod selectors (Calico makes no workload endpoint for it). Kubernetes rule indexes in traces are
// positions in spec.ingress/spec.egress (Calico's flow logs number the rules it generates per
// peer and protocol instead).
//
// # What it must never do
//
// netpol reads flows' model types only, never the traffic graph; it knows nothing of Rego,
// admission or reports. It never mutates objects handed to it (it defaults copies), keeps no
// global state, and never guesses silently: what it cannot evaluate exactly is listed above.
package netpol
