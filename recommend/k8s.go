package recommend

import (
	"cmp"
	"maps"
	"net/netip"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/flowguard/flowguard/flows"
)

// Names of the namespace-wide Kubernetes policies.
const (
	DefaultDenyName = namePrefix + "default-deny"
	AllowDNSName    = namePrefix + "allow-dns"
)

const anyIPv4 = "0.0.0.0/0"

// namePrefix starts the name of every recommended Kubernetes policy.
const namePrefix = "flowguard-"

// policyName prefixes a workload name, keeping the result a valid object name.
func policyName(base string) string {
	const max = 253
	name := namePrefix + base
	if len(name) > max {
		name = strings.TrimRight(name[:max], "-.")
	}
	return name
}

// kubernetesPolicies renders a namespace as NetworkPolicies in the order to apply them, so that
// `kubectl apply` of a namespace's list never cuts observed traffic while it is half applied:
// one policy per group with observed traffic (each allows what it isolates), then the DNS
// allowance (it isolates every pod of the namespace for egress), then the default deny.
func (b *builder) kubernetesPolicies(ns string, rules []*groupRules, life lifecycle, nsStatus Status, nsChanged time.Time) []client.Object {
	meta := func(name string) metav1.ObjectMeta {
		labels := b.labels()
		labels[LabelScope] = ScopeNamespace
		return metav1.ObjectMeta{Name: name, Namespace: ns, Labels: labels, Annotations: b.annotations(life, nsStatus, nsChanged, "")}
	}
	var out []client.Object
	for _, gr := range rules {
		if np := b.groupPolicy(ns, gr, life); np != nil {
			out = append(out, np)
		}
	}
	if d := b.opts.DNS; !d.Disabled {
		out = append(out, &networkingv1.NetworkPolicy{
			TypeMeta:   metav1.TypeMeta{APIVersion: "networking.k8s.io/v1", Kind: "NetworkPolicy"},
			ObjectMeta: meta(AllowDNSName),
			Spec: networkingv1.NetworkPolicySpec{
				PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeEgress},
				Egress: []networkingv1.NetworkPolicyEgressRule{{
					To: []networkingv1.NetworkPolicyPeer{{
						NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{corev1.LabelMetadataName: d.Namespace}},
						PodSelector:       &metav1.LabelSelector{MatchLabels: maps.Clone(d.Labels)},
					}},
					Ports: []networkingv1.NetworkPolicyPort{k8sPort(flows.ProtoUDP, intstr.FromInt32(53)), k8sPort(flows.ProtoTCP, intstr.FromInt32(53))},
				}},
			},
		})
	}
	return append(out, &networkingv1.NetworkPolicy{
		TypeMeta:   metav1.TypeMeta{APIVersion: "networking.k8s.io/v1", Kind: "NetworkPolicy"},
		ObjectMeta: meta(DefaultDenyName),
		Spec: networkingv1.NetworkPolicySpec{
			PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress},
		},
	})
}

// groupPolicy is the NetworkPolicy of one group's observed traffic, nil when it has none.
func (b *builder) groupPolicy(ns string, gr *groupRules, life lifecycle) *networkingv1.NetworkPolicy {
	np := &networkingv1.NetworkPolicy{
		TypeMeta: metav1.TypeMeta{APIVersion: "networking.k8s.io/v1", Kind: "NetworkPolicy"},
		Spec:     networkingv1.NetworkPolicySpec{PodSelector: gr.g.k8sSel},
	}
	labels := b.labels()
	labels[LabelScope] = ScopeWorkload
	np.ObjectMeta = metav1.ObjectMeta{Name: gr.g.name, Namespace: ns, Labels: labels,
		Annotations: b.annotations(life, life.status(gr.changed), gr.changed, gr.g.memberList)}
	for _, r := range b.k8sRules(gr.g, gr.ingress, true) {
		np.Spec.Ingress = append(np.Spec.Ingress, networkingv1.NetworkPolicyIngressRule{From: r.peers, Ports: r.ports})
	}
	for _, r := range b.k8sRules(gr.g, gr.egress, false) {
		np.Spec.Egress = append(np.Spec.Egress, networkingv1.NetworkPolicyEgressRule{To: r.peers, Ports: r.ports})
	}
	if len(np.Spec.Ingress) > 0 {
		np.Spec.PolicyTypes = append(np.Spec.PolicyTypes, networkingv1.PolicyTypeIngress)
	}
	if len(np.Spec.Egress) > 0 {
		np.Spec.PolicyTypes = append(np.Spec.PolicyTypes, networkingv1.PolicyTypeEgress)
	}
	if len(np.Spec.PolicyTypes) == 0 {
		return nil
	}
	return np
}

type k8sRule struct {
	peers []networkingv1.NetworkPolicyPeer
	ports []networkingv1.NetworkPolicyPort
	order string
}

// k8sRules turns one direction's peer rules into NetworkPolicy rules: peers with the same
// ports share a rule (a rule allows any of its peers on any of its ports, so only identical
// port lists may be merged without allowing more than was seen).
func (b *builder) k8sRules(self *group, dir map[peer]*peerRule, ingress bool) []k8sRule {
	byPorts := map[string]*k8sRule{}
	for _, r := range sortedPeers(dir) {
		peers := b.k8sPeers(self.ns, r.peer)
		if len(peers) == 0 {
			continue // an empty from/to would allow everyone
		}
		dst := self
		if !ingress {
			dst = r.peer.group // nil unless the peer is a workload
		}
		ports := k8sPorts(r.ports, dst)
		key := portsKey(ports)
		kr := byPorts[key]
		if kr == nil {
			kr = &k8sRule{ports: ports, order: r.peer.sortKey()}
			byPorts[key] = kr
		}
		kr.peers = append(kr.peers, peers...)
	}
	out := make([]k8sRule, 0, len(byPorts))
	for _, kr := range byPorts {
		out = append(out, *kr)
	}
	slices.SortFunc(out, func(a, b k8sRule) int { return cmp.Compare(a.order, b.order) })
	return out
}

// k8sPeers renders a peer: pods by selector (with their namespace's name outside the
// policy's own), network sets and networks as ipBlocks.
func (b *builder) k8sPeers(ns string, p peer) []networkingv1.NetworkPolicyPeer {
	switch p.kind {
	case peerWorkload:
		out := networkingv1.NetworkPolicyPeer{PodSelector: &p.group.k8sSel}
		if p.group.ns != ns {
			out.NamespaceSelector = b.namespaceSelector(p.group.ns)
		}
		return []networkingv1.NetworkPolicyPeer{out}
	case peerNetworkSet:
		var out []networkingv1.NetworkPolicyPeer
		for _, n := range sortedNets(p.set.Nets) {
			out = append(out, ipBlock(n.String()))
		}
		return out
	case peerAddress:
		return []networkingv1.NetworkPolicyPeer{ipBlock(p.prefix.String())}
	case peerPrivate:
		var out []networkingv1.NetworkPolicyPeer
		for _, n := range flows.PrivateNets() {
			out = append(out, ipBlock(n.String()))
		}
		return out
	case peerPublic:
		pub := ipBlock(anyIPv4)
		for _, n := range flows.PrivateNets() {
			pub.IPBlock.Except = append(pub.IPBlock.Except, n.String())
		}
		return []networkingv1.NetworkPolicyPeer{pub}
	}
	return nil
}

// sortedNets returns a copy of nets in address order, so output does not depend on the order
// a set lists them in.
func sortedNets(nets []netip.Prefix) []netip.Prefix {
	out := slices.Clone(nets)
	slices.SortFunc(out, func(a, b netip.Prefix) int {
		return cmp.Or(a.Addr().Compare(b.Addr()), cmp.Compare(a.Bits(), b.Bits()))
	})
	return out
}

// namespaceSelector selects one namespace by name; one selector per namespace is shared by
// every rule that names it.
func (b *builder) namespaceSelector(ns string) *metav1.LabelSelector {
	if sel, ok := b.nsSelectors[ns]; ok {
		return sel
	}
	return &metav1.LabelSelector{MatchLabels: map[string]string{corev1.LabelMetadataName: ns}}
}

func ipBlock(cidr string) networkingv1.NetworkPolicyPeer {
	return networkingv1.NetworkPolicyPeer{IPBlock: &networkingv1.IPBlock{CIDR: cidr}}
}

// k8sPorts renders ports: by the name the destination gives the port where it does, by
// number otherwise; a port aggregated away as the bare protocol (every port).
func k8sPorts(ports []portKey, dst *group) []networkingv1.NetworkPolicyPort {
	out := make([]networkingv1.NetworkPolicyPort, 0, len(ports))
	for _, pk := range ports {
		if pk.port == 0 {
			proto := k8sProtocol(pk.proto)
			out = append(out, networkingv1.NetworkPolicyPort{Protocol: &proto})
			continue
		}
		port := intstr.FromInt32(int32(pk.port))
		if dst != nil {
			if name := dst.portName(pk.proto, pk.port); name != "" {
				port = intstr.FromString(name)
			}
		}
		out = append(out, k8sPort(pk.proto, port))
	}
	return out
}

func k8sPort(proto flows.Protocol, port intstr.IntOrString) networkingv1.NetworkPolicyPort {
	p := k8sProtocol(proto)
	return networkingv1.NetworkPolicyPort{Protocol: &p, Port: &port}
}

func k8sProtocol(p flows.Protocol) corev1.Protocol {
	switch p {
	case flows.ProtoUDP:
		return corev1.ProtocolUDP
	case flows.ProtoSCTP:
		return corev1.ProtocolSCTP
	}
	return corev1.ProtocolTCP
}

// portsKey identifies a port list, for merging peers with the same ports.
func portsKey(ports []networkingv1.NetworkPolicyPort) string {
	var b strings.Builder
	for _, p := range ports {
		b.WriteString(string(*p.Protocol))
		b.WriteByte('/')
		if p.Port != nil {
			b.WriteString(p.Port.String())
		}
		b.WriteByte(',')
	}
	return b.String()
}
