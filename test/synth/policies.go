package synth

import (
	"fmt"
	"strings"

	calicov3 "github.com/projectcalico/api/pkg/apis/projectcalico/v3"
	"github.com/projectcalico/api/pkg/lib/numorstring"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
)

// Addresses the policies refer to.
const (
	// KnownBadNet is the GlobalNetworkSet of known-bad addresses tier "security" denies.
	KnownBadNet = "198.51.100.0/24"
	// ExternalPort is the port outside clients reach per-workload Kubernetes policies on.
	ExternalPort = 443
)

// clientNet is the address block whose clients a namespace's Kubernetes policies admit on
// ExternalPort, and exceptNet the part of it each workload excludes.
func clientNet(k int) string      { return fmt.Sprintf("172.%d.0.0/16", 16+k%16) }
func exceptNet(k, i int) string   { return fmt.Sprintf("172.%d.%d.0/24", 16+k%16, i%256) }
func (c *Cluster) next(i int) int { return (i + 1) % c.Config.WorkloadsPerNamespace }
func (c *Cluster) prev(i int) int {
	return (i - 1 + c.Config.WorkloadsPerNamespace) % c.Config.WorkloadsPerNamespace
}
func (c *Cluster) nextNS(k int) int { return (k + 1) % c.Config.Namespaces }
func (c *Cluster) prevNS(k int) int { return (k - 1 + c.Config.Namespaces) % c.Config.Namespaces }
func sel(kv ...string) *metav1.LabelSelector {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return &metav1.LabelSelector{MatchLabels: m}
}

func (c *Cluster) addNamespacePolicies(k int) {
	ns := nsName(k)
	if c.Config.DefaultDeny {
		c.add(&networkingv1.NetworkPolicy{
			TypeMeta:   metav1.TypeMeta{APIVersion: "networking.k8s.io/v1", Kind: "NetworkPolicy"},
			ObjectMeta: metav1.ObjectMeta{Name: "default-deny", Namespace: ns},
			Spec: networkingv1.NetworkPolicySpec{
				PodSelector: metav1.LabelSelector{},
				PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress},
			},
		})
	}
	var governed []int
	for i := range c.Config.WorkloadsPerNamespace {
		if i < c.Config.KubernetesPolicyWorkloads {
			c.add(c.workloadPolicy(k, i))
		} else {
			governed = append(governed, i)
		}
	}
	if len(governed) > 0 && k < c.Config.CalicoNamespaces {
		c.add(c.namespacePolicy(k, governed))
	}
}

// add appends a policy object.
func (c *Cluster) add(obj runtime.Object) {
	c.Objects = append(c.Objects, obj)
	c.Policies++
}

// workloadPolicy admits the ring predecessor and the same workload of the previous
// namespace on the named port http or 9000-9100, and the namespace's client block (minus the
// workload's except) on ExternalPort; it lets the workload reach its ring successor and the
// same workload of the next namespace on their http port, and kube-dns.
func (c *Cluster) workloadPolicy(k, i int) *networkingv1.NetworkPolicy {
	tcp, udp := corev1.ProtocolTCP, corev1.ProtocolUDP
	http := intstr.FromString("http")
	return &networkingv1.NetworkPolicy{
		TypeMeta:   metav1.TypeMeta{APIVersion: "networking.k8s.io/v1", Kind: "NetworkPolicy"},
		ObjectMeta: metav1.ObjectMeta{Name: wlName(i), Namespace: nsName(k)},
		Spec: networkingv1.NetworkPolicySpec{
			PodSelector: *sel("app", wlName(i)),
			PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress},
			Ingress: []networkingv1.NetworkPolicyIngressRule{
				{
					From: []networkingv1.NetworkPolicyPeer{
						{PodSelector: sel("app", wlName(c.prev(i)))},
						{NamespaceSelector: sel("team", nsName(c.prevNS(k))), PodSelector: sel("app", wlName(i))},
					},
					Ports: []networkingv1.NetworkPolicyPort{
						{Protocol: &tcp, Port: &http},
						{Protocol: &tcp, Port: ptr.To(intstr.FromInt32(9000)), EndPort: ptr.To(int32(9100))},
					},
				},
				{
					From:  []networkingv1.NetworkPolicyPeer{{IPBlock: &networkingv1.IPBlock{CIDR: clientNet(k), Except: []string{exceptNet(k, i)}}}},
					Ports: []networkingv1.NetworkPolicyPort{{Protocol: &tcp, Port: ptr.To(intstr.FromInt32(ExternalPort))}},
				},
			},
			Egress: []networkingv1.NetworkPolicyEgressRule{
				{
					To: []networkingv1.NetworkPolicyPeer{
						{PodSelector: sel("app", wlName(c.next(i)))},
						{NamespaceSelector: sel("team", nsName(c.nextNS(k))), PodSelector: sel("app", wlName(i))},
					},
					Ports: []networkingv1.NetworkPolicyPort{{Protocol: &tcp, Port: &http}},
				},
				{
					To:    []networkingv1.NetworkPolicyPeer{{NamespaceSelector: sel(corev1.LabelMetadataName, "kube-system"), PodSelector: sel("k8s-app", "kube-dns")}},
					Ports: []networkingv1.NetworkPolicyPort{{Protocol: &udp, Port: ptr.To(intstr.FromInt32(53))}},
				},
			},
		},
	}
}

// namespacePolicy is the Calico counterpart of workloadPolicy for several workloads at once:
// per workload, the same ring and cross-namespace edges on http, plus kube-dns.
func (c *Cluster) namespacePolicy(k int, governed []int) *calicov3.NetworkPolicy {
	tcp, udp := numorstring.ProtocolFromString("TCP"), numorstring.ProtocolFromString("UDP")
	http := []numorstring.Port{numorstring.NamedPort("http")}
	names := make([]string, len(governed))
	var in, eg []calicov3.Rule
	for j, i := range governed {
		names[j] = "'" + wlName(i) + "'"
		self := "app == '" + wlName(i) + "'"
		in = append(in,
			calicov3.Rule{Action: calicov3.Allow, Protocol: &tcp,
				Source:      calicov3.EntityRule{Selector: "app == '" + wlName(c.prev(i)) + "'"},
				Destination: calicov3.EntityRule{Selector: self, Ports: http}},
			calicov3.Rule{Action: calicov3.Allow, Protocol: &tcp,
				Source:      calicov3.EntityRule{NamespaceSelector: "team == '" + nsName(c.prevNS(k)) + "'", Selector: self},
				Destination: calicov3.EntityRule{Selector: self, Ports: http}})
		eg = append(eg,
			calicov3.Rule{Action: calicov3.Allow, Protocol: &tcp,
				Source:      calicov3.EntityRule{Selector: self},
				Destination: calicov3.EntityRule{Selector: "app == '" + wlName(c.next(i)) + "'", Ports: http}},
			calicov3.Rule{Action: calicov3.Allow, Protocol: &tcp,
				Source:      calicov3.EntityRule{Selector: self},
				Destination: calicov3.EntityRule{NamespaceSelector: "team == '" + nsName(c.nextNS(k)) + "'", Selector: self, Ports: http}})
	}
	eg = append(eg, calicov3.Rule{Action: calicov3.Allow, Protocol: &udp,
		Destination: calicov3.EntityRule{NamespaceSelector: "projectcalico.org/name == 'kube-system'", Selector: "k8s-app == 'kube-dns'",
			Ports: []numorstring.Port{numorstring.SinglePort(53)}}})
	return &calicov3.NetworkPolicy{
		TypeMeta:   metav1.TypeMeta{APIVersion: "projectcalico.org/v3", Kind: "NetworkPolicy"},
		ObjectMeta: metav1.ObjectMeta{Name: "workloads", Namespace: nsName(k)},
		Spec: calicov3.NetworkPolicySpec{
			Order:    ptr.To(500.0),
			Selector: "app in {" + strings.Join(names, ", ") + "}",
			Types:    []calicov3.PolicyType{calicov3.PolicyTypeIngress, calicov3.PolicyTypeEgress},
			Ingress:  in, Egress: eg,
		},
	}
}

// globalPolicies are tier "security"'s, in order: deny known-bad sources, deny frontends
// reaching data workloads, allow every pod kube-dns, log traffic from outside 10.0.0.0/8.
func (c *Cluster) addGlobalPolicies() {
	n := c.Config.GlobalPolicies
	if n <= 0 {
		return
	}
	c.Objects = append(c.Objects,
		&calicov3.Tier{TypeMeta: metav1.TypeMeta{APIVersion: "projectcalico.org/v3", Kind: "Tier"},
			ObjectMeta: metav1.ObjectMeta{Name: "security"},
			Spec:       calicov3.TierSpec{Order: ptr.To(100.0), DefaultAction: ptr.To(calicov3.Pass)}},
		&calicov3.GlobalNetworkSet{TypeMeta: metav1.TypeMeta{APIVersion: "projectcalico.org/v3", Kind: "GlobalNetworkSet"},
			ObjectMeta: metav1.ObjectMeta{Name: "known-bad", Labels: map[string]string{"threat": "known"}},
			Spec:       calicov3.GlobalNetworkSetSpec{Nets: []string{KnownBadNet}}})
	udp := numorstring.ProtocolFromString("UDP")
	all := []*calicov3.GlobalNetworkPolicy{
		gnp("deny-known-bad", 100, "all()", []calicov3.Rule{{Action: calicov3.Deny,
			Source: calicov3.EntityRule{NamespaceSelector: "global()", Selector: "threat == 'known'"}}}, nil),
		gnp("deny-frontend-to-data", 200, "tier == 'data'", []calicov3.Rule{{Action: calicov3.Deny,
			Source: calicov3.EntityRule{Selector: "tier == 'frontend'"}}}, nil),
		gnp("allow-dns", 300, "all()", nil, []calicov3.Rule{{Action: calicov3.Allow, Protocol: &udp,
			Destination: calicov3.EntityRule{NamespaceSelector: "projectcalico.org/name == 'kube-system'",
				Selector: "k8s-app == 'kube-dns'", Ports: []numorstring.Port{numorstring.SinglePort(53)}}}}),
		gnp("log-outside", 400, "all()", []calicov3.Rule{{Action: calicov3.Log,
			Source: calicov3.EntityRule{NotNets: []string{"10.0.0.0/8"}}}}, nil),
	}
	for _, p := range all[:min(n, len(all))] {
		c.add(p)
	}
}

func gnp(name string, order float64, selector string, in, eg []calicov3.Rule) *calicov3.GlobalNetworkPolicy {
	var types []calicov3.PolicyType
	if in != nil {
		types = append(types, calicov3.PolicyTypeIngress)
	}
	if eg != nil {
		types = append(types, calicov3.PolicyTypeEgress)
	}
	return &calicov3.GlobalNetworkPolicy{
		TypeMeta:   metav1.TypeMeta{APIVersion: "projectcalico.org/v3", Kind: "GlobalNetworkPolicy"},
		ObjectMeta: metav1.ObjectMeta{Name: "security." + name},
		Spec: calicov3.GlobalNetworkPolicySpec{Tier: "security", Order: &order, Selector: selector,
			Types: types, Ingress: in, Egress: eg},
	}
}
