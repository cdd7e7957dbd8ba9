package netpol

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	calicov3 "github.com/projectcalico/api/pkg/apis/projectcalico/v3"
	"github.com/projectcalico/api/pkg/lib/numorstring"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	anp "sigs.k8s.io/network-policy-api/apis/v1alpha1"
	cnp "sigs.k8s.io/network-policy-api/apis/v1alpha2"
)

// The Kubernetes admin policy kinds are placed as Calico places them: converted to a
// GlobalNetworkPolicy in a tier Calico creates itself (doc.go cites the sources). Calico
// v3.30-v3.31 convert AdminNetworkPolicy and BaselineAdminNetworkPolicy (v1alpha1); v3.32
// converts ClusterNetworkPolicy (v1alpha2) instead.
const (
	AdminNetworkPolicyTier         = "adminnetworkpolicy"         // ANP, order 1,000, default Pass
	BaselineAdminNetworkPolicyTier = "baselineadminnetworkpolicy" // BANP, order 10,000,000, default Pass
	KubeAdminTier                  = "kube-admin"                 // CNP tier Admin, order 1,000, default Pass
	KubeBaselineTier               = "kube-baseline"              // CNP tier Baseline, order 10,000,000, default Pass
	// BaselineAdminNetworkPolicyOrder is the order Calico gives the (singleton) BANP.
	BaselineAdminNetworkPolicyOrder = 1000
)

// builtinTier returns a tier Calico creates itself (libcalico-go clientv3 client.go
// ensureTierExists), or false.
func builtinTier(name string) (*Tier, bool) {
	switch name {
	case DefaultTier:
		return defaultTier(), true
	case AdminNetworkPolicyTier, KubeAdminTier:
		return &Tier{Name: name, Order: 1_000, HasOrder: true, DefaultAction: ActionPass}, true
	case BaselineAdminNetworkPolicyTier, KubeBaselineTier:
		return &Tier{Name: name, Order: 10_000_000, HasOrder: true, DefaultAction: ActionPass}, true
	}
	return nil, false
}

// adminRule is one rule of any admin kind, in the shape Calico's converters share.
type adminRule struct {
	action string // Allow, Deny or Pass (ClusterNetworkPolicy's Accept is Allow)
	peers  []adminPeer
	ports  []adminPort // nil: every port and protocol
}

// adminPeer is one from/to entry; a peer with none of these set (nodes or domainNames only)
// is one Calico cannot convert.
type adminPeer struct {
	namespaces *metav1.LabelSelector
	pods       *[2]metav1.LabelSelector // namespaceSelector, podSelector
	networks   []string
}

// adminPort is one ports/protocols entry: a protocol (empty for none) and a port (nil for
// every port of the protocol).
type adminPort struct {
	proto string
	port  *numorstring.Port
	bad   bool // a range Calico cannot convert, which fails the whole rule
}

// compileAdminPolicy validates and compiles an AdminNetworkPolicy, BaselineAdminNetworkPolicy
// or ClusterNetworkPolicy into the GlobalNetworkPolicy Calico makes of it.
func compileAdminPolicy(obj runtime.Object) (*Policy, field.ErrorList) {
	var errs field.ErrorList
	spec := field.NewPath("spec")
	var (
		ref             PolicyRef
		tier            string
		order           float64
		subjNS          *metav1.LabelSelector
		subjPods        *[2]metav1.LabelSelector
		ingress, egress []adminRule
	)
	switch o := obj.(type) {
	case *anp.AdminNetworkPolicy:
		ref, tier, order = PolicyRef{Kind: KindAdminNetworkPolicy, Name: o.Name}, AdminNetworkPolicyTier, float64(o.Spec.Priority)
		subjNS, subjPods = o.Spec.Subject.Namespaces, anpPods(o.Spec.Subject.Pods)
		for i, r := range o.Spec.Ingress {
			ingress = append(ingress, anpIngress(string(r.Action), r.From, r.Ports, []string{"Allow", "Deny", "Pass"}, spec.Child("ingress").Index(i), &errs))
		}
		for i, r := range o.Spec.Egress {
			egress = append(egress, anpEgress(string(r.Action), r.To, r.Ports, []string{"Allow", "Deny", "Pass"}, spec.Child("egress").Index(i), &errs))
		}
	case *anp.BaselineAdminNetworkPolicy:
		ref, tier, order = PolicyRef{Kind: KindBaselineAdminNetworkPolicy, Name: o.Name}, BaselineAdminNetworkPolicyTier, BaselineAdminNetworkPolicyOrder
		subjNS, subjPods = o.Spec.Subject.Namespaces, anpPods(o.Spec.Subject.Pods)
		for i, r := range o.Spec.Ingress {
			ingress = append(ingress, anpIngress(string(r.Action), r.From, r.Ports, []string{"Allow", "Deny"}, spec.Child("ingress").Index(i), &errs))
		}
		for i, r := range o.Spec.Egress {
			to := make([]anp.AdminNetworkPolicyEgressPeer, len(r.To))
			for j, p := range r.To {
				to[j] = anp.AdminNetworkPolicyEgressPeer{Namespaces: p.Namespaces, Pods: p.Pods, Nodes: p.Nodes, Networks: p.Networks}
			}
			egress = append(egress, anpEgress(string(r.Action), to, r.Ports, []string{"Allow", "Deny"}, spec.Child("egress").Index(i), &errs))
		}
	case *cnp.ClusterNetworkPolicy:
		ref, order = PolicyRef{Kind: KindClusterNetworkPolicy, Name: o.Name}, float64(o.Spec.Priority)
		switch o.Spec.Tier {
		case cnp.AdminTier:
			tier = KubeAdminTier
		case cnp.BaselineTier:
			tier = KubeBaselineTier
		default:
			errs = append(errs, field.NotSupported(spec.Child("tier"), o.Spec.Tier, []cnp.Tier{cnp.AdminTier, cnp.BaselineTier}))
		}
		subjNS = o.Spec.Subject.Namespaces
		if p := o.Spec.Subject.Pods; p != nil {
			subjPods = &[2]metav1.LabelSelector{p.NamespaceSelector, p.PodSelector}
		}
		for i, r := range o.Spec.Ingress {
			peers := make([]adminPeer, len(r.From))
			for j, p := range r.From {
				peers[j] = adminPeer{namespaces: p.Namespaces, pods: cnpPods(p.Pods)}
			}
			ingress = append(ingress, cnpRule(r.Action, peers, r.Protocols, spec.Child("ingress").Index(i), &errs))
		}
		for i, r := range o.Spec.Egress {
			peers := make([]adminPeer, len(r.To))
			for j, p := range r.To {
				peers[j] = adminPeer{namespaces: p.Namespaces, pods: cnpPods(p.Pods), networks: cidrs(p.Networks)}
			}
			egress = append(egress, cnpRule(r.Action, peers, r.Protocols, spec.Child("egress").Index(i), &errs))
		}
	default:
		return nil, field.ErrorList{field.InternalError(nil, errUnsupportedKind(obj))}
	}
	s := calicoPolicySpec{tier: tier, order: &order}
	switch {
	case subjNS != nil && subjPods != nil:
		errs = append(errs, field.Forbidden(spec.Child("subject"), "may not specify both namespaces and pods"))
	case subjNS != nil:
		s.namespaceSelector, s.selector = calicoSelectorOf(subjNS, false), calicoSelectorOf(nil, true)
	case subjPods != nil:
		s.namespaceSelector, s.selector = calicoSelectorOf(&subjPods[0], false), calicoSelectorOf(&subjPods[1], true)
	default:
		errs = append(errs, field.Required(spec.Child("subject"), "must specify namespaces or pods"))
	}
	if len(errs) > 0 {
		return nil, errs
	}
	in, inFrom, inNamed := convertAdminRules(ingress, Ingress)
	eg, egFrom, egNamed := convertAdminRules(egress, Egress)
	s.ingress, s.egress = in, eg
	// Calico sets types from the converted rules; with none, Felix reads the empty list as
	// both directions (felix/calc/policy_sorter.go ExtractPolicyMetadata).
	if len(in) > 0 {
		s.types = append(s.types, calicov3.PolicyTypeIngress)
	}
	if len(eg) > 0 {
		s.types = append(s.types, calicov3.PolicyTypeEgress)
	}
	if len(s.types) == 0 {
		s.types = []calicov3.PolicyType{calicov3.PolicyTypeIngress, calicov3.PolicyTypeEgress}
	}
	p, cerrs := compileCalicoShaped(ref, s, obj)
	if len(cerrs) > 0 {
		return nil, cerrs
	}
	// Traces name the rule as written (spec.ingress[i]), not Calico's expansion of it; named
	// ports, which Calico leaves without a protocol, go back in after compiling.
	for d, from := range [2][]int{inFrom, egFrom} {
		named := [2][][]string{inNamed, egNamed}[d]
		for i := range p.Rules[d] {
			p.Rules[d][i].Index = from[i]
			for _, n := range named[i] {
				p.Rules[d][i].Dst.Ports = append(p.Rules[d][i].Dst.Ports, PortMatch{Name: n})
			}
		}
	}
	return p, nil
}

func anpPods(p *anp.NamespacedPod) *[2]metav1.LabelSelector {
	if p == nil {
		return nil
	}
	return &[2]metav1.LabelSelector{p.NamespaceSelector, p.PodSelector}
}

func cnpPods(p *cnp.NamespacedPod) *[2]metav1.LabelSelector {
	if p == nil {
		return nil
	}
	return &[2]metav1.LabelSelector{p.NamespaceSelector, p.PodSelector}
}

func cidrs[T ~string](in []T) []string {
	out := make([]string, len(in))
	for i, c := range in {
		out[i] = string(c)
	}
	return out
}

func checkAction(action string, allowed []string, path *field.Path, errs *field.ErrorList) {
	if !slices.Contains(allowed, action) {
		*errs = append(*errs, field.NotSupported(path.Child("action"), action, allowed))
	}
}

func anpIngress(action string, from []anp.AdminNetworkPolicyIngressPeer, ports *[]anp.AdminNetworkPolicyPort, allowed []string, path *field.Path, errs *field.ErrorList) adminRule {
	checkAction(action, allowed, path, errs)
	r := adminRule{action: action, ports: anpPorts(ports)}
	for _, p := range from {
		r.peers = append(r.peers, adminPeer{namespaces: p.Namespaces, pods: anpPods(p.Pods)})
	}
	return r
}

func anpEgress(action string, to []anp.AdminNetworkPolicyEgressPeer, ports *[]anp.AdminNetworkPolicyPort, allowed []string, path *field.Path, errs *field.ErrorList) adminRule {
	checkAction(action, allowed, path, errs)
	r := adminRule{action: action, ports: anpPorts(ports)}
	for _, p := range to {
		r.peers = append(r.peers, adminPeer{namespaces: p.Namespaces, pods: anpPods(p.Pods), networks: cidrs(p.Networks)})
	}
	return r
}

// anpPorts is unpackANPPorts' reading of v1alpha1 ports: a named port, which Calico v3.31
// does not support, reads as an empty entry, and an empty entry matches every port and
// protocol.
func anpPorts(ports *[]anp.AdminNetworkPolicyPort) []adminPort {
	if ports == nil || len(*ports) == 0 {
		return nil
	}
	var out []adminPort
	for _, p := range *ports {
		switch {
		case p.PortNumber != nil:
			sp := numorstring.SinglePort(uint16(p.PortNumber.Port))
			out = append(out, adminPort{proto: protoOrTCP(p.PortNumber.Protocol), port: &sp})
		case p.PortRange != nil:
			rp, err := numorstring.PortFromRange(uint16(p.PortRange.Start), uint16(p.PortRange.End))
			out = append(out, adminPort{proto: protoOrTCP(p.PortRange.Protocol), port: &rp, bad: err != nil})
		default:
			out = append(out, adminPort{})
		}
	}
	return out
}

func protoOrTCP(p corev1.Protocol) string {
	if p == "" {
		return string(corev1.ProtocolTCP)
	}
	return string(p)
}

func cnpRule(action cnp.ClusterNetworkPolicyRuleAction, peers []adminPeer, protocols []cnp.ClusterNetworkPolicyProtocol, path *field.Path, errs *field.ErrorList) adminRule {
	a := string(action)
	checkAction(a, []string{"Accept", "Deny", "Pass"}, path, errs)
	if a == "Accept" {
		a = "Allow"
	}
	r := adminRule{action: a, peers: peers}
	for _, p := range protocols {
		var ap adminPort
		var dst *cnp.Port
		switch {
		case p.TCP != nil:
			ap.proto, dst = "TCP", p.TCP.DestinationPort
		case p.UDP != nil:
			ap.proto, dst = "UDP", p.UDP.DestinationPort
		case p.SCTP != nil:
			ap.proto, dst = "SCTP", p.SCTP.DestinationPort
		case p.DestinationNamedPort != "":
			np := numorstring.NamedPort(p.DestinationNamedPort)
			ap.port = &np
		}
		if dst != nil && dst.Number != 0 {
			sp := numorstring.SinglePort(uint16(dst.Number))
			ap.port = &sp
		} else if dst != nil && dst.Range != nil {
			rp, err := numorstring.PortFromRange(uint16(dst.Range.Start), uint16(dst.Range.End))
			ap.port, ap.bad = &rp, err != nil
		}
		r.ports = append(r.ports, ap)
	}
	if len(r.ports) == 0 {
		r.ports = nil
	}
	return r
}

// convertAdminRules expands rules as libcalico-go's combinePortsWith*Peers do: one Calico
// rule per protocol (sorted) and peer, each with all that protocol's ports. A rule Calico
// cannot convert (a peer of nodes or domain names only) is dropped when it allows and becomes
// a Deny of everything when it denies or passes (k8sANPHandleFailedRules). It returns the
// rules, each one's index in the source list, and the named ports each carries (compiled
// apart: Calico leaves them without a protocol).
func convertAdminRules(rules []adminRule, dir Direction) (out []calicov3.Rule, from []int, named [][]string) {
	for i, r := range rules {
		rs, nm, ok := convertAdminRule(r, dir)
		if !ok {
			if r.action == "Allow" {
				continue
			}
			rs, nm = []calicov3.Rule{{Action: calicov3.Deny}}, [][]string{nil}
		}
		out = append(out, rs...)
		named = append(named, nm...)
		for range rs {
			from = append(from, i)
		}
	}
	return out, from, named
}

func convertAdminRule(r adminRule, dir Direction) ([]calicov3.Rule, [][]string, bool) {
	byProto := map[string][]numorstring.Port{}
	ports := r.ports
	if len(ports) == 0 {
		ports = []adminPort{{}}
	}
	for _, p := range ports {
		if p.bad {
			return nil, nil, false
		}
		if p.proto == "" && p.port == nil {
			byProto = map[string][]numorstring.Port{"": nil}
			break
		}
		if p.port == nil {
			byProto[p.proto] = nil
		} else if cur, ok := byProto[p.proto]; !ok || len(cur) > 0 {
			byProto[p.proto] = append(cur, *p.port)
		}
	}
	protos := make([]string, 0, len(byProto))
	for k := range byProto {
		protos = append(protos, k)
	}
	sort.Strings(protos)
	var out []calicov3.Rule
	var named [][]string
	for _, proto := range protos {
		var numeric []numorstring.Port
		var names []string
		for _, p := range byProto[proto] {
			if p.PortName != "" {
				names = append(names, p.PortName)
			} else {
				numeric = append(numeric, p)
			}
		}
		var protocol *numorstring.Protocol
		if proto != "" {
			pr := numorstring.ProtocolFromString(proto)
			protocol = &pr
		}
		for _, peer := range r.peers {
			var e calicov3.EntityRule
			found := false
			if peer.namespaces != nil {
				e.NamespaceSelector, found = calicoSelectorOf(peer.namespaces, false), true
			}
			if peer.pods != nil {
				e.NamespaceSelector, e.Selector, found = calicoSelectorOf(&peer.pods[0], false), calicoSelectorOf(&peer.pods[1], true), true
			}
			if dir == Egress && len(peer.networks) > 0 {
				e.Nets, found = peer.networks, true
			}
			if !found {
				return nil, nil, false
			}
			rule := calicov3.Rule{Action: calicov3.Action(r.action), Protocol: protocol}
			if dir == Ingress {
				rule.Source, rule.Destination = e, calicov3.EntityRule{Ports: numeric}
			} else {
				e.Ports = numeric
				rule.Destination = e
			}
			out = append(out, rule)
			named = append(named, names)
		}
	}
	return out, named, true
}

// calicoSelectorOf is libcalico-go's k8sSelectorToCalico: a pod selector also requires
// projectcalico.org/orchestrator == 'k8s' (so host endpoints never match); an empty namespace
// selector is all().
func calicoSelectorOf(s *metav1.LabelSelector, pod bool) string {
	var parts []string
	if pod {
		parts = append(parts, labelCalicoOrchestrator+" == 'k8s'")
	}
	if s == nil {
		return strings.Join(parts, " && ")
	}
	if !pod && len(s.MatchLabels) == 0 && len(s.MatchExpressions) == 0 {
		return "all()"
	}
	keys := make([]string, 0, len(s.MatchLabels))
	for k := range s.MatchLabels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s == '%s'", k, s.MatchLabels[k]))
	}
	for _, e := range s.MatchExpressions {
		values := strings.Join(e.Values, "', '")
		switch e.Operator {
		case metav1.LabelSelectorOpIn:
			parts = append(parts, fmt.Sprintf("%s in { '%s' }", e.Key, values))
		case metav1.LabelSelectorOpNotIn:
			parts = append(parts, fmt.Sprintf("%s not in { '%s' }", e.Key, values))
		case metav1.LabelSelectorOpExists:
			parts = append(parts, fmt.Sprintf("has(%s)", e.Key))
		case metav1.LabelSelectorOpDoesNotExist:
			parts = append(parts, fmt.Sprintf("! has(%s)", e.Key))
		}
	}
	return strings.Join(parts, " && ")
}
