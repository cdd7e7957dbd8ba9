package recommend

import (
	"context"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/runtime"

	"github.com/flowguard/flowguard/flows"
)

func TestRecommendCalicoStaged(t *testing.T) {
	// The DNS rules every namespace's policy starts its egress with.
	const dnsRules = `
egress:
- action: Allow
  destination:
    namespaceSelector: projectcalico.org/name == 'kube-system'
    ports:
    - 53
    selector: k8s-app == 'kube-dns'
  metadata:
    annotations:
      flowguard.dev/peer: cluster DNS
  protocol: UDP
- action: Allow
  destination:
    namespaceSelector: projectcalico.org/name == 'kube-system'
    ports:
    - 53
    selector: k8s-app == 'kube-dns'
  metadata:
    annotations:
      flowguard.dev/peer: cluster DNS
  protocol: TCP
`
	const head = `selector: projectcalico.org/namespace == 'shop'
stagedAction: Set
tier: namespace-isolation
types:
- Ingress
- Egress
`
	cases := map[string]struct {
		objs []runtime.Object
		recs []flows.Record
		opts Options
		want string // after the DNS rules, up to the selector
	}{
		"workload to workload: egress at the source, ingress at the destination, named port": {
			recs: []flows.Record{flow(frontend, api, flows.ProtoTCP, 8080)},
			want: `
- action: Allow
  destination:
    ports:
    - http
    selector: app == 'api'
  metadata:
    annotations:
      flowguard.dev/peer: shop/api[Deployment]
      flowguard.dev/workload: shop/frontend[Deployment]
  protocol: TCP
  source:
    selector: app == 'frontend'
ingress:
- action: Allow
  destination:
    ports:
    - http
    selector: app == 'api'
  metadata:
    annotations:
      flowguard.dev/peer: shop/frontend[Deployment]
      flowguard.dev/workload: shop/api[Deployment]
  protocol: TCP
  source:
    selector: app == 'frontend'
`,
		},
		"other namespaces by projectcalico.org/name": {
			objs: []runtime.Object{namespace("storefront"), deployment("storefront", "web", withLabels("app=web"))},
			recs: []flows.Record{flow(wep("storefront", "web-55-*"), api, flows.ProtoTCP, 9090)},
			want: `
ingress:
- action: Allow
  destination:
    ports:
    - 9090
    selector: app == 'api'
  metadata:
    annotations:
      flowguard.dev/peer: storefront/web[Deployment]
      flowguard.dev/workload: shop/api[Deployment]
  protocol: TCP
  source:
    namespaceSelector: projectcalico.org/name == 'storefront'
    selector: app == 'web'
`,
		},
		"network sets by their labels, global() for global ones, by nets when labels cannot single them out": {
			objs: []runtime.Object{
				networkSet("shop", "partners", map[string]string{"role": "partners"}, "203.0.113.0/24"),
				networkSet("", "saas", map[string]string{"kind": "saas"}, "198.51.100.0/24"),
				networkSet("shop", "legacy", nil, "192.0.2.0/24"),
			},
			recs: []flows.Record{
				flow(api, netSet("shop", "partners"), flows.ProtoTCP, 443, reportedBySrc),
				flow(api, netSet("", "saas"), flows.ProtoTCP, 443, reportedBySrc),
				flow(api, netSet("shop", "legacy"), flows.ProtoTCP, 443, reportedBySrc),
			},
			want: `
- action: Allow
  destination:
    namespaceSelector: global()
    ports:
    - 443
    selector: kind == 'saas'
  metadata:
    annotations:
      flowguard.dev/peer: globalnetworkset:saas
      flowguard.dev/workload: shop/api[Deployment]
  protocol: TCP
  source:
    selector: app == 'api'
- action: Allow
  destination:
    nets:
    - 192.0.2.0/24
    ports:
    - 443
  metadata:
    annotations:
      flowguard.dev/peer: networkset:shop/legacy
      flowguard.dev/workload: shop/api[Deployment]
  protocol: TCP
  source:
    selector: app == 'api'
- action: Allow
  destination:
    ports:
    - 443
    selector: role == 'partners'
  metadata:
    annotations:
      flowguard.dev/peer: networkset:shop/partners
      flowguard.dev/workload: shop/api[Deployment]
  protocol: TCP
  source:
    selector: app == 'api'
`,
		},
		"public and private networks by nets": {
			recs: []flows.Record{
				flow(api, pub(), flows.ProtoTCP, 443, reportedBySrc),
				flow(api, pvt(), flows.ProtoUDP, 514, reportedBySrc),
			},
			want: `
- action: Allow
  destination:
    nets:
    - 10.0.0.0/8
    - 172.16.0.0/12
    - 192.168.0.0/16
    ports:
    - 514
  metadata:
    annotations:
      flowguard.dev/peer: net:pvt
      flowguard.dev/workload: shop/api[Deployment]
  protocol: UDP
  source:
    selector: app == 'api'
- action: Allow
  destination:
    nets:
    - 0.0.0.0/0
    notNets:
    - 10.0.0.0/8
    - 172.16.0.0/12
    - 192.168.0.0/16
    ports:
    - 443
  metadata:
    annotations:
      flowguard.dev/peer: net:pub
      flowguard.dev/workload: shop/api[Deployment]
  protocol: TCP
  source:
    selector: app == 'api'
`,
		},
		"protocols without ports, such as ICMP, get a rule of their own": {
			recs: []flows.Record{flow(frontend, api, flows.ProtoICMP, 0)},
			want: `
- action: Allow
  destination:
    selector: app == 'api'
  metadata:
    annotations:
      flowguard.dev/peer: shop/api[Deployment]
      flowguard.dev/workload: shop/frontend[Deployment]
  protocol: ICMP
  source:
    selector: app == 'frontend'
ingress:
- action: Allow
  destination:
    selector: app == 'api'
  metadata:
    annotations:
      flowguard.dev/peer: shop/frontend[Deployment]
      flowguard.dev/workload: shop/api[Deployment]
  protocol: ICMP
  source:
    selector: app == 'frontend'
`,
		},
		"another tier": {
			opts: Options{Tier: "recommended"},
			recs: []flows.Record{flow(api, coredns, flows.ProtoUDP, 53)},
			want: "",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			c := newCluster(t, append(shop(), tc.objs...)...)
			opts := tc.opts
			opts.Style = StyleCalicoStaged
			r, err := Recommend(context.Background(), c, newGraph(t, tc.recs...), opts)
			if err != nil {
				t.Fatal(err)
			}
			tier := opts.withDefaults().Tier
			if len(r.ClusterObjects) != 1 || r.ClusterObjects[0].GetName() != tier {
				t.Fatalf("cluster objects %v, want the tier %s", r.ClusterObjects, tier)
			}
			got := specOf(t, r, "shop", CalicoPolicyName(tier, "shop"))
			want := strings.TrimPrefix(dnsRules, "\n") + strings.TrimPrefix(tc.want, "\n") +
				strings.Replace(head, "namespace-isolation", tier, 1)
			if got != want {
				t.Errorf("spec:\n%s\nwant:\n%s", got, want)
			}
		})
	}
}
