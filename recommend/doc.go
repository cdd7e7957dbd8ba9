// Package recommend learns least-privilege network policies from observed traffic: given the
// cluster model (namespaces, workloads with their labels and named ports, network sets) and
// the traffic graph, it writes policies that allow exactly the connections observed as allowed
// and nothing else.
//
// # Styles
//
// StyleKubernetes writes networking.k8s.io/v1 NetworkPolicies: per namespace a default deny
// (ingress and egress) and an egress allowance to cluster DNS (kube-system/kube-dns, UDP and
// TCP 53), and per workload one policy with the observed peers. Pods are selected by the
// workload's stable labels (never pod-template-hash, controller-revision-hash and the other
// labels controllers stamp on pods or change on upgrade), namespaces by
// kubernetes.io/metadata.name, ports by number or by the name the destination pod gives them,
// addresses outside the cluster as ipBlocks: the exact address where the flow kept it,
// otherwise the documented fallback for Calico's "pub" (0.0.0.0/0 except RFC 1918) and "pvt"
// (the RFC 1918 blocks) networks, IPv4 as Calico defines them.
//
// StyleCalicoStaged writes one projectcalico.org/v3 StagedNetworkPolicy per namespace, in a
// tier (namespace-isolation by default) whose end-of-tier Deny isolates the namespace, selected
// as Calico's own recommender does (projectcalico.org/namespace == '<ns>'), with rules by
// namespace and workload selector, by NetworkSet (its labels; global() for global sets), and
// to public and private networks by nets. Staged policies change nothing until someone
// enforces them, so they can be previewed with Calico's staged-policy tooling first.
//
// # Stability
//
// A recommendation is a pure function of the graph, the cluster and the options: the same
// input gives byte-identical output, so it changes only when traffic (or the cluster) does.
// Each policy carries its lifecycle state in the flowguard.dev/recommendation-status
// annotation: learning while less than Options.MinObservation of traffic has been seen,
// stabilizing while a connection it allows was first seen less than
// Options.StabilizationPeriod ago, stable afterwards. The state is computed from the edges'
// first and last seen and Options.At (the injected "now"); a recommendation is always
// produced and marked, never withheld.
//
// # What it must never do
//
// recommend never guesses: a flow it cannot tie to a workload of the cluster model (an unknown
// namespace or name, a name aggregated away, an ambiguous match, a host endpoint) is listed
// in Result.Unresolved with the reason, and traffic a style cannot express exactly (ICMP in a
// Kubernetes policy, a port aggregated away) is listed in Result.Notes. It only reads the
// cluster and the graph, keeps no global state, and never writes to a cluster itself: callers
// decide what to do with the objects it returns.
package recommend
