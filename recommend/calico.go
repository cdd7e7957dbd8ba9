package recommend

import (
	"slices"
	"time"

	calicov3 "github.com/projectcalico/api/pkg/apis/projectcalico/v3"
	"github.com/projectcalico/api/pkg/lib/numorstring"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/flowguard/flowguard/flows"
	"github.com/flowguard/flowguard/netpol"
)

// Rule annotations of StyleCalicoStaged policies: what a rule was learned from.
const (
	// RuleAnnotationWorkload names the namespace's workload the rule is for.
	RuleAnnotationWorkload = "flowguard.dev/workload"
	// RuleAnnotationPeer names the other side of the connections.
	RuleAnnotationPeer = "flowguard.dev/peer"
)

// calicoTier is the tier the staged policies live in; its end-of-tier Deny is what isolates
// each namespace once its policy is enforced.
func calicoTier(o *Options) *calicov3.Tier {
	order, deny := o.TierOrder, calicov3.Deny
	return &calicov3.Tier{
		TypeMeta:   metav1.TypeMeta{APIVersion: calicov3.GroupVersionCurrent, Kind: calicov3.KindTier},
		ObjectMeta: metav1.ObjectMeta{Name: o.Tier, Labels: map[string]string{LabelManagedBy: o.ManagedBy}},
		Spec:       calicov3.TierSpec{Order: &order, DefaultAction: &deny},
	}
}

// CalicoPolicyName is the name of a namespace's staged policy: Calico requires policies of a
// tier other than default to carry the tier's name as a prefix.
func CalicoPolicyName(tier, namespace string) string { return tier + "." + namespace }

// calicoPolicy renders a namespace as one StagedNetworkPolicy selecting all its endpoints, as
// Calico's recommender does: DNS egress, then per group its ingress and egress rules.
func (b *builder) calicoPolicy(ns string, rules []*groupRules, life lifecycle, status Status, changed time.Time) *calicov3.StagedNetworkPolicy {
	sp := &calicov3.StagedNetworkPolicy{
		TypeMeta: metav1.TypeMeta{APIVersion: calicov3.GroupVersionCurrent, Kind: calicov3.KindStagedNetworkPolicy},
		ObjectMeta: metav1.ObjectMeta{Name: CalicoPolicyName(b.opts.Tier, ns), Namespace: ns, Labels: b.labels(),
			Annotations: b.annotations(life, status, changed, "")},
		Spec: calicov3.StagedNetworkPolicySpec{
			StagedAction: calicov3.StagedActionSet,
			Tier:         b.opts.Tier,
			Selector:     calicov3.LabelNamespace + " == '" + ns + "'",
			Types:        []calicov3.PolicyType{calicov3.PolicyTypeIngress, calicov3.PolicyTypeEgress},
		},
	}
	if d := b.opts.DNS; !d.Disabled {
		dns := labelSelector{Match: d.Labels}
		for _, proto := range []flows.Protocol{flows.ProtoUDP, flows.ProtoTCP} {
			sp.Spec.Egress = append(sp.Spec.Egress, calicov3.Rule{
				Action:   calicov3.Allow,
				Protocol: calicoProtocol(proto),
				Destination: calicov3.EntityRule{
					NamespaceSelector: calicoNamespace(d.Namespace),
					Selector:          dns.calico(),
					Ports:             []numorstring.Port{numorstring.SinglePort(53)},
				},
				Metadata: &calicov3.RuleMetadata{Annotations: map[string]string{RuleAnnotationPeer: "cluster DNS"}},
			})
		}
	}
	// Rules are large structs and a namespace has thousands: size the lists once.
	nIn, nEg := 0, 0
	for _, gr := range rules {
		for _, r := range gr.ingress {
			nIn += len(protocolsOf(r))
		}
		for _, r := range gr.egress {
			nEg += len(protocolsOf(r))
		}
	}
	sp.Spec.Ingress = make([]calicov3.Rule, 0, nIn)
	sp.Spec.Egress = slices.Grow(sp.Spec.Egress, nEg)
	for _, gr := range rules {
		self := gr.g.calicoSel
		for _, r := range sortedPeers(gr.ingress) {
			for _, proto := range protocolsOf(r) {
				rule := calicov3.Rule{Action: calicov3.Allow, Protocol: calicoProtocol(proto), Source: b.calicoEntity(ns, r.peer)}
				rule.Destination = calicov3.EntityRule{Selector: self, Ports: calicoPorts(r, proto, gr.g)}
				rule.Metadata = ruleMetadata(gr, r)
				sp.Spec.Ingress = append(sp.Spec.Ingress, rule)
			}
		}
		for _, r := range sortedPeers(gr.egress) {
			for _, proto := range protocolsOf(r) {
				rule := calicov3.Rule{Action: calicov3.Allow, Protocol: calicoProtocol(proto), Destination: b.calicoEntity(ns, r.peer)}
				rule.Source = calicov3.EntityRule{Selector: self}
				rule.Destination.Ports = calicoPorts(r, proto, r.peer.group)
				rule.Metadata = ruleMetadata(gr, r)
				sp.Spec.Egress = append(sp.Spec.Egress, rule)
			}
		}
	}
	return sp
}

func ruleMetadata(gr *groupRules, r *peerRule) *calicov3.RuleMetadata {
	return &calicov3.RuleMetadata{Annotations: map[string]string{
		RuleAnnotationWorkload: gr.g.memberList,
		RuleAnnotationPeer:     r.peer.String(),
	}}
}

// calicoEntity renders a peer: workloads by selector (and namespace selector outside the
// policy's own namespace), network sets by their labels (global() for global sets) or, when
// labels cannot single them out, by their nets; networks by nets.
func (b *builder) calicoEntity(ns string, p peer) calicov3.EntityRule {
	switch p.kind {
	case peerWorkload:
		e := calicov3.EntityRule{Selector: p.group.calicoSel}
		if p.group.ns != ns {
			e.NamespaceSelector = calicoNamespace(p.group.ns)
		}
		return e
	case peerNetworkSet:
		s := p.set
		if !b.setSelectable(s) {
			return calicov3.EntityRule{Nets: prefixStrings(sortedNets(s.Nets))}
		}
		e := calicov3.EntityRule{Selector: (&labelSelector{Match: s.Labels}).calico()}
		switch {
		case s.Global():
			e.NamespaceSelector = "global()"
		case s.Namespace != ns:
			e.NamespaceSelector = calicoNamespace(s.Namespace)
		}
		return e
	case peerAddress:
		return calicov3.EntityRule{Nets: []string{p.prefix.String()}}
	case peerPrivate:
		return calicov3.EntityRule{Nets: prefixStrings(flows.PrivateNets())}
	case peerPublic:
		return calicov3.EntityRule{Nets: []string{anyIPv4}, NotNets: prefixStrings(flows.PrivateNets())}
	}
	return calicov3.EntityRule{}
}

// setSelectable reports whether a network set's labels select it and nothing else a rule
// could reach in its scope: no other set of the scope carries them, nor (for a namespaced
// set) any workload of its namespace.
func (b *builder) setSelectable(set *netpol.NetworkSet) bool {
	if len(set.Labels) == 0 {
		return false
	}
	sel := labelSelector{Match: set.Labels}
	for k, o := range b.inv.sets {
		if k[0] == set.Namespace && o != set && sel.matches(o.Labels) {
			return false
		}
	}
	if !set.Global() {
		if n := b.inv.namespaces[set.Namespace]; n != nil {
			for _, g := range n.groups {
				for _, w := range g.members {
					if sel.matches(w.Labels) {
						return false
					}
				}
			}
		}
	}
	return true
}

// calicoNamespace selects one namespace by the label Calico gives every namespace.
func calicoNamespace(ns string) string { return "projectcalico.org/name == '" + ns + "'" }

// protocolsOf returns the protocols of a peer rule, in order (its ports are sorted).
func protocolsOf(r *peerRule) []flows.Protocol {
	out := make([]flows.Protocol, 0, 1)
	for _, pk := range r.ports {
		if len(out) == 0 || out[len(out)-1] != pk.proto {
			out = append(out, pk.proto)
		}
	}
	return out
}

// calicoPorts returns the ports of one protocol, named as the destination names them; nil
// (every port) when the port was aggregated away or the protocol has none.
func calicoPorts(r *peerRule, proto flows.Protocol, dst *group) []numorstring.Port {
	if !proto.HasPorts() {
		return nil
	}
	var out []numorstring.Port
	for _, pk := range r.ports {
		if pk.proto != proto {
			continue
		}
		if pk.port == 0 {
			return nil
		}
		if dst != nil {
			if name := dst.portName(proto, pk.port); name != "" {
				out = append(out, numorstring.NamedPort(name))
				continue
			}
		}
		out = append(out, numorstring.SinglePort(pk.port))
	}
	return out
}

func calicoProtocol(p flows.Protocol) *numorstring.Protocol {
	var out numorstring.Protocol
	switch p {
	case flows.ProtoTCP:
		out = numorstring.ProtocolFromString(numorstring.ProtocolTCP)
	case flows.ProtoUDP:
		out = numorstring.ProtocolFromString(numorstring.ProtocolUDP)
	case flows.ProtoSCTP:
		out = numorstring.ProtocolFromString(numorstring.ProtocolSCTP)
	case flows.ProtoICMP:
		out = numorstring.ProtocolFromString(numorstring.ProtocolICMP)
	case flows.ProtoICMPv6:
		out = numorstring.ProtocolFromString(numorstring.ProtocolICMPv6)
	default:
		out = numorstring.ProtocolFromInt(uint8(p))
	}
	return &out
}

func prefixStrings[P interface{ String() string }](ps []P) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.String()
	}
	return out
}
