package netpol

import "testing"

// anpDoc returns an AdminNetworkPolicy (policy.networking.k8s.io/v1alpha1).
func anpDoc(name, spec string) string {
	return "apiVersion: policy.networking.k8s.io/v1alpha1\nkind: AdminNetworkPolicy\nmetadata: {name: " + name + "}\nspec:\n" + spec
}

// banpDoc returns the BaselineAdminNetworkPolicy (its name is always "default").
func banpDoc(spec string) string {
	return "apiVersion: policy.networking.k8s.io/v1alpha1\nkind: BaselineAdminNetworkPolicy\nmetadata: {name: default}\nspec:\n" + spec
}

// cnpDoc returns a ClusterNetworkPolicy (policy.networking.k8s.io/v1alpha2).
func cnpDoc(name, spec string) string {
	return "apiVersion: policy.networking.k8s.io/v1alpha2\nkind: ClusterNetworkPolicy\nmetadata: {name: " + name + "}\nspec:\n" + spec
}

const (
	subjectProdWeb = "  subject: {pods: {namespaceSelector: {matchLabels: {env: prod}}, podSelector: {matchLabels: {app: web}}}}\n"
	subjectProd    = "  subject: {namespaces: {matchLabels: {env: prod}}}\n"
	fromDev        = "    from: [{namespaces: {matchLabels: {env: dev}}}]\n"
	knpAllowAll    = "  podSelector: {}\n  ingress: [{}]\n"
	knpDenyAll     = "  podSelector: {}\n  policyTypes: [Ingress]\n"
)

// TestAdminNetworkPolicySemantics is the specification of AdminNetworkPolicy and
// BaselineAdminNetworkPolicy as Calico v3.30-v3.31 enforce them: converted to
// GlobalNetworkPolicies in tier adminnetworkpolicy (order 1,000, before tier default) at
// order = priority, and tier baselineadminnetworkpolicy (order 10,000,000, after it) at order
// 1000; both tiers end in Pass, so a packet no rule matches goes on to the next tier.
func TestAdminNetworkPolicySemantics(t *testing.T) {
	runVerdictCases(t, map[string]verdictCase{
		"an ANP Deny beats a Kubernetes NetworkPolicy that allows": {
			objects: docs(anpDoc("block-dev", "  priority: 10\n"+subjectProdWeb+"  ingress:\n  - name: no-dev\n    action: Deny\n"+fromDev),
				knp("open", knpAllowAll)),
			from: "dev/client", to: "prod/web", port: "8080", allowed: false, ingress: "kanp block-dev#0 Deny",
		},
		"an ANP Allow is final: a Kubernetes default deny never sees the packet": {
			objects: docs(anpDoc("let-dev", "  priority: 10\n"+subjectProdWeb+"  ingress:\n  - action: Allow\n"+fromDev),
				knp("deny", knpDenyAll)),
			from: "dev/client", to: "prod/web", port: "8080", allowed: true, ingress: "kanp let-dev#0 Allow",
		},
		"an ANP Pass hands the packet to tier default, where a Kubernetes default deny decides": {
			objects: docs(anpDoc("pass-dev", "  priority: 10\n"+subjectProdWeb+"  ingress:\n  - action: Pass\n"+fromDev),
				anpDoc("deny-dev", "  priority: 20\n"+subjectProdWeb+"  ingress:\n  - action: Allow\n"+fromDev),
				knp("deny", knpDenyAll)),
			from: "dev/client", to: "prod/web", port: "8080", allowed: false, ingress: "tier-default default Deny",
		},
		"a lower priority number runs first": {
			objects: docs(anpDoc("b-allow", "  priority: 5\n"+subjectProdWeb+"  ingress:\n  - action: Allow\n"+fromDev),
				anpDoc("a-deny", "  priority: 50\n"+subjectProdWeb+"  ingress:\n  - action: Deny\n"+fromDev)),
			from: "dev/client", to: "prod/web", port: "8080", allowed: true, ingress: "kanp b-allow#0 Allow",
		},
		"ANPs of equal priority run by name (kanp.adminnetworkpolicy.<name>)": {
			objects: docs(anpDoc("b-allow", "  priority: 5\n"+subjectProdWeb+"  ingress:\n  - action: Allow\n"+fromDev),
				anpDoc("a-deny", "  priority: 5\n"+subjectProdWeb+"  ingress:\n  - action: Deny\n"+fromDev)),
			from: "dev/client", to: "prod/web", port: "8080", allowed: false, ingress: "kanp a-deny#0 Deny",
		},
		"an ANP whose rules do not match ends its tier in Pass: the pod stays open": {
			objects: anpDoc("deny-ops", "  priority: 10\n"+subjectProdWeb+"  ingress:\n  - action: Deny\n    from: [{namespaces: {matchLabels: {env: ops}}}]\n"),
			from:    "dev/client", to: "prod/web", port: "8080", allowed: true, ingress: "profile Allow",
		},
		"a subject by namespaces selects every pod there and no other": {
			objects: anpDoc("prod-only", "  priority: 10\n"+subjectProd+"  ingress:\n  - action: Deny\n    from: [{namespaces: {}}]\n"),
			from:    "prod/web", to: "dev/client", port: "8080", allowed: true, ingress: "no-policy",
		},
		"an empty namespaces peer matches every namespace": {
			objects: anpDoc("prod-only", "  priority: 10\n"+subjectProd+"  ingress:\n  - action: Deny\n    from: [{namespaces: {}}]\n"),
			from:    "dev/client", to: "prod/api", port: "9090", allowed: false, ingress: "kanp prod-only#0 Deny",
		},
		"ports: a port number with its protocol": {
			objects: anpDoc("p", "  priority: 10\n"+subjectProdWeb+"  ingress:\n  - action: Deny\n"+fromDev+"    ports: [{portNumber: {protocol: TCP, port: 8080}}]\n"),
			from:    "dev/client", to: "prod/web", port: "8080", allowed: false, ingress: "kanp p#0 Deny",
		},
		"ports: another port is not matched": {
			objects: anpDoc("p", "  priority: 10\n"+subjectProdWeb+"  ingress:\n  - action: Deny\n"+fromDev+"    ports: [{portNumber: {protocol: TCP, port: 9999}}]\n"),
			from:    "dev/client", to: "prod/web", port: "8080", allowed: true, ingress: "profile Allow",
		},
		"ports: a range": {
			objects: anpDoc("p", "  priority: 10\n"+subjectProdWeb+"  ingress:\n  - action: Deny\n"+fromDev+"    ports: [{portRange: {protocol: TCP, start: 8000, end: 8100}}]\n"),
			from:    "dev/client", to: "prod/web", port: "8080", allowed: false, ingress: "kanp p#0 Deny",
		},
		"ports: Calico v3.31 reads a named port as every port and protocol": {
			objects: anpDoc("p", "  priority: 10\n"+subjectProdWeb+"  ingress:\n  - action: Deny\n"+fromDev+"    ports: [{namedPort: dns}]\n"),
			from:    "dev/client", to: "prod/web", port: "8080", allowed: false, ingress: "kanp p#0 Deny",
		},
		"egress to networks": {
			objects: anpDoc("no-internet", "  priority: 10\n  subject: {namespaces: {matchLabels: {env: dev}}}\n  egress:\n  - action: Deny\n    to: [{networks: [0.0.0.0/0]}]\n"),
			from:    "dev/client", to: "8.8.8.8", port: "443", allowed: false, egress: "kanp no-internet#0 Deny",
		},
		"egress to a nodes peer, which Calico cannot convert: a Deny becomes a Deny of everything": {
			objects: anpDoc("nodes", "  priority: 10\n  subject: {namespaces: {matchLabels: {env: dev}}}\n  egress:\n  - action: Deny\n    to: [{nodes: {matchLabels: {role: infra}}}]\n"),
			from:    "dev/client", to: "prod/web", port: "8080", allowed: false, egress: "kanp nodes#0 Deny",
		},
		"egress to a nodes peer, which Calico cannot convert: an Allow is dropped": {
			objects: docs(anpDoc("nodes", "  priority: 10\n  subject: {namespaces: {matchLabels: {env: dev}}}\n  egress:\n  - action: Allow\n    to: [{nodes: {matchLabels: {role: infra}}}]\n"),
				"apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: deny-egress, namespace: dev}\nspec: {podSelector: {}, policyTypes: [Egress]}\n"),
			from: "dev/client", to: "prod/web", port: "8080", allowed: false, egress: "tier-default default Deny",
		},
		"the BANP decides what no Kubernetes policy selects": {
			objects: banpDoc(subjectProdWeb + "  ingress:\n  - action: Deny\n" + fromDev),
			from:    "dev/client", to: "prod/web", port: "8080", allowed: false, ingress: "kbanp default#0 Deny",
		},
		"a Kubernetes NetworkPolicy that allows comes before the BANP": {
			objects: docs(banpDoc(subjectProdWeb+"  ingress:\n  - action: Deny\n"+fromDev), knp("open", knpAllowAll)),
			from:    "dev/client", to: "prod/web", port: "8080", allowed: true, ingress: "knp prod/open#0 Allow",
		},
		"a Kubernetes default deny ends tier default in Deny: the BANP's Allow is never reached": {
			objects: docs(banpDoc(subjectProdWeb+"  ingress:\n  - action: Allow\n"+fromDev), knp("deny", knpDenyAll)),
			from:    "dev/client", to: "prod/web", port: "8080", allowed: false, ingress: "tier-default default Deny",
		},
		"an ANP Pass reaches the BANP when tier default has nothing for the pod": {
			objects: docs(anpDoc("pass", "  priority: 1\n"+subjectProdWeb+"  ingress:\n  - action: Pass\n"+fromDev),
				banpDoc(subjectProdWeb+"  ingress:\n  - action: Deny\n"+fromDev)),
			from: "dev/client", to: "prod/web", port: "8080", allowed: false, ingress: "kbanp default#0 Deny",
		},
		"mixed with Calico: a tier ordered before adminnetworkpolicy runs first": {
			objects: docs(tier("security", "  order: 500\n"),
				gnp("security.block", "  tier: security\n  selector: app == 'web'\n  ingress: [{action: Deny}]\n"),
				anpDoc("let-dev", "  priority: 10\n"+subjectProdWeb+"  ingress:\n  - action: Allow\n"+fromDev)),
			from: "dev/client", to: "prod/web", port: "8080", allowed: false, ingress: "gnp security.block#0 Deny",
		},
		"mixed with Calico: an ANP Pass reaches a Calico policy of tier default": {
			objects: docs(anpDoc("pass", "  priority: 1\n"+subjectProdWeb+"  ingress:\n  - action: Pass\n"+fromDev),
				np("deny", "  selector: all()\n  ingress: [{action: Deny}]\n")),
			from: "dev/client", to: "prod/web", port: "8080", allowed: false, ingress: "np prod/deny#0 Deny",
		},
		"an ANP selects pods only, never host endpoints (projectcalico.org/orchestrator == 'k8s'): the host's own default decides": {
			objects: docs("apiVersion: projectcalico.org/v3\nkind: HostEndpoint\nmetadata: {name: node1-eth0, labels: {app: web}}\nspec: {node: node1, interfaceName: eth0, expectedIPs: [172.18.0.2]}\n",
				anpDoc("all", "  priority: 1\n  subject: {namespaces: {}}\n  ingress:\n  - action: Deny\n    from: [{namespaces: {}}]\n")),
			from: "dev/client", to: "172.18.0.2", port: "22", ingress: "no-policy", allowed: false,
		},
	})
}

// TestClusterNetworkPolicySemantics is ClusterNetworkPolicy (v1alpha2) as Calico v3.32
// enforces it: tier Admin in tier kube-admin (order 1,000), tier Baseline in kube-baseline
// (order 10,000,000), order = priority, Accept as Allow, both tiers ending in Pass.
func TestClusterNetworkPolicySemantics(t *testing.T) {
	runVerdictCases(t, map[string]verdictCase{
		"Admin tier: Deny beats a Kubernetes NetworkPolicy that allows": {
			objects: docs(cnpDoc("block", "  tier: Admin\n  priority: 10\n"+subjectProdWeb+"  ingress:\n  - action: Deny\n"+fromDev),
				knp("open", knpAllowAll)),
			from: "dev/client", to: "prod/web", port: "8080", allowed: false, ingress: "kcnp block#0 Deny",
		},
		"Admin tier: Accept is final": {
			objects: docs(cnpDoc("let", "  tier: Admin\n  priority: 10\n"+subjectProdWeb+"  ingress:\n  - action: Accept\n"+fromDev),
				knp("deny", knpDenyAll)),
			from: "dev/client", to: "prod/web", port: "8080", allowed: true, ingress: "kcnp let#0 Allow",
		},
		"Admin tier: Pass hands over to tier default": {
			objects: docs(cnpDoc("pass", "  tier: Admin\n  priority: 10\n"+subjectProdWeb+"  ingress:\n  - action: Pass\n"+fromDev),
				knp("open", knpAllowAll)),
			from: "dev/client", to: "prod/web", port: "8080", allowed: true, ingress: "knp prod/open#0 Allow",
		},
		"Baseline tier: decides what nothing before it decided": {
			objects: cnpDoc("base", "  tier: Baseline\n  priority: 10\n"+subjectProdWeb+"  ingress:\n  - action: Deny\n"+fromDev),
			from:    "dev/client", to: "prod/web", port: "8080", allowed: false, ingress: "kcnp base#0 Deny",
		},
		"Baseline tier: a Kubernetes NetworkPolicy comes first": {
			objects: docs(cnpDoc("base", "  tier: Baseline\n  priority: 10\n"+subjectProdWeb+"  ingress:\n  - action: Deny\n"+fromDev),
				knp("open", knpAllowAll)),
			from: "dev/client", to: "prod/web", port: "8080", allowed: true, ingress: "knp prod/open#0 Allow",
		},
		"protocols: a TCP destination port": {
			objects: cnpDoc("p", "  tier: Admin\n  priority: 1\n"+subjectProdWeb+"  ingress:\n  - action: Deny\n"+fromDev+"    protocols: [{tcp: {destinationPort: {number: 8080}}}]\n"),
			from:    "dev/client", to: "prod/web", port: "8080", allowed: false, ingress: "kcnp p#0 Deny",
		},
		"protocols: UDP only does not match TCP": {
			objects: cnpDoc("p", "  tier: Admin\n  priority: 1\n"+subjectProdWeb+"  ingress:\n  - action: Deny\n"+fromDev+"    protocols: [{udp: {}}]\n"),
			from:    "dev/client", to: "prod/web", port: "8080", allowed: true, ingress: "profile Allow",
		},
		"protocols: a named port is resolved on the destination pod (v3.32)": {
			objects: cnpDoc("p", "  tier: Admin\n  priority: 1\n"+subjectProdWeb+"  ingress:\n  - action: Deny\n"+fromDev+"    protocols: [{destinationNamedPort: http}]\n"),
			from:    "dev/client", to: "prod/web", port: "8080", allowed: false, ingress: "kcnp p#0 Deny",
		},
		"protocols: a named port does not match another port": {
			objects: cnpDoc("p", "  tier: Admin\n  priority: 1\n"+subjectProdWeb+"  ingress:\n  - action: Deny\n"+fromDev+"    protocols: [{destinationNamedPort: http}]\n"),
			from:    "dev/client", to: "prod/web", port: "53/udp", allowed: true, ingress: "profile Allow",
		},
		"mixed: an Admin CNP, a Calico tier between admin and default, and a Kubernetes policy": {
			objects: docs(cnpDoc("pass", "  tier: Admin\n  priority: 1\n"+subjectProdWeb+"  ingress:\n  - action: Pass\n"+fromDev),
				tier("platform", "  order: 5000\n"),
				gnp("platform.deny-dev", "  tier: platform\n  selector: app == 'web'\n  ingress: [{action: Deny, source: {namespaceSelector: env == 'dev'}}]\n"),
				knp("open", knpAllowAll)),
			from: "dev/client", to: "prod/web", port: "8080", allowed: false, ingress: "gnp platform.deny-dev#0 Deny",
		},
	})
}
