package synth

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	anp "sigs.k8s.io/network-policy-api/apis/v1alpha1"
	cnp "sigs.k8s.io/network-policy-api/apis/v1alpha2"
)

// DenseScale is the cluster of the streaming connectivity benchmark: workloads Deployments,
// ten per namespace, most of them open (no default deny), so the map has an edge for most
// pairs; two per namespace under their own Kubernetes policy (named port, ipBlock with
// except, endPort, DNS egress), a Calico policy in every fifth namespace, tier "security"
// with its four GlobalNetworkPolicies, and the admin kinds (an AdminNetworkPolicy, the
// BaselineAdminNetworkPolicy and a ClusterNetworkPolicy).
func DenseScale(workloads int) Config {
	ns := max(workloads/10, 1)
	return Config{Seed: 1, Namespaces: ns, WorkloadsPerNamespace: 10, Replicas: 1,
		KubernetesPolicyWorkloads: 2, CalicoNamespaces: ns / 5, GlobalPolicies: 4, AdminPolicies: true}
}

// addAdminPolicies adds the Kubernetes admin policy kinds, as Calico places them: an
// AdminNetworkPolicy passing same-tier traffic to data workloads on to the namespaces'
// policies and denying dev namespaces, the BaselineAdminNetworkPolicy denying dev ingress to
// prod namespaces where nothing else decides, and a ClusterNetworkPolicy (tier Admin) that
// accepts DNS to kube-dns from everywhere.
func (c *Cluster) addAdminPolicies() {
	if !c.Config.AdminPolicies {
		return
	}
	tcp := corev1.ProtocolTCP
	c.add(&anp.AdminNetworkPolicy{
		TypeMeta:   metav1.TypeMeta{APIVersion: "policy.networking.k8s.io/v1alpha1", Kind: "AdminNetworkPolicy"},
		ObjectMeta: metav1.ObjectMeta{Name: "guard-data"},
		Spec: anp.AdminNetworkPolicySpec{
			Priority: 10,
			Subject:  anp.AdminNetworkPolicySubject{Pods: &anp.NamespacedPod{PodSelector: *sel("tier", "data")}},
			Ingress: []anp.AdminNetworkPolicyIngressRule{
				{Name: "backends", Action: anp.AdminNetworkPolicyRuleActionPass,
					From:  []anp.AdminNetworkPolicyIngressPeer{{Pods: &anp.NamespacedPod{PodSelector: *sel("tier", "backend")}}},
					Ports: &[]anp.AdminNetworkPolicyPort{{PortRange: &anp.PortRange{Protocol: tcp, Start: 8000, End: 8100}}}},
				{Name: "no-dev", Action: anp.AdminNetworkPolicyRuleActionDeny,
					From: []anp.AdminNetworkPolicyIngressPeer{{Namespaces: sel("env", "dev")}}},
			},
		},
	})
	c.add(&anp.BaselineAdminNetworkPolicy{
		TypeMeta:   metav1.TypeMeta{APIVersion: "policy.networking.k8s.io/v1alpha1", Kind: "BaselineAdminNetworkPolicy"},
		ObjectMeta: metav1.ObjectMeta{Name: "default"},
		Spec: anp.BaselineAdminNetworkPolicySpec{
			Subject: anp.AdminNetworkPolicySubject{Namespaces: sel("env", "prod")},
			Ingress: []anp.BaselineAdminNetworkPolicyIngressRule{{Action: anp.BaselineAdminNetworkPolicyRuleActionDeny,
				From: []anp.AdminNetworkPolicyIngressPeer{{Namespaces: sel("env", "dev")}}}},
		},
	})
	c.add(&cnp.ClusterNetworkPolicy{
		TypeMeta:   metav1.TypeMeta{APIVersion: "policy.networking.k8s.io/v1alpha2", Kind: "ClusterNetworkPolicy"},
		ObjectMeta: metav1.ObjectMeta{Name: "accept-dns"},
		Spec: cnp.ClusterNetworkPolicySpec{
			Tier: cnp.AdminTier, Priority: 5,
			Subject: cnp.ClusterNetworkPolicySubject{Namespaces: &metav1.LabelSelector{}},
			Egress: []cnp.ClusterNetworkPolicyEgressRule{{Action: cnp.ClusterNetworkPolicyRuleActionAccept,
				To: []cnp.ClusterNetworkPolicyEgressPeer{{Pods: &cnp.NamespacedPod{
					NamespaceSelector: *sel(corev1.LabelMetadataName, "kube-system"), PodSelector: *sel("k8s-app", "kube-dns")}}},
				Protocols: []cnp.ClusterNetworkPolicyProtocol{{UDP: &cnp.ClusterNetworkPolicyProtocolUDP{DestinationPort: &cnp.Port{Number: 53}}}}}},
		},
	})
}
