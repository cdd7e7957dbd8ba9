package netpol

import (
	"net/netip"

	calicov3 "github.com/projectcalico/api/pkg/apis/projectcalico/v3"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/flowguard/flowguard/netpol/selector"
)

// k8sPolicySpec is what NetworkPolicy and StagedKubernetesNetworkPolicy have in common.
type k8sPolicySpec struct {
	podSelector metav1.LabelSelector
	ingress     []networkingv1.NetworkPolicyIngressRule
	egress      []networkingv1.NetworkPolicyEgressRule
	policyTypes []networkingv1.PolicyType
	staged      calicov3.StagedAction
}

// compileKubernetesPolicy validates and compiles a (defaulted) Kubernetes NetworkPolicy.
func compileKubernetesPolicy(np *networkingv1.NetworkPolicy) (*Policy, field.ErrorList) {
	spec := k8sPolicySpec{
		podSelector: np.Spec.PodSelector, ingress: np.Spec.Ingress, egress: np.Spec.Egress,
		policyTypes: np.Spec.PolicyTypes,
	}
	ref := PolicyRef{Kind: KindKubernetesNetworkPolicy, Namespace: np.Namespace, Name: np.Name}
	return compileK8sShaped(ref, spec, np)
}

// compileStagedKubernetesPolicy compiles a StagedKubernetesNetworkPolicy like the policy it
// stages.
func compileStagedKubernetesPolicy(np *calicov3.StagedKubernetesNetworkPolicy) (*Policy, field.ErrorList) {
	spec := k8sPolicySpec{
		podSelector: np.Spec.PodSelector, ingress: np.Spec.Ingress, egress: np.Spec.Egress,
		policyTypes: np.Spec.PolicyTypes, staged: np.Spec.StagedAction,
	}
	ref := PolicyRef{Kind: KindStagedKubernetesNetworkPolicy, Namespace: np.Namespace, Name: np.Name}
	p, errs := compileK8sShaped(ref, spec, np)
	if p != nil {
		sa, err := compileStagedAction(spec.staged, field.NewPath("spec", "stagedAction"))
		errs = append(errs, err...)
		p.StagedAction = sa
	}
	return p, errs
}

func compileK8sShaped(ref PolicyRef, spec k8sPolicySpec, obj runtime.Object) (*Policy, field.ErrorList) {
	specPath := field.NewPath("spec")
	var errs field.ErrorList
	p := &Policy{
		Ref: ref, Tier: DefaultTier, Order: KubernetesPolicyOrder, HasOrder: true,
		Kubernetes: true, Object: obj, namespace: ref.Namespace, felixName: felixName(ref),
	}
	sel, serrs := selector.FromLabelSelectorAt(&spec.podSelector, specPath.Child("podSelector"))
	errs = append(errs, serrs...)
	p.sel = sel

	types := spec.policyTypes
	if len(types) == 0 {
		types = defaultPolicyTypes(len(spec.egress) > 0)
	}
	for i, t := range types {
		switch t {
		case networkingv1.PolicyTypeIngress:
			p.Types[Ingress] = true
		case networkingv1.PolicyTypeEgress:
			p.Types[Egress] = true
		default:
			errs = append(errs, field.NotSupported(specPath.Child("policyTypes").Index(i), t,
				[]networkingv1.PolicyType{networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress}))
		}
	}

	for i, r := range spec.ingress {
		path := specPath.Child("ingress").Index(i)
		rule := Rule{Index: i, Action: ActionAllow}
		var e field.ErrorList
		rule.Src.Peers, e = compileK8sPeers(r.From, ref.Namespace, path.Child("from"))
		errs = append(errs, e...)
		rule.Dst.Ports, e = compileK8sPorts(r.Ports, path.Child("ports"))
		errs = append(errs, e...)
		p.Rules[Ingress] = append(p.Rules[Ingress], rule)
	}
	for i, r := range spec.egress {
		path := specPath.Child("egress").Index(i)
		rule := Rule{Index: i, Action: ActionAllow}
		var e field.ErrorList
		rule.Dst.Peers, e = compileK8sPeers(r.To, ref.Namespace, path.Child("to"))
		errs = append(errs, e...)
		rule.Dst.Ports, e = compileK8sPorts(r.Ports, path.Child("ports"))
		errs = append(errs, e...)
		p.Rules[Egress] = append(p.Rules[Egress], rule)
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return p, nil
}

// defaultPolicyTypes is the API server's default for an unset policyTypes: Ingress always,
// Egress only when there are egress rules (so "egress: []" does not isolate egress).
func defaultPolicyTypes(hasEgressRules bool) []networkingv1.PolicyType {
	if hasEgressRules {
		return []networkingv1.PolicyType{networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress}
	}
	return []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}
}

// compileK8sPeers returns nil (any peer) for an empty list, as Kubernetes reads a missing or
// empty from/to.
func compileK8sPeers(peers []networkingv1.NetworkPolicyPeer, ns string, path *field.Path) ([]Peer, field.ErrorList) {
	if len(peers) == 0 {
		return nil, nil
	}
	var errs field.ErrorList
	out := make([]Peer, 0, len(peers))
	for i, peer := range peers {
		pp := path.Index(i)
		n := 0
		var cp Peer
		cp.ns = ns
		if peer.PodSelector != nil {
			n++
			s, serrs := selector.FromLabelSelectorAt(peer.PodSelector, pp.Child("podSelector"))
			errs = append(errs, serrs...)
			cp.Pods = s
		}
		if peer.NamespaceSelector != nil {
			n++
			s, serrs := selector.FromLabelSelectorAt(peer.NamespaceSelector, pp.Child("namespaceSelector"))
			errs = append(errs, serrs...)
			cp.NS = s
		}
		if peer.IPBlock != nil {
			n++
			b, e := compileIPBlock(peer.IPBlock, pp.Child("ipBlock"))
			errs = append(errs, e...)
			cp.IPBlock = b
		}
		switch {
		case n == 0:
			errs = append(errs, field.Required(pp, "must specify a peer"))
		case n > 1 && peer.IPBlock != nil:
			errs = append(errs, field.Forbidden(pp, "may not specify both ipBlock and another peer"))
		}
		out = append(out, cp)
	}
	return out, errs
}

// compileIPBlock validates as the API server does: a valid CIDR, and each except a strict
// subset of it.
func compileIPBlock(b *networkingv1.IPBlock, path *field.Path) (*IPBlock, field.ErrorList) {
	var errs field.ErrorList
	cidr, err := netip.ParsePrefix(b.CIDR)
	if err != nil {
		return nil, field.ErrorList{field.Invalid(path.Child("cidr"), b.CIDR, "must be a valid CIDR")}
	}
	out := &IPBlock{CIDR: cidr.Masked()}
	for i, ex := range b.Except {
		p, err := netip.ParsePrefix(ex)
		if err != nil {
			errs = append(errs, field.Invalid(path.Child("except").Index(i), ex, "must be a valid CIDR"))
			continue
		}
		if p.Addr().Is4() != cidr.Addr().Is4() || p.Bits() <= cidr.Bits() || !out.CIDR.Contains(p.Addr()) {
			errs = append(errs, field.Invalid(path.Child("except").Index(i), ex, "must be a strict subset of `cidr`"))
			continue
		}
		out.Except = append(out.Except, p.Masked())
	}
	return out, errs
}

// compileK8sPorts returns nil (all ports, all protocols) for an empty list.
func compileK8sPorts(ports []networkingv1.NetworkPolicyPort, path *field.Path) ([]PortMatch, field.ErrorList) {
	if len(ports) == 0 {
		return nil, nil
	}
	var errs field.ErrorList
	out := make([]PortMatch, 0, len(ports))
	for i, p := range ports {
		pp := path.Index(i)
		proto := corev1.ProtocolTCP
		if p.Protocol != nil {
			proto = *p.Protocol
		}
		num, ok := k8sProtocolNumber(proto)
		if !ok {
			errs = append(errs, field.NotSupported(pp.Child("protocol"), proto,
				[]corev1.Protocol{corev1.ProtocolTCP, corev1.ProtocolUDP, corev1.ProtocolSCTP}))
			continue
		}
		m := PortMatch{Proto: num}
		switch {
		case p.Port == nil:
			m.Any = true
			if p.EndPort != nil {
				errs = append(errs, field.Required(pp.Child("port"), "must be specified when endPort is specified"))
			}
		case p.Port.Type == intstr.Int:
			v := p.Port.IntVal
			for _, msg := range validation.IsValidPortNum(int(v)) {
				errs = append(errs, field.Invalid(pp.Child("port"), v, msg))
			}
			m.Lo, m.Hi = uint16(v), uint16(v)
			if p.EndPort != nil {
				end := *p.EndPort
				for _, msg := range validation.IsValidPortNum(int(end)) {
					errs = append(errs, field.Invalid(pp.Child("endPort"), end, msg))
				}
				if end < v {
					errs = append(errs, field.Invalid(pp.Child("endPort"), end, "must be greater than or equal to `port`"))
				}
				m.Hi = uint16(end)
			}
		default:
			for _, msg := range validation.IsValidPortName(p.Port.StrVal) {
				errs = append(errs, field.Invalid(pp.Child("port"), p.Port.StrVal, msg))
			}
			if p.EndPort != nil {
				errs = append(errs, field.Invalid(pp.Child("endPort"), *p.EndPort, "may not be specified when `port` is non-numeric"))
			}
			m.Name = p.Port.StrVal
		}
		out = append(out, m)
	}
	return out, errs
}

func k8sProtocolNumber(p corev1.Protocol) (uint8, bool) {
	switch p {
	case corev1.ProtocolTCP:
		return 6, true
	case corev1.ProtocolUDP:
		return 17, true
	case corev1.ProtocolSCTP:
		return 132, true
	}
	return 0, false
}

func compileStagedAction(a calicov3.StagedAction, path *field.Path) (StagedAction, field.ErrorList) {
	switch a {
	case "", calicov3.StagedActionSet:
		return StagedSet, nil
	case calicov3.StagedActionDelete:
		return StagedDelete, nil
	case calicov3.StagedActionLearn:
		return StagedLearn, nil
	case calicov3.StagedActionIgnore:
		return StagedIgnore, nil
	}
	return StagedSet, field.ErrorList{field.NotSupported(path, a, []calicov3.StagedAction{
		calicov3.StagedActionSet, calicov3.StagedActionDelete, calicov3.StagedActionLearn, calicov3.StagedActionIgnore})}
}
