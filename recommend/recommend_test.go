package recommend

import (
	"context"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/yaml"

	"github.com/flowguard/flowguard/flows"
)

// Endpoints of the shop fixture as Calico's flow logs name them at aggregation level 2.
var (
	frontend = wep("shop", "frontend-7d9f8b6c5-*", "app=frontend", "pod-template-hash=7d9f8b6c5")
	api      = wep("shop", "api-5f6b7c8d9-*", "app=api", "tier=backend", "pod-template-hash=5f6b7c8d9")
	db       = wep("shop", "db-6c8d9f7b5-*", "app=db", "tier=backend", "pod-template-hash=6c8d9f7b5")
	coredns  = wep("kube-system", "coredns-5d78c9869d-*", "k8s-app=kube-dns")
)

// specOf renders the spec of the named object of a recommendation as YAML.
func specOf(t *testing.T, r *Result, ns, name string) string {
	t.Helper()
	n := r.Namespace(ns)
	if n == nil {
		t.Fatalf("no recommendation for namespace %s", ns)
	}
	for _, obj := range n.Objects {
		if obj.GetName() != name {
			continue
		}
		m, err := cleanObject(obj)
		if err != nil {
			t.Fatal(err)
		}
		y, err := yaml.Marshal(m["spec"])
		if err != nil {
			t.Fatal(err)
		}
		return string(y)
	}
	var names []string
	for _, obj := range n.Objects {
		names = append(names, obj.GetName())
	}
	t.Fatalf("no object %s/%s; have %v", ns, name, names)
	return ""
}

func TestRecommendKubernetes(t *testing.T) {
	cases := map[string]struct {
		objs   []runtime.Object
		recs   []flows.Record
		policy string // in namespace shop
		want   string
	}{
		"a default deny for both directions in every namespace": {
			recs:   []flows.Record{flow(frontend, api, flows.ProtoTCP, 8080)},
			policy: DefaultDenyName,
			want: `
podSelector: {}
policyTypes:
- Ingress
- Egress
`,
		},
		"DNS egress to kube-system/kube-dns on UDP and TCP 53 for every pod": {
			recs:   []flows.Record{flow(api, coredns, flows.ProtoUDP, 53)},
			policy: AllowDNSName,
			want: `
egress:
- ports:
  - port: 53
    protocol: UDP
  - port: 53
    protocol: TCP
  to:
  - namespaceSelector:
      matchLabels:
        kubernetes.io/metadata.name: kube-system
    podSelector:
      matchLabels:
        k8s-app: kube-dns
podSelector: {}
policyTypes:
- Egress
`,
		},
		"observed DNS queries need no rule of their own": {
			recs: []flows.Record{
				flow(api, coredns, flows.ProtoUDP, 53), flow(api, coredns, flows.ProtoTCP, 53),
				flow(api, db, flows.ProtoTCP, 5432),
			},
			policy: "flowguard-api",
			want: `
egress:
- ports:
  - port: pg
    protocol: TCP
  to:
  - podSelector:
      matchLabels:
        app: db
podSelector:
  matchLabels:
    app: api
policyTypes:
- Egress
`,
		},
		"ingress by the port's name on the destination pod, a number where it has none": {
			recs: []flows.Record{
				flow(frontend, api, flows.ProtoTCP, 8080),
				flow(frontend, api, flows.ProtoTCP, 9090),
			},
			policy: "flowguard-api",
			want: `
ingress:
- from:
  - podSelector:
      matchLabels:
        app: frontend
  ports:
  - port: http
    protocol: TCP
  - port: 9090
    protocol: TCP
podSelector:
  matchLabels:
    app: api
policyTypes:
- Ingress
`,
		},
		"peers with the same ports share a rule, others get their own": {
			objs: []runtime.Object{deployment("shop", "admin", withLabels("app=admin"))},
			recs: []flows.Record{
				flow(frontend, api, flows.ProtoTCP, 8080),
				flow(wep("shop", "admin-1-*"), api, flows.ProtoTCP, 8080),
				flow(wep("shop", "admin-1-*"), api, flows.ProtoTCP, 9090),
				flow(db, api, flows.ProtoTCP, 8080),
			},
			policy: "flowguard-api",
			want: `
ingress:
- from:
  - podSelector:
      matchLabels:
        app: admin
  ports:
  - port: http
    protocol: TCP
  - port: 9090
    protocol: TCP
- from:
  - podSelector:
      matchLabels:
        app: db
  - podSelector:
      matchLabels:
        app: frontend
  ports:
  - port: http
    protocol: TCP
podSelector:
  matchLabels:
    app: api
policyTypes:
- Ingress
`,
		},
		"pods of other namespaces by kubernetes.io/metadata.name": {
			objs:   []runtime.Object{namespace("storefront"), deployment("storefront", "web", withLabels("app.kubernetes.io/name=web"))},
			recs:   []flows.Record{flow(wep("storefront", "web-55-*"), api, flows.ProtoTCP, 8080)},
			policy: "flowguard-api",
			want: `
ingress:
- from:
  - namespaceSelector:
      matchLabels:
        kubernetes.io/metadata.name: storefront
    podSelector:
      matchLabels:
        app.kubernetes.io/name: web
  ports:
  - port: http
    protocol: TCP
podSelector:
  matchLabels:
    app: api
policyTypes:
- Ingress
`,
		},
		"addresses outside the cluster as CIDRs: exact where the flow kept them, pub and pvt otherwise": {
			objs: []runtime.Object{networkSet("shop", "partners", map[string]string{"role": "partners"}, "203.0.113.0/24", "198.51.100.0/24")},
			recs: []flows.Record{
				flow(api, addr("52.1.2.3"), flows.ProtoTCP, 443, reportedBySrc),
				flow(api, pub(), flows.ProtoTCP, 443, reportedBySrc),
				flow(api, pvt(), flows.ProtoTCP, 443, reportedBySrc),
				flow(api, netSet("shop", "partners"), flows.ProtoTCP, 443, reportedBySrc),
			},
			policy: "flowguard-api",
			want: `
egress:
- ports:
  - port: 443
    protocol: TCP
  to:
  - ipBlock:
      cidr: 198.51.100.0/24
  - ipBlock:
      cidr: 203.0.113.0/24
  - ipBlock:
      cidr: 52.1.2.3/32
  - ipBlock:
      cidr: 10.0.0.0/8
  - ipBlock:
      cidr: 172.16.0.0/12
  - ipBlock:
      cidr: 192.168.0.0/16
  - ipBlock:
      cidr: 0.0.0.0/0
      except:
      - 10.0.0.0/8
      - 172.16.0.0/12
      - 192.168.0.0/16
podSelector:
  matchLabels:
    app: api
policyTypes:
- Egress
`,
		},
		"a connection denied since it was last allowed is not reopened": {
			recs: []flows.Record{
				flow(frontend, api, flows.ProtoTCP, 8080),
				flow(frontend, api, flows.ProtoTCP, 8080, denied, at(2*time.Hour)),
				flow(frontend, api, flows.ProtoTCP, 9090, denied),
				flow(frontend, api, flows.ProtoTCP, 9090, at(2*time.Hour)),
			},
			policy: "flowguard-api",
			want: `
ingress:
- from:
  - podSelector:
      matchLabels:
        app: frontend
  ports:
  - port: 9090
    protocol: TCP
podSelector:
  matchLabels:
    app: api
policyTypes:
- Ingress
`,
		},
		"a port aggregated away allows every port of its protocol": {
			recs:   []flows.Record{flow(frontend, api, flows.ProtoTCP, 0)},
			policy: "flowguard-api",
			want: `
ingress:
- from:
  - podSelector:
      matchLabels:
        app: frontend
  ports:
  - protocol: TCP
podSelector:
  matchLabels:
    app: api
policyTypes:
- Ingress
`,
		},
		"a workload named like a namespace-wide policy carries its kind": {
			objs:   []runtime.Object{deployment("shop", "allow-dns", withLabels("app=resolver"))},
			recs:   []flows.Record{flow(frontend, wep("shop", "allow-dns-7c-*"), flows.ProtoUDP, 5353)},
			policy: "flowguard-deployment-allow-dns",
			want: `
ingress:
- from:
  - podSelector:
      matchLabels:
        app: frontend
  ports:
  - port: 5353
    protocol: UDP
podSelector:
  matchLabels:
    app: resolver
policyTypes:
- Ingress
`,
		},
		"a workload whose labels are a subset of another's excludes it": {
			objs:   []runtime.Object{deployment("shop", "api-canary", withLabels("app=api", "tier=backend", "track=canary"))},
			recs:   []flows.Record{flow(frontend, api, flows.ProtoTCP, 8080)},
			policy: "flowguard-api",
			want: `
ingress:
- from:
  - podSelector:
      matchLabels:
        app: frontend
  ports:
  - port: http
    protocol: TCP
podSelector:
  matchExpressions:
  - key: track
    operator: DoesNotExist
  matchLabels:
    app: api
policyTypes:
- Ingress
`,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			c := newCluster(t, append(shop(), tc.objs...)...)
			r, err := Recommend(context.Background(), c, newGraph(t, tc.recs...), Options{})
			if err != nil {
				t.Fatal(err)
			}
			got := specOf(t, r, "shop", tc.policy)
			if want := strings.TrimPrefix(tc.want, "\n"); got != want {
				t.Errorf("spec of %s:\n%s\nwant:\n%s", tc.policy, got, want)
			}
		})
	}
}

// Applying the list in order must never cut observed traffic half way: every namespace's
// allows come before any default deny.
func TestObjectsApplyAllowsBeforeDefaultDenies(t *testing.T) {
	objs := append(shop(), namespace("storefront"), deployment("storefront", "web", withLabels("app=web")))
	web := wep("storefront", "web-*", "app=web")
	r, err := Recommend(context.Background(), newCluster(t, objs...), newGraph(t,
		flow(web, api, flows.ProtoTCP, 8080),
		flow(frontend, api, flows.ProtoTCP, 8080),
		flow(api, db, flows.ProtoTCP, 5432),
	), Options{})
	if err != nil {
		t.Fatalf("Recommend: %v", err)
	}
	var order []string
	for _, o := range r.Objects() {
		order = append(order, o.GetNamespace()+"/"+o.GetName())
	}
	// Ranks: 0 a single workload's policy, 1 the namespace-wide DNS allowance, 2 a default deny.
	rank := func(name string) int {
		switch {
		case strings.HasSuffix(name, "/"+DefaultDenyName):
			return 2
		case strings.HasSuffix(name, "/"+AllowDNSName):
			return 1
		}
		return 0
	}
	counts := [3]int{}
	for i, name := range order {
		counts[rank(name)]++
		if i > 0 && rank(order[i-1]) > rank(name) {
			t.Errorf("%s is applied after %s, which isolates more; order %v", name, order[i-1], order)
		}
	}
	if counts[1] != 2 || counts[2] != 2 {
		t.Errorf("want one DNS allowance and one default deny per namespace (2 each), order %v", order)
	}
}
