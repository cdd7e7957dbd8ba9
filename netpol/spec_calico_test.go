package netpol

import "testing"

// np returns a Calico NetworkPolicy in namespace prod.
func np(name, spec string) string {
	return "apiVersion: projectcalico.org/v3\nkind: NetworkPolicy\nmetadata: {name: " + name + ", namespace: prod}\nspec:\n" + spec
}

// gnp returns a Calico GlobalNetworkPolicy.
func gnp(name, spec string) string {
	return "apiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\nmetadata: {name: " + name + "}\nspec:\n" + spec
}

// tier returns a Calico Tier.
func tier(name, spec string) string {
	return "apiVersion: projectcalico.org/v3\nkind: Tier\nmetadata: {name: " + name + "}\nspec:\n" + spec
}

func docs(d ...string) string {
	out := ""
	for i, s := range d {
		if i > 0 {
			out += "\n---\n"
		}
		out += s
	}
	return out
}

// TestCalicoSemantics is the Calico policy specification, one rule per case, over the same
// world as TestKubernetesSemantics.
func TestCalicoSemantics(t *testing.T) {
	runVerdictCases(t, map[string]verdictCase{
		"tiers run by order: an earlier tier's Deny beats a later tier's Allow": {
			objects: docs(tier("security", "  order: 100\n"),
				gnp("block", "  tier: security\n  selector: app == 'web'\n  ingress: [{action: Deny}]\n"),
				np("open", "  selector: all()\n  ingress: [{action: Allow}]\n")),
			from: "prod/api", to: "prod/web", port: "8080", allowed: false, ingress: "gnp block#0 Deny",
		},
		"a tier without order runs after every ordered tier": {
			objects: docs(tier("late", ""),
				gnp("block", "  tier: late\n  selector: app == 'web'\n  ingress: [{action: Deny}]\n"),
				np("open", "  selector: all()\n  ingress: [{action: Allow}]\n")),
			from: "prod/api", to: "prod/web", port: "8080", allowed: true, ingress: "np prod/open#0 Allow",
		},
		"policies in a tier run by order": {
			objects: docs(np("b-allow", "  order: 10\n  selector: all()\n  ingress: [{action: Allow}]\n"),
				np("a-deny", "  order: 20\n  selector: all()\n  ingress: [{action: Deny}]\n")),
			from: "prod/api", to: "prod/web", port: "8080", allowed: true, ingress: "np prod/b-allow#0 Allow",
		},
		"policies of equal order run by name": {
			objects: docs(np("b-allow", "  order: 10\n  selector: all()\n  ingress: [{action: Allow}]\n"),
				np("a-deny", "  order: 10\n  selector: all()\n  ingress: [{action: Deny}]\n")),
			from: "prod/api", to: "prod/web", port: "8080", allowed: false, ingress: "np prod/a-deny#0 Deny",
		},
		"a policy without order runs after ordered ones": {
			objects: docs(np("a-deny", "  selector: all()\n  ingress: [{action: Deny}]\n"),
				np("z-allow", "  order: 99999\n  selector: all()\n  ingress: [{action: Allow}]\n")),
			from: "prod/api", to: "prod/web", port: "8080", allowed: true, ingress: "np prod/z-allow#0 Allow",
		},
		"rules run in order and the first match decides": {
			objects: np("p", "  selector: all()\n  ingress:\n  - action: Deny\n    source: {selector: app == 'api'}\n  - action: Allow\n"),
			from:    "prod/api", to: "prod/web", port: "8080", allowed: false, ingress: "np prod/p#0 Deny",
		},
		"Log continues to the next rule": {
			objects: np("p", "  selector: all()\n  ingress: [{action: Log}, {action: Allow}]\n"),
			from:    "prod/api", to: "prod/web", port: "8080", allowed: true, ingress: "np prod/p#1 Allow",
		},
		"Pass skips the rest of the tier": {
			objects: docs(tier("security", "  order: 100\n"),
				gnp("pass", "  tier: security\n  selector: all()\n  ingress: [{action: Pass}, {action: Deny}]\n")),
			from: "prod/api", to: "prod/web", port: "8080", allowed: true, ingress: "profile Allow",
		},
		"Pass reaches the next tier's policies": {
			objects: docs(tier("security", "  order: 100\n"),
				gnp("pass", "  tier: security\n  selector: all()\n  ingress: [{action: Pass}]\n"),
				np("deny", "  selector: all()\n  ingress: [{action: Deny}]\n")),
			from: "prod/api", to: "prod/web", port: "8080", allowed: false, ingress: "np prod/deny#0 Deny",
		},
		"no matching rule in a tier that selected the endpoint ends in the tier's Deny": {
			objects: np("p", "  selector: all()\n  ingress: [{action: Allow, source: {selector: app == 'nothing'}}]\n"),
			from:    "prod/api", to: "prod/web", port: "8080", allowed: false, ingress: "tier-default default Deny",
		},
		"a tier whose default action is Pass continues to the next tier": {
			objects: docs(tier("security", "  order: 100\n  defaultAction: Pass\n"),
				gnp("nothing", "  tier: security\n  selector: all()\n  ingress: [{action: Deny, source: {selector: app == 'nothing'}}]\n")),
			from: "prod/api", to: "prod/web", port: "8080", allowed: true, ingress: "profile Allow",
		},
		"a tier in which no policy selects the endpoint is skipped": {
			objects: docs(tier("security", "  order: 100\n"),
				gnp("db-only", "  tier: security\n  selector: app == 'db'\n  ingress: [{action: Deny}]\n")),
			from: "prod/api", to: "prod/web", port: "8080", allowed: true, ingress: "no-policy",
		},
		"a policy selects only the directions in its types": {
			objects: np("p", "  selector: all()\n  types: [Egress]\n"),
			from:    "prod/api", to: "prod/web", port: "8080", allowed: false, egress: "tier-default default Deny", ingress: "no-policy",
		},
		"types are inferred: egress rules only give an Egress policy": {
			objects: np("p", "  selector: app == 'web'\n  egress: [{action: Deny}]\n"),
			from:    "prod/api", to: "prod/web", port: "8080", allowed: true, ingress: "no-policy",
		},
		"Kubernetes policies sit in tier default at order 1000: a Calico Deny at 500 runs first": {
			objects: docs(knp("allow", "  podSelector: {}\n  ingress: [{}]\n"),
				np("deny", "  order: 500\n  selector: all()\n  ingress: [{action: Deny}]\n")),
			from: "prod/api", to: "prod/web", port: "8080", allowed: false, ingress: "np prod/deny#0 Deny",
		},
		"Kubernetes policies sit in tier default at order 1000: a Calico Allow at 2000 still counts": {
			objects: docs(knp("deny", "  podSelector: {}\n  policyTypes: [Ingress]\n"),
				np("allow", "  order: 2000\n  selector: all()\n  ingress: [{action: Allow}]\n")),
			from: "prod/api", to: "prod/web", port: "8080", allowed: true, ingress: "np prod/allow#0 Allow",
		},
		"an earlier tier's Pass leaves the decision to Kubernetes policies": {
			objects: docs(tier("platform", "  order: 10\n"),
				gnp("pass", "  tier: platform\n  selector: all()\n  ingress: [{action: Pass}]\n"),
				knp("deny", "  podSelector: {}\n  policyTypes: [Ingress]\n")),
			from: "prod/api", to: "prod/web", port: "8080", allowed: false, ingress: "tier-default default Deny",
		},
		"nets admit addresses inside them": {
			objects: np("p", "  selector: all()\n  ingress: [{action: Allow, source: {nets: [203.0.113.0/24]}}]\n"),
			from:    "203.0.113.9", to: "prod/web", port: "8080", allowed: true,
		},
		"notNets exclude addresses": {
			objects: np("p", "  selector: all()\n  ingress: [{action: Allow, source: {notNets: [203.0.113.0/24]}}]\n"),
			from:    "203.0.113.9", to: "prod/web", port: "8080", allowed: false,
		},
		"a rule selector in a namespaced policy means the policy's namespace": {
			objects: np("p", "  selector: all()\n  ingress: [{action: Allow, source: {selector: app == 'client'}}]\n"),
			from:    "dev/client", to: "prod/web", port: "8080", allowed: false,
		},
		"a rule selector in a namespaced policy admits matching pods there": {
			objects: np("p", "  selector: all()\n  ingress: [{action: Allow, source: {selector: app == 'client'}}]\n"),
			from:    "prod/client", to: "prod/web", port: "8080", allowed: true,
		},
		"a rule selector never matches an address outside the cluster": {
			objects: np("p", "  selector: all()\n  ingress: [{action: Allow, source: {selector: all()}}]\n"),
			from:    "8.8.8.8", to: "prod/web", port: "8080", allowed: false,
		},
		"notSelector also matches addresses outside the cluster": {
			objects: gnp("p", "  selector: app == 'web'\n  ingress: [{action: Allow, source: {notSelector: app == 'client'}}]\n"),
			from:    "8.8.8.8", to: "prod/web", port: "8080", allowed: true,
		},
		"notSelector excludes the endpoints it matches": {
			objects: gnp("p", "  selector: app == 'web'\n  ingress: [{action: Allow, source: {notSelector: app == 'client'}}]\n"),
			from:    "dev/client", to: "prod/web", port: "8080", allowed: false,
		},
		"a rule namespaceSelector selects namespaces by label": {
			objects: np("p", "  selector: all()\n  ingress: [{action: Allow, source: {namespaceSelector: env == 'dev'}}]\n"),
			from:    "dev/client", to: "prod/web", port: "8080", allowed: true,
		},
		"projectcalico.org/name selects a namespace by name": {
			objects: np("p", "  selector: all()\n  ingress: [{action: Allow, source: {namespaceSelector: projectcalico.org/name == 'ops'}}]\n"),
			from:    "ops/agent", to: "prod/web", port: "8080", allowed: true,
		},
		"a global policy's rule selector spans every namespace": {
			objects: gnp("p", "  selector: app == 'web'\n  ingress: [{action: Allow, source: {selector: app == 'client'}}]\n"),
			from:    "dev/client", to: "prod/web", port: "8080", allowed: true,
		},
		"a global policy's namespaceSelector limits what it applies to": {
			objects: gnp("p", "  namespaceSelector: env == 'dev'\n  selector: all()\n  ingress: [{action: Deny}]\n"),
			from:    "prod/web", to: "prod/api", port: "9090", allowed: true, ingress: "no-policy",
		},
		"namespaceSelector all() means every namespaced endpoint, not global sets": {
			objects: docs(gns("corp", "{zone: corp}", "198.51.100.0/24"),
				gnp("p", "  selector: app == 'web'\n  ingress: [{action: Allow, source: {namespaceSelector: all(), selector: zone == 'corp'}}]\n")),
			from: "198.51.100.7", to: "prod/web", port: "8080", allowed: false,
		},
		"namespaceSelector global() selects GlobalNetworkSets by label": {
			objects: docs(gns("corp", "{zone: corp}", "198.51.100.0/24"),
				np("p", "  selector: all()\n  ingress: [{action: Allow, source: {namespaceSelector: global(), selector: zone == 'corp'}}]\n")),
			from: "198.51.100.7", to: "prod/web", port: "8080", allowed: true,
		},
		"a namespaced policy sees its own namespace's NetworkSets by label": {
			objects: docs(netset("prod", "partners", "{kind: partner}", "192.0.2.0/24"),
				np("p", "  selector: all()\n  ingress: [{action: Allow, source: {selector: kind == 'partner'}}]\n")),
			from: "192.0.2.1", to: "prod/web", port: "8080", allowed: true,
		},
		"a namespaced policy does not see another namespace's NetworkSets": {
			objects: docs(netset("dev", "partners", "{kind: partner}", "192.0.2.0/24"),
				np("p", "  selector: all()\n  ingress: [{action: Allow, source: {selector: kind == 'partner'}}]\n")),
			from: "192.0.2.1", to: "prod/web", port: "8080", allowed: false,
		},
		"serviceAccounts names match the pod's service account": {
			objects: np("p", "  selector: app == 'db'\n  ingress: [{action: Allow, source: {serviceAccounts: {names: [api]}}}]\n"),
			from:    "prod/api", to: "prod/db", port: "5432", allowed: true,
		},
		"serviceAccounts selector matches the account's labels": {
			objects: np("p", "  selector: app == 'db'\n  ingress: [{action: Allow, source: {serviceAccounts: {selector: role == 'backend'}}}]\n"),
			from:    "prod/web", to: "prod/db", port: "5432", allowed: false,
		},
		"serviceAccountSelector limits what a policy applies to": {
			objects: np("p", "  serviceAccountSelector: role == 'backend'\n  ingress: [{action: Deny}]\n"),
			from:    "prod/web", to: "prod/api", port: "9090", allowed: false, ingress: "np prod/p#0 Deny",
		},
		"the automatic projectcalico.org/serviceaccount label is selectable": {
			objects: np("p", "  selector: projectcalico.org/serviceaccount == 'web'\n  ingress: [{action: Deny}]\n"),
			from:    "prod/api", to: "prod/web", port: "8080", allowed: false,
		},
		"the automatic projectcalico.org/namespace label is selectable": {
			objects: gnp("p", "  selector: projectcalico.org/namespace == 'dev'\n  ingress: [{action: Deny}]\n"),
			from:    "prod/api", to: "dev/client", port: "80", allowed: false,
		},
		"destination services match the Service's backends on its target ports": {
			objects: np("p", "  selector: app == 'web'\n  types: [Egress]\n  egress: [{action: Allow, destination: {services: {name: api}}}]\n"),
			from:    "prod/web", to: "prod/api", port: "9090", allowed: true,
		},
		"destination services do not match other ports of the backends": {
			objects: np("p", "  selector: app == 'web'\n  types: [Egress]\n  egress: [{action: Allow, destination: {services: {name: api}}}]\n"),
			from:    "prod/web", to: "prod/api", port: "9091", allowed: false,
		},
		"source services match the Service's backends": {
			objects: np("p", "  selector: app == 'db'\n  ingress: [{action: Allow, source: {services: {name: api}}}]\n"),
			from:    "prod/api", to: "prod/db", port: "5432", allowed: true,
		},
		"a port range 'lo:hi' is inclusive": {
			objects: np("p", "  selector: all()\n  ingress: [{action: Allow, protocol: TCP, destination: {ports: ['8000:8080']}}]\n"),
			from:    "prod/api", to: "prod/web", port: "8080", allowed: true,
		},
		"notPorts exclude ports": {
			objects: np("p", "  selector: all()\n  ingress: [{action: Allow, protocol: TCP, destination: {notPorts: ['8000:8080']}}]\n"),
			from:    "prod/api", to: "prod/web", port: "8080", allowed: false,
		},
		"a named port in a Calico rule resolves on the destination": {
			objects: np("p", "  selector: all()\n  ingress: [{action: Allow, protocol: TCP, destination: {ports: [pg]}}]\n"),
			from:    "prod/api", to: "prod/db", port: "5432", allowed: true,
		},
		"a protocol given by number": {
			objects: np("p", "  selector: all()\n  ingress: [{action: Allow, protocol: 17}]\n"),
			from:    "prod/api", to: "prod/web", port: "53/udp", allowed: true,
		},
		"notProtocol excludes a protocol": {
			objects: np("p", "  selector: all()\n  ingress: [{action: Allow, notProtocol: UDP}]\n"),
			from:    "prod/api", to: "prod/web", port: "53/udp", allowed: false,
		},
		"ICMP type matches": {
			objects: np("p", "  selector: all()\n  ingress: [{action: Allow, protocol: ICMP, icmp: {type: 8}}]\n"),
			from:    "prod/api", to: "prod/web", port: "8/icmp", allowed: true,
		},
		"ICMP type mismatch": {
			objects: np("p", "  selector: all()\n  ingress: [{action: Allow, protocol: ICMP, icmp: {type: 8}}]\n"),
			from:    "prod/api", to: "prod/web", port: "0/icmp", allowed: false,
		},
		"ipVersion 6 does not match IPv4 traffic": {
			objects: np("p", "  selector: all()\n  ingress: [{action: Allow, ipVersion: 6}]\n"),
			from:    "203.0.113.9", to: "prod/web", port: "8080", allowed: false,
		},
		"HTTP match rules need the application layer and match nothing here": {
			objects: np("p", "  selector: all()\n  ingress: [{action: Allow, http: {methods: [GET]}}]\n"),
			from:    "prod/api", to: "prod/web", port: "8080", allowed: false,
		},
		"staged policies never change the enforced verdict": {
			objects: stagedNP("deny", "  selector: all()\n  ingress: [{action: Deny}]\n"),
			from:    "prod/api", to: "prod/web", port: "8080", allowed: true, ingress: "no-policy",
		},
		"staged policies decide the pending verdict": {
			objects: stagedNP("deny", "  selector: all()\n  ingress: [{action: Deny}]\n"),
			from:    "prod/api", to: "prod/web", port: "8080", allowed: false, ingress: "snp prod/deny#0 Deny", pending: true,
		},
		"a staged Set replaces its enforced twin in the pending verdict": {
			objects: docs(np("p", "  selector: all()\n  ingress: [{action: Deny}]\n"),
				stagedNP("p", "  selector: all()\n  ingress: [{action: Allow}]\n")),
			from: "prod/api", to: "prod/web", port: "8080", allowed: true, ingress: "snp prod/p#0 Allow", pending: true,
		},
		"stagedAction Delete removes the enforced twin in the pending verdict": {
			objects: docs(np("p", "  selector: all()\n  ingress: [{action: Deny}]\n"),
				stagedNP("p", "  stagedAction: Delete\n  selector: all()\n")),
			from: "prod/api", to: "prod/web", port: "8080", allowed: true, ingress: "no-policy", pending: true,
		},
		"a StagedKubernetesNetworkPolicy stages a Kubernetes policy": {
			objects: "apiVersion: projectcalico.org/v3\nkind: StagedKubernetesNetworkPolicy\nmetadata: {name: deny, namespace: prod}\nspec:\n  podSelector: {}\n  policyTypes: [Ingress]\n",
			from:    "prod/api", to: "prod/web", port: "8080", allowed: false, ingress: "tier-default default Deny", pending: true,
		},
		"a global policy selecting all() applies to host endpoints": {
			objects: docs(hep("node1-eth0", "{role: node}", "172.18.0.2", ""),
				gnp("p", "  selector: all()\n  ingress: [{action: Allow, protocol: TCP, destination: {ports: [22]}}]\n")),
			from: "8.8.8.8", to: "172.18.0.2", port: "443", allowed: false, ingress: "tier-default default Deny",
		},
		"a host endpoint without profiles denies what no policy allowed": {
			objects: hep("node1-eth0", "{role: node}", "172.18.0.2", ""),
			from:    "8.8.8.8", to: "172.18.0.2", port: "443", allowed: false, ingress: "no-policy",
		},
		"a host endpoint with a profile allows what no policy decided": {
			objects: hep("node1-eth0", "{role: node}", "172.18.0.2", "projectcalico-default-allow"),
			from:    "8.8.8.8", to: "172.18.0.2", port: "443", allowed: true, ingress: "no-policy",
		},
		"a namespaced policy never applies to host endpoints": {
			objects: docs(hep("node1-eth0", "{role: node}", "172.18.0.2", "projectcalico-default-allow"),
				np("p", "  selector: all()\n  ingress: [{action: Deny}]\n")),
			from: "8.8.8.8", to: "172.18.0.2", port: "443", allowed: true,
		},
	})
}

func stagedNP(name, spec string) string {
	return "apiVersion: projectcalico.org/v3\nkind: StagedNetworkPolicy\nmetadata: {name: " + name + ", namespace: prod}\nspec:\n" + spec
}

func gns(name, labels, net string) string {
	return "apiVersion: projectcalico.org/v3\nkind: GlobalNetworkSet\nmetadata: {name: " + name + ", labels: " + labels + "}\nspec: {nets: [" + net + "]}\n"
}

func netset(ns, name, labels, net string) string {
	return "apiVersion: projectcalico.org/v3\nkind: NetworkSet\nmetadata: {name: " + name + ", namespace: " + ns + ", labels: " + labels + "}\nspec: {nets: [" + net + "]}\n"
}

func hep(name, labels, ip, profile string) string {
	s := "apiVersion: projectcalico.org/v3\nkind: HostEndpoint\nmetadata: {name: " + name + ", labels: " + labels + "}\nspec:\n  node: node1\n  interfaceName: eth0\n  expectedIPs: [" + ip + "]\n"
	if profile != "" {
		s += "  profiles: [" + profile + "]\n"
	}
	return s
}
