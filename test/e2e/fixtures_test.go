//go:build e2e

package e2e

import (
	certmanagerv1 "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	cmmeta "github.com/cert-manager/cert-manager/pkg/apis/meta/v1"
	calicov3 "github.com/projectcalico/api/pkg/apis/projectcalico/v3"
	"github.com/projectcalico/api/pkg/lib/numorstring"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// shop is the namespace the namespaced fixtures live in.
const shop = "shop"

// calicoObjects returns one object of every Calico kind flowguard reads, each using the fields
// whose schemas are easiest to get wrong (int-or-string ports and protocols, float orders).
func calicoObjects() []client.Object {
	order := func(v float64) *float64 { return &v }
	pass := calicov3.Pass
	tcp := numorstring.ProtocolFromString("TCP")
	udp := numorstring.ProtocolFromInt(17)
	portRange, err := numorstring.PortFromRange(9000, 9100)
	if err != nil {
		panic(err) // a constant range; cannot fail
	}
	apiIngress := []calicov3.Rule{{
		Action:      calicov3.Allow,
		Protocol:    &tcp,
		Source:      calicov3.EntityRule{Selector: "app == 'frontend'"},
		Destination: calicov3.EntityRule{Ports: []numorstring.Port{numorstring.SinglePort(8080), portRange, numorstring.NamedPort("metrics")}},
	}}
	dnsEgress := []calicov3.Rule{{
		Action:      calicov3.Allow,
		Protocol:    &udp,
		Destination: calicov3.EntityRule{Selector: "k8s-app == 'kube-dns'", Ports: []numorstring.Port{numorstring.SinglePort(53)}},
	}, {
		Action:      calicov3.Deny,
		Destination: calicov3.EntityRule{Nets: []string{"169.254.169.254/32"}},
	}}
	port8080 := intstr.FromInt32(8080)
	return []client.Object{
		&calicov3.Tier{
			ObjectMeta: metav1.ObjectMeta{Name: "security"},
			Spec:       calicov3.TierSpec{Order: order(100), DefaultAction: &pass},
		},
		&calicov3.NetworkPolicy{
			ObjectMeta: metav1.ObjectMeta{Name: "security.allow-frontend-to-api", Namespace: shop},
			Spec: calicov3.NetworkPolicySpec{
				Tier: "security", Order: order(10.5), Selector: "app == 'api'",
				Types: []calicov3.PolicyType{calicov3.PolicyTypeIngress}, Ingress: apiIngress,
			},
		},
		&calicov3.GlobalNetworkPolicy{
			ObjectMeta: metav1.ObjectMeta{Name: "security.dns-only-egress"},
			Spec: calicov3.GlobalNetworkPolicySpec{
				Tier: "security", Order: order(20), Selector: "all()", NamespaceSelector: "has(projectcalico.org/name)",
				Types: []calicov3.PolicyType{calicov3.PolicyTypeEgress}, Egress: dnsEgress,
			},
		},
		&calicov3.StagedNetworkPolicy{
			ObjectMeta: metav1.ObjectMeta{Name: "security.staged-allow-frontend-to-api", Namespace: shop},
			Spec: calicov3.StagedNetworkPolicySpec{
				StagedAction: calicov3.StagedActionSet, Tier: "security", Order: order(11), Selector: "app == 'api'",
				Types: []calicov3.PolicyType{calicov3.PolicyTypeIngress}, Ingress: apiIngress,
			},
		},
		&calicov3.StagedGlobalNetworkPolicy{
			ObjectMeta: metav1.ObjectMeta{Name: "security.staged-dns-only-egress"},
			Spec: calicov3.StagedGlobalNetworkPolicySpec{
				StagedAction: calicov3.StagedActionSet, Tier: "security", Order: order(21), Selector: "all()",
				Types: []calicov3.PolicyType{calicov3.PolicyTypeEgress}, Egress: dnsEgress,
			},
		},
		&calicov3.StagedKubernetesNetworkPolicy{
			ObjectMeta: metav1.ObjectMeta{Name: "allow-frontend", Namespace: shop},
			Spec: calicov3.StagedKubernetesNetworkPolicySpec{
				StagedAction: calicov3.StagedActionSet,
				PodSelector:  metav1.LabelSelector{MatchLabels: map[string]string{"app": "api"}},
				Ingress: []networkingv1.NetworkPolicyIngressRule{{
					From:  []networkingv1.NetworkPolicyPeer{{PodSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "frontend"}}}},
					Ports: []networkingv1.NetworkPolicyPort{{Port: &port8080}},
				}},
				PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress},
			},
		},
		&calicov3.NetworkSet{
			ObjectMeta: metav1.ObjectMeta{Name: "payment-providers", Namespace: shop, Labels: map[string]string{"role": "payments"}},
			Spec:       calicov3.NetworkSetSpec{Nets: []string{"198.51.100.0/24", "2001:db8::/48"}},
		},
		&calicov3.GlobalNetworkSet{
			ObjectMeta: metav1.ObjectMeta{Name: "cloud-metadata", Labels: map[string]string{"role": "metadata"}},
			Spec:       calicov3.GlobalNetworkSetSpec{Nets: []string{"169.254.169.254/32"}},
		},
	}
}

// certManagerObjects returns a self-signed Issuer and a Certificate it would sign, as flowguard's
// chart creates them for the webhook's serving certificate.
func certManagerObjects() []client.Object {
	return []client.Object{
		&certmanagerv1.Issuer{
			ObjectMeta: metav1.ObjectMeta{Name: "flowguard-selfsigned", Namespace: shop},
			Spec: certmanagerv1.IssuerSpec{IssuerConfig: certmanagerv1.IssuerConfig{
				SelfSigned: &certmanagerv1.SelfSignedIssuer{},
			}},
		},
		&certmanagerv1.Certificate{
			ObjectMeta: metav1.ObjectMeta{Name: "flowguard-webhook", Namespace: shop},
			Spec: certmanagerv1.CertificateSpec{
				SecretName: "flowguard-webhook-tls",
				DNSNames:   []string{"flowguard-webhook.shop.svc", "flowguard-webhook.shop.svc.cluster.local"},
				IssuerRef:  cmmeta.IssuerReference{Name: "flowguard-selfsigned", Kind: "Issuer"},
			},
		},
	}
}
