package netpol

import "testing"

// knp returns a Kubernetes NetworkPolicy in namespace prod with the given spec body.
func knp(name, spec string) string {
	return "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: " + name + ", namespace: prod}\nspec:\n" + spec
}

const hostNetworkDeployment = `apiVersion: apps/v1
kind: Deployment
metadata: {name: exporter, namespace: prod}
spec:
  selector: {matchLabels: {app: exporter}}
  template:
    metadata: {labels: {app: exporter}}
    spec: {hostNetwork: true, containers: [{name: e, image: e, ports: [{containerPort: 9100}]}]}
`

// TestKubernetesSemantics is the Kubernetes NetworkPolicy specification, one rule per case.
// The world: namespaces prod (env=prod) and dev (env=dev); prod/web (app=web, port http
// 8080/TCP, dns 53/UDP), prod/api (app=api, http 9090), prod/db (StatefulSet, app=db, pg
// 5432, repl 7777/SCTP), prod/client (a Pod at 10.0.1.5, app=client), dev/client
// (app=client) and ops/agent in a namespace without a Namespace object.
func TestKubernetesSemantics(t *testing.T) {
	runVerdictCases(t, map[string]verdictCase{
		"a pod no policy selects is open in both directions": {
			from: "dev/client", to: "prod/web", port: "8080", allowed: true,
			egress: "no-policy", ingress: "no-policy",
		},
		"isolation is per direction: an Egress-only policy leaves ingress open": {
			objects: knp("eg", "  podSelector: {matchLabels: {app: web}}\n  policyTypes: [Egress]\n"),
			from:    "dev/client", to: "prod/web", port: "8080", allowed: true, ingress: "no-policy",
		},
		"an Ingress policy with no rules denies all ingress": {
			objects: knp("deny", "  podSelector: {}\n  policyTypes: [Ingress]\n"),
			from:    "prod/api", to: "prod/web", port: "8080", allowed: false, ingress: "tier-default default Deny",
		},
		"an Ingress-only policy leaves egress open": {
			objects: knp("deny", "  podSelector: {}\n  policyTypes: [Ingress]\n"),
			from:    "prod/web", to: "1.2.3.4", port: "443", allowed: true, egress: "no-policy",
		},
		"policyTypes omitted means Ingress only": {
			objects: knp("deny", "  podSelector: {}\n"),
			from:    "prod/web", to: "1.2.3.4", port: "443", allowed: true, egress: "no-policy",
		},
		"policyTypes omitted with egress rules isolates egress too": {
			objects: knp("eg", "  podSelector: {}\n  egress:\n  - to: [{podSelector: {matchLabels: {app: db}}}]\n"),
			from:    "prod/web", to: "1.2.3.4", port: "443", allowed: false, egress: "tier-default default Deny",
		},
		"policyTypes omitted with egress: [] gives no egress isolation": {
			objects: knp("eg", "  podSelector: {}\n  egress: []\n"),
			from:    "prod/web", to: "1.2.3.4", port: "443", allowed: true, egress: "no-policy",
		},
		"egress: [] with Egress in policyTypes denies all egress": {
			objects: knp("eg", "  podSelector: {}\n  policyTypes: [Egress]\n  egress: []\n"),
			from:    "prod/web", to: "prod/api", port: "9090", allowed: false, egress: "tier-default default Deny",
		},
		"allows are a union: a second policy adds to the first": {
			objects: knp("a", "  podSelector: {matchLabels: {app: web}}\n  ingress:\n  - ports: [{port: 8080}]\n") + "\n---\n" +
				knp("b", "  podSelector: {matchLabels: {app: web}}\n  ingress:\n  - ports: [{port: 53, protocol: UDP}]\n"),
			from: "dev/client", to: "prod/web", port: "53/udp", allowed: true, ingress: "knp prod/b#0 Allow",
		},
		"ingress: [{}] allows every source, addresses outside the cluster included": {
			objects: knp("all", "  podSelector: {}\n  ingress: [{}]\n"),
			from:    "8.8.8.8", to: "prod/web", port: "8080", allowed: true, ingress: "knp prod/all#0 Allow",
		},
		"a rule with from: [] allows every source": {
			objects: knp("all", "  podSelector: {}\n  ingress: [{from: [], ports: [{port: 8080}]}]\n"),
			from:    "8.8.8.8", to: "prod/web", port: "8080", allowed: true,
		},
		"ports: [] means all ports": {
			objects: knp("p", "  podSelector: {}\n  ingress: [{from: [{podSelector: {}}], ports: []}]\n"),
			from:    "prod/api", to: "prod/web", port: "12345", allowed: true,
		},
		"podSelector {} selects only pods of the policy's namespace": {
			objects: knp("deny", "  podSelector: {}\n  policyTypes: [Ingress]\n"),
			from:    "prod/web", to: "dev/client", port: "80", allowed: true, ingress: "no-policy",
		},
		"a peer with podSelector only means the policy's namespace": {
			objects: knp("p", "  podSelector: {matchLabels: {app: web}}\n  ingress: [{from: [{podSelector: {matchLabels: {app: client}}}]}]\n"),
			from:    "dev/client", to: "prod/web", port: "8080", allowed: false,
		},
		"a peer with podSelector only admits matching pods of the policy's namespace": {
			objects: knp("p", "  podSelector: {matchLabels: {app: web}}\n  ingress: [{from: [{podSelector: {matchLabels: {app: client}}}]}]\n"),
			from:    "prod/client", to: "prod/web", port: "8080", allowed: true, ingress: "knp prod/p#0 Allow",
		},
		"namespaceSelector {} alone admits every pod of every namespace": {
			objects: knp("p", "  podSelector: {}\n  ingress: [{from: [{namespaceSelector: {}}]}]\n"),
			from:    "ops/agent", to: "prod/web", port: "8080", allowed: true,
		},
		"namespaceSelector {} does not admit addresses outside the cluster": {
			objects: knp("p", "  podSelector: {}\n  ingress: [{from: [{namespaceSelector: {}}]}]\n"),
			from:    "8.8.8.8", to: "prod/web", port: "8080", allowed: false,
		},
		"namespaceSelector and podSelector in one peer must both match (AND)": {
			objects: knp("p", "  podSelector: {}\n  ingress: [{from: [{namespaceSelector: {matchLabels: {env: dev}}, podSelector: {matchLabels: {app: web}}}]}]\n"),
			from:    "dev/client", to: "prod/web", port: "8080", allowed: false,
		},
		"namespaceSelector and podSelector as separate peers are alternatives (OR)": {
			objects: knp("p", "  podSelector: {}\n  ingress: [{from: [{namespaceSelector: {matchLabels: {env: dev}}}, {podSelector: {matchLabels: {app: web}}}]}]\n"),
			from:    "dev/client", to: "prod/api", port: "9090", allowed: true,
		},
		"the automatic kubernetes.io/metadata.name label selects a namespace by name": {
			objects: knp("p", "  podSelector: {}\n  ingress: [{from: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: ops}}}]}]\n"),
			from:    "ops/agent", to: "prod/web", port: "8080", allowed: true,
		},
		"matchExpressions NotIn is true when the label is absent": {
			objects: knp("p", "  podSelector: {}\n  ingress: [{from: [{namespaceSelector: {matchExpressions: [{key: env, operator: NotIn, values: [prod]}]}}]}]\n"),
			from:    "ops/agent", to: "prod/web", port: "8080", allowed: true,
		},
		"ipBlock admits addresses inside the CIDR": {
			objects: knp("p", "  podSelector: {}\n  ingress: [{from: [{ipBlock: {cidr: 192.168.0.0/16, except: [192.168.1.0/24]}}]}]\n"),
			from:    "192.168.2.7", to: "prod/web", port: "8080", allowed: true,
		},
		"ipBlock except removes addresses": {
			objects: knp("p", "  podSelector: {}\n  ingress: [{from: [{ipBlock: {cidr: 192.168.0.0/16, except: [192.168.1.0/24]}}]}]\n"),
			from:    "192.168.1.7", to: "prod/web", port: "8080", allowed: false,
		},
		"an excepted address allowed by another rule stays allowed": {
			objects: knp("p", "  podSelector: {}\n  ingress:\n  - from: [{ipBlock: {cidr: 192.168.0.0/16, except: [192.168.1.0/24]}}]\n  - from: [{ipBlock: {cidr: 192.168.1.0/28}}]\n"),
			from:    "192.168.1.7", to: "prod/web", port: "8080", allowed: true, ingress: "knp prod/p#1 Allow",
		},
		"ipBlock matches a pod's own address": {
			objects: knp("p", "  podSelector: {matchLabels: {app: web}}\n  ingress: [{from: [{ipBlock: {cidr: 10.0.1.0/24}}]}]\n"),
			from:    "prod/client", to: "prod/web", port: "8080", allowed: true,
		},
		"a named port resolves on the destination pod": {
			objects: knp("p", "  podSelector: {}\n  ingress: [{ports: [{port: http}]}]\n"),
			from:    "prod/client", to: "prod/api", port: "9090", allowed: true,
		},
		"a named port admits only the number it has on that pod": {
			objects: knp("p", "  podSelector: {}\n  ingress: [{ports: [{port: http}]}]\n"),
			from:    "prod/client", to: "prod/api", port: "8080", allowed: false,
		},
		"a named port also needs the protocol it is declared with": {
			objects: knp("p", "  podSelector: {}\n  ingress: [{ports: [{port: dns, protocol: TCP}]}]\n"),
			from:    "prod/client", to: "prod/web", port: "53/udp", allowed: false,
		},
		"a named port in an egress rule resolves on the destination pod": {
			objects: knp("p", "  podSelector: {matchLabels: {app: web}}\n  policyTypes: [Egress]\n  egress: [{to: [{podSelector: {matchLabels: {app: db}}}], ports: [{port: pg}]}]\n"),
			from:    "prod/web", to: "prod/db", port: "5432", allowed: true, egress: "knp prod/p#0 Allow",
		},
		"a named port never matches an address outside the cluster": {
			objects: knp("p", "  podSelector: {matchLabels: {app: web}}\n  policyTypes: [Egress]\n  egress: [{to: [{ipBlock: {cidr: 0.0.0.0/0}}], ports: [{port: http}]}]\n"),
			from:    "prod/web", to: "8.8.8.8", port: "8080", allowed: false,
		},
		"endPort makes an inclusive range": {
			objects: knp("p", "  podSelector: {}\n  ingress: [{ports: [{port: 32000, endPort: 32768}]}]\n"),
			from:    "prod/client", to: "prod/web", port: "32768", allowed: true,
		},
		"a port past endPort is outside the range": {
			objects: knp("p", "  podSelector: {}\n  ingress: [{ports: [{port: 32000, endPort: 32768}]}]\n"),
			from:    "prod/client", to: "prod/web", port: "32769", allowed: false,
		},
		"the protocol defaults to TCP": {
			objects: knp("p", "  podSelector: {}\n  ingress: [{ports: [{port: 53}]}]\n"),
			from:    "prod/client", to: "prod/web", port: "53/udp", allowed: false,
		},
		"UDP is allowed where the port says UDP": {
			objects: knp("p", "  podSelector: {}\n  ingress: [{ports: [{port: 53, protocol: UDP}]}]\n"),
			from:    "prod/client", to: "prod/web", port: "53/udp", allowed: true,
		},
		"an SCTP-only allow still isolates and blocks TCP": {
			objects: knp("p", "  podSelector: {matchLabels: {app: db}}\n  ingress: [{ports: [{port: 7777, protocol: SCTP}]}]\n"),
			from:    "prod/web", to: "prod/db", port: "7777/tcp", allowed: false,
		},
		"SCTP is allowed where the port says SCTP": {
			objects: knp("p", "  podSelector: {matchLabels: {app: db}}\n  ingress: [{ports: [{port: repl, protocol: SCTP}]}]\n"),
			from:    "prod/web", to: "prod/db", port: "7777/sctp", allowed: true,
		},
		"a port with a protocol and no number admits every port of that protocol": {
			objects: knp("p", "  podSelector: {}\n  ingress: [{ports: [{protocol: UDP}]}]\n"),
			from:    "prod/client", to: "prod/web", port: "5353/udp", allowed: true,
		},
		"a rule with ports never admits ICMP": {
			objects: knp("p", "  podSelector: {}\n  ingress: [{ports: [{protocol: TCP}, {protocol: UDP}, {protocol: SCTP}]}]\n"),
			from:    "prod/client", to: "prod/web", port: "8/icmp", allowed: false,
		},
		"a rule without ports admits ICMP": {
			objects: knp("p", "  podSelector: {}\n  ingress: [{from: [{podSelector: {}}]}]\n"),
			from:    "prod/client", to: "prod/web", port: "8/icmp", allowed: true,
		},
		"egress is decided at the source: denied there even if the destination allows": {
			objects: knp("eg", "  podSelector: {matchLabels: {app: web}}\n  policyTypes: [Egress]\n") + "\n---\n" +
				knp("in", "  podSelector: {matchLabels: {app: api}}\n  ingress: [{from: [{podSelector: {matchLabels: {app: web}}}]}]\n"),
			from: "prod/web", to: "prod/api", port: "9090", allowed: false,
			egress: "tier-default default Deny", ingress: "knp prod/in#0 Allow",
		},
		"a host-network pod is not isolated by pod policies": {
			objects: docs(hostNetworkDeployment, knp("deny", "  podSelector: {}\n  policyTypes: [Ingress, Egress]\n")),
			from:    "dev/client", to: "prod/exporter", port: "9100", allowed: true, ingress: "not-enforced",
		},
		"a host-network pod is not matched by pod selectors": {
			objects: docs(hostNetworkDeployment, knp("p", "  podSelector: {matchLabels: {app: web}}\n  ingress: [{from: [{podSelector: {matchLabels: {app: exporter}}}]}]\n")),
			from:    "prod/exporter", to: "prod/web", port: "8080", allowed: false,
		},
		"a default deny for both directions also blocks DNS": {
			objects: knp("deny", "  podSelector: {}\n  policyTypes: [Ingress, Egress]\n"),
			from:    "prod/web", to: "10.96.0.10", port: "53/udp", allowed: false, egress: "tier-default default Deny",
		},
	})
}
