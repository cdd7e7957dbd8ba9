package netpol

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	calicov3 "github.com/projectcalico/api/pkg/apis/projectcalico/v3"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
)

// TestLoad: what the loader reads, and how it reports what it cannot.
func TestLoad(t *testing.T) {
	tests := map[string]struct {
		input string
		// wantPolicies and wantWorkloads are the refs loaded ("kind ns/name").
		wantPolicies  []string
		wantWorkloads []string
		// wantErrs holds one entry per error, in order: substrings it must contain, separated
		// by "|".
		wantErrs []string
	}{
		"multi-document YAML with comments and empty documents": {
			input: "# leading comment\n---\n" + knp("a", "  podSelector: {}\n") + "\n---\n---\n# only a comment\n---\n" +
				np("b", "  selector: all()\n") + "\n...\n",
			wantPolicies: []string{"KubernetesNetworkPolicy prod/a", "NetworkPolicy prod/b"},
		},
		"a v1 List of mixed kinds": {
			input: "apiVersion: v1\nkind: List\nitems:\n" +
				"- {apiVersion: networking.k8s.io/v1, kind: NetworkPolicy, metadata: {name: a, namespace: prod}, spec: {podSelector: {}}}\n" +
				"- {apiVersion: v1, kind: Pod, metadata: {name: p, namespace: prod}, spec: {containers: [{name: c, image: i}]}}\n",
			wantPolicies: []string{"KubernetesNetworkPolicy prod/a"}, wantWorkloads: []string{"prod/p[Pod]"},
		},
		"a typed list": {
			input:        "apiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicyList\nitems:\n- {apiVersion: projectcalico.org/v3, kind: GlobalNetworkPolicy, metadata: {name: g}, spec: {selector: all()}}\n",
			wantPolicies: []string{"GlobalNetworkPolicy g"},
		},
		"items of a typed list from the API server carry no kind or apiVersion": {
			input: `{"apiVersion": "v1", "kind": "PodList", "metadata": {"resourceVersion": "7"}, "items": [` +
				`{"metadata": {"name": "p", "namespace": "prod"}, "spec": {"containers": [{"name": "c", "image": "i"}]}, "status": {"phase": "Running"}}]}` +
				"\n---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicyList\nitems:\n- {metadata: {name: a, namespace: prod}, spec: {podSelector: {}}}\n",
			wantPolicies: []string{"KubernetesNetworkPolicy prod/a"}, wantWorkloads: []string{"prod/p[Pod]"},
		},
		"an item of a typed list keeps its own kind, and a wrong one is still an error": {
			input:    "apiVersion: v1\nkind: PodList\nitems:\n- {kind: Podd, metadata: {name: p, namespace: prod}}\n",
			wantErrs: []string{`test.yaml:1 items[0]: Podd prod/p: kind: Unsupported value: "Podd"`},
		},
		"a status block on a NetworkPolicy, as the API server returns it, is read and ignored": {
			input: knp("s", "  podSelector: {}\nstatus: {}\n") + "\n---\n" +
				"apiVersion: projectcalico.org/v3\nkind: NetworkPolicy\nmetadata: {name: c, namespace: prod}\nspec: {selector: all()}\nstatus: {}\n",
			wantPolicies: []string{"KubernetesNetworkPolicy prod/s", "NetworkPolicy prod/c"},
		},
		"an unknown field beside a status block is still an error": {
			input:    knp("s", "  podSelector: {}\n  podSelectr: {}\nstatus: {}\n"),
			wantErrs: []string{`NetworkPolicy prod/s: strict decoding: unknown field "spec.podSelectr"`},
		},
		"pods whose owner is not in the input are named by their owner (a ReplicaSet by its Deployment)": {
			input: ownedPod("web-7d9f8b6c5-abcde", "ReplicaSet", "web-7d9f8b6c5", "app: web, pod-template-hash: 7d9f8b6c5") +
				ownedPod("web-55c4f6d8b9-fghij", "ReplicaSet", "web-55c4f6d8b9", "app: web, pod-template-hash: 55c4f6d8b9") +
				ownedPod("db-0", "StatefulSet", "db", "app: db, controller-revision-hash: db-6c8f") +
				ownedPod("odd-x1", "ReplicaSet", "odd-rs", "app: odd, pod-template-hash: abc12") +
				"apiVersion: v1\nkind: Pod\nmetadata: {name: solo, namespace: prod}\nspec: {containers: [{name: c, image: i}]}\n",
			wantWorkloads: []string{"prod/db[StatefulSet]", "prod/odd-rs[ReplicaSet]", "prod/solo[Pod]", "prod/web[Deployment]"},
		},
		"pods of one absent owner whose stable labels differ stay apart": {
			input: ownedPod("api-1", "StatefulSet", "api", "app: api, track: stable") +
				ownedPod("api-2", "StatefulSet", "api", "app: api, track: canary"),
			wantWorkloads: []string{"prod/api-2[Pod]", "prod/api[StatefulSet]"},
		},
		"JSON": {
			input:        `{"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {"name": "j", "namespace": "prod"}, "spec": {"podSelector": {}}}`,
			wantPolicies: []string{"KubernetesNetworkPolicy prod/j"},
		},
		"Calico's CRD group is read like projectcalico.org/v3": {
			input:        "apiVersion: crd.projectcalico.org/v1\nkind: NetworkPolicy\nmetadata: {name: default.c, namespace: prod}\nspec: {selector: all()}\n",
			wantPolicies: []string{"NetworkPolicy prod/default.c"},
		},
		"an object without a namespace lands in default": {
			input:        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: nn}\nspec: {podSelector: {}}\n",
			wantPolicies: []string{"KubernetesNetworkPolicy default/nn"},
		},
		"kinds that say nothing about network policy are skipped": {
			input: "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n---\napiVersion: cert-manager.io/v1\nkind: Certificate\nmetadata: {name: c}\n---\n" +
				knp("a", "  podSelector: {}\n"),
			wantPolicies: []string{"KubernetesNetworkPolicy prod/a"},
		},
		"unparseable YAML names the line in the file, and later documents still load": {
			input:        knp("a", "  podSelector: {}\n") + "\n---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: [unclosed\n---\n" + np("b", "  selector: all()\n"),
			wantPolicies: []string{"KubernetesNetworkPolicy prod/a", "NetworkPolicy prod/b"},
			wantErrs:     []string{"test.yaml:8: parse YAML: yaml: line 11: "},
		},
		"an unknown kind of a known group is an error": {
			input:    "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicyy\nmetadata: {name: x, namespace: prod}\n",
			wantErrs: []string{`test.yaml:1: NetworkPolicyy prod/x: kind: Unsupported value: "NetworkPolicyy" is not a kind of networking.k8s.io/v1`},
		},
		"an unknown version of a known group is an error": {
			input:    "apiVersion: apps/v1beta1\nkind: Deployment\nmetadata: {name: x, namespace: prod}\n",
			wantErrs: []string{`Deployment prod/x: apiVersion: Unsupported value: "apps/v1beta1" (flowguard reads apps/v1)`},
		},
		"an unknown field names its path": {
			input:    knp("typo", "  podSelectr: {}\n"),
			wantErrs: []string{`NetworkPolicy prod/typo: strict decoding: unknown field "spec.podSelectr"`},
		},
		"a field of the wrong type, in JSON's terms at its line": {
			input:    knp("bad", "  podSelector: []\n"),
			wantErrs: []string{"test.yaml:5: NetworkPolicy prod/bad: spec.podSelector: Invalid value: array: must be an object"},
		},
		"a missing kind": {
			input:    "apiVersion: v1\nmetadata: {name: x}\n",
			wantErrs: []string{"test.yaml:1: object x: kind: Required value"},
		},
		"a cluster-scoped kind with a namespace": {
			input:    "apiVersion: projectcalico.org/v3\nkind: GlobalNetworkSet\nmetadata: {name: s, namespace: prod}\n",
			wantErrs: []string{"metadata.namespace: Forbidden: GlobalNetworkSet is cluster-scoped"},
		},
		"a malformed Calico selector names the field and the position": {
			input:    np("sel", "  selector: app == 'web' &&\n"),
			wantErrs: []string{`NetworkPolicy.projectcalico.org prod/sel: spec.selector: Invalid value: "app == 'web' &&": selector "app == 'web' &&": position 15:`},
		},
		"global() outside a rule's namespaceSelector": {
			input:    np("g", "  selector: global()\n"),
			wantErrs: []string{"spec.selector: Invalid value: \"global()\": global() is only allowed in a rule's namespaceSelector"},
		},
		"an invalid rule field in a List item names the item and the field, at its line": {
			input: "apiVersion: v1\nkind: List\nitems:\n- {apiVersion: networking.k8s.io/v1, kind: NetworkPolicy, metadata: {name: ok, namespace: prod}, spec: {podSelector: {}}}\n" +
				"- {apiVersion: networking.k8s.io/v1, kind: NetworkPolicy, metadata: {name: bad, namespace: prod}, spec: {podSelector: {}, ingress: [{ports: [{port: 80, endPort: 70}]}]}}\n",
			wantPolicies: []string{"KubernetesNetworkPolicy prod/ok"},
			wantErrs:     []string{"test.yaml:5 items[1]: NetworkPolicy prod/bad: spec.ingress[0].ports[0].endPort: Invalid value: 70: must be greater than or equal to `port`"},
		},
		"one problem per line, each at its field's line, selectors worded as the API server words them": {
			input: knp("lines", "  podSelector: {matchExpressions: [{key: app, operator: Is}]}\n  ingress:\n  - ports: [{port: 80, endPort: 70}]\n"),
			wantErrs: []string{`test.yaml:5: NetworkPolicy prod/lines: spec.podSelector.matchExpressions[0].operator: Unsupported value: "Is": supported values: "In", "NotIn", "Exists", "DoesNotExist"` + "\n" +
				"test.yaml:7: NetworkPolicy prod/lines: spec.ingress[0].ports[0].endPort: Invalid value: 70: must be greater than or equal to `port`"},
		},
		"every problem of one object at once": {
			input: knp("many", "  podSelector: {matchExpressions: [{key: app, operator: Is}]}\n  ingress:\n  - from: [{}, {ipBlock: {cidr: 10.0.0.0/8}, podSelector: {}}]\n    ports: [{protocol: ICMP}]\n"),
			wantErrs: []string{`matchExpressions[0].operator: Unsupported value: "Is"` + "|" +
				"spec.ingress[0].from[0]: Required value: must specify a peer|" +
				"spec.ingress[0].from[1]: Forbidden: may not specify both ipBlock and another peer|" +
				`spec.ingress[0].ports[0].protocol: Unsupported value: "ICMP"`},
		},
		"ports need a protocol that has them in Calico rules": {
			input:    np("p", "  selector: all()\n  ingress: [{action: Allow, destination: {ports: [80]}}]\n"),
			wantErrs: []string{"spec.ingress[0].destination.ports: Forbidden: ports need protocol TCP, UDP or SCTP"},
		},
		"a Tier's default action must be Deny or Pass": {
			input:    tier("t", "  defaultAction: Allow\n"),
			wantErrs: []string{`Tier t: spec.defaultAction: Unsupported value: "Allow"`},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			c := NewCluster()
			err := c.LoadReader(strings.NewReader(tc.input), "test.yaml")
			var errs Errors
			if err != nil && !errors.As(err, &errs) {
				t.Fatalf("error %v is not Errors", err)
			}
			if len(errs) != len(tc.wantErrs) {
				t.Fatalf("errors = %v, want %d", err, len(tc.wantErrs))
			}
			for i, want := range tc.wantErrs {
				for _, w := range strings.Split(want, "|") {
					if !strings.Contains(errs[i].Error(), w) {
						t.Errorf("error %d = %q, want it to contain %q", i, errs[i].Error(), w)
					}
				}
			}
			var pols []string
			for _, p := range c.Policies() {
				pols = append(pols, strings.Replace(p.Ref.String(), "/", " ", 1))
			}
			if !slices.Equal(pols, tc.wantPolicies) {
				t.Errorf("policies = %v, want %v", pols, tc.wantPolicies)
			}
			var wls []string
			for _, w := range c.Workloads() {
				wls = append(wls, w.String())
			}
			if !slices.Equal(wls, tc.wantWorkloads) {
				t.Errorf("workloads = %v, want %v", wls, tc.wantWorkloads)
			}
		})
	}
}

// ownedPod is a pod in prod controlled by an owner, with labels in YAML flow form.
func ownedPod(name, ownerKind, owner, labels string) string {
	return "apiVersion: v1\nkind: Pod\nmetadata:\n  name: " + name + "\n  namespace: prod\n  labels: {" + labels + "}\n" +
		"  ownerReferences: [{apiVersion: apps/v1, kind: " + ownerKind + ", name: " + owner + ", uid: u-" + owner + ", controller: true}]\n" +
		"spec: {containers: [{name: c, image: i}]}\n---\n"
}

// TestLoadFolders: folders are walked in order, hidden folders and other files skipped.
func TestLoadFolders(t *testing.T) {
	dir := t.TempDir()
	write := func(rel, body string) {
		p := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("a.yaml", knp("a", "  podSelector: {}\n"))
	write("sub/b.yml", np("b", "  selector: all()\n"))
	write("sub/c.json", `{"apiVersion": "projectcalico.org/v3", "kind": "Tier", "metadata": {"name": "t"}, "spec": {"order": 5}}`)
	write(".git/d.yaml", knp("hidden", "  podSelector: {}\n"))
	write("README.md", "not a manifest")
	c, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(c.Policies()); n != 2 {
		t.Errorf("%d policies, want 2", n)
	}
	if tiers := c.Tiers(); len(tiers) != 2 || tiers[0].Name != "t" {
		t.Errorf("tiers = %+v, want t then default", tiers)
	}
	if _, err := Load(filepath.Join(dir, "missing")); err == nil || !strings.Contains(err.Error(), "missing: no such file") {
		t.Errorf("a missing path: %v", err)
	}
}

// TestDefaulting: objects come out as the API server would store them.
func TestDefaulting(t *testing.T) {
	c := mustCluster(t,
		knp("k", "  podSelector: {}\n  egress: [{ports: [{port: 53}]}]\n"),
		np("c", "  selector: all()\n  egress: [{action: Allow}]\n"),
		tier("t", ""),
		"apiVersion: v1\nkind: Service\nmetadata: {name: s, namespace: prod}\nspec: {selector: {app: x}, ports: [{port: 80}]}\n")
	k := c.Policy(PolicyRef{KindKubernetesNetworkPolicy, "prod", "k"}).Object.(*networkingv1.NetworkPolicy)
	if !slices.Equal(k.Spec.PolicyTypes, []networkingv1.PolicyType{"Ingress", "Egress"}) || *k.Spec.Egress[0].Ports[0].Protocol != corev1.ProtocolTCP {
		t.Errorf("Kubernetes policy not defaulted: %+v", k.Spec)
	}
	cp := c.Policy(PolicyRef{KindNetworkPolicy, "prod", "c"}).Object.(*calicov3.NetworkPolicy)
	if cp.Spec.Tier != "default" || !slices.Equal(cp.Spec.Types, []calicov3.PolicyType{"Egress"}) {
		t.Errorf("Calico policy not defaulted: %+v", cp.Spec)
	}
	if tt := c.tiers.m["t"]; tt.DefaultAction != ActionDeny || tt.HasOrder {
		t.Errorf("tier t = %+v, want Deny without order", tt)
	}
	if s := c.services.m[nsName{"prod", "s"}]; s.Spec.Ports[0].Protocol != corev1.ProtocolTCP || s.Spec.Ports[0].TargetPort.IntVal != 80 {
		t.Errorf("service not defaulted: %+v", s.Spec.Ports)
	}
}
