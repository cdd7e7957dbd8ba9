package picture

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/flowguard/flowguard/audit"
	"github.com/flowguard/flowguard/audit/render"
	"github.com/flowguard/flowguard/flows"
	"github.com/flowguard/flowguard/netpol"
)

// shop: web may reach api on 8080; api is also open to batch on 9090 (never used); db admits
// nothing (a default deny in "data"), yet a flow from api to db was seen before the deny landed.
const shop = `
apiVersion: v1
kind: Namespace
metadata: {name: shop}
---
apiVersion: v1
kind: Namespace
metadata: {name: data}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: c, image: i}]}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: api, namespace: shop}
spec:
  selector: {matchLabels: {app: api}}
  template:
    metadata: {labels: {app: api}}
    spec: {containers: [{name: c, image: i, ports: [{containerPort: 8080}, {containerPort: 9090}]}]}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: db, namespace: data}
spec:
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec: {containers: [{name: c, image: i, ports: [{containerPort: 5432}]}]}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: api, namespace: shop}
spec:
  podSelector: {matchLabels: {app: api}}
  ingress:
  - from: [{podSelector: {matchLabels: {app: web}}}]
    ports: [{port: 8080}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: default-deny, namespace: data}
spec: {podSelector: {}, policyTypes: [Ingress]}
`

var end = time.Date(2025, 10, 1, 12, 0, 0, 0, time.UTC)

func wl(ns, aggr, app string) flows.Endpoint {
	return flows.Endpoint{Type: flows.TypeWorkload, Namespace: ns, Name: aggr, Labels: flows.Labels{{Key: "app", Value: app}}}
}

func record(src, dst flows.Endpoint, port uint16, action flows.Action) flows.Record {
	return flows.Record{Src: src, Dst: dst, DstPort: port, Proto: flows.ProtoTCP, Action: action, Reporter: flows.ReporterDst,
		Flows: 3, FlowsStarted: 3, FlowsEnded: 3, Start: end.Add(-time.Hour), End: end.Add(-time.Hour + time.Minute)}
}

func TestBuild(t *testing.T) {
	cluster := netpol.NewCluster()
	if err := cluster.LoadReader(strings.NewReader(shop), "shop"); err != nil {
		t.Fatal(err)
	}
	g, err := flows.NewGraph(flows.GraphOptions{Retention: -1, MaxEdges: -1})
	if err != nil {
		t.Fatal(err)
	}
	pub := flows.Endpoint{Type: flows.TypeNetwork, Name: "pub"}
	g.AddBatch([]flows.Record{
		record(wl("shop", "web-5d8f9c7b6-*", "web"), wl("shop", "api-7c9d8b5f4-*", "api"), 8080, flows.ActionAllow),
		record(wl("shop", "api-7c9d8b5f4-*", "api"), wl("data", "db-6b7c8d9f5-*", "db"), 5432, flows.ActionAllow),
		record(pub, wl("shop", "api-7c9d8b5f4-*", "api"), 8080, flows.ActionDeny),
		record(wl("shop", "retired-*", "retired"), wl("shop", "web-5d8f9c7b6-*", "web"), 80, flows.ActionAllow),
	})
	window := &audit.Window{Start: end.Add(-24 * time.Hour), End: end}
	tests := map[string]struct {
		namespaces []string
		want       *render.Picture
	}{
		"every namespace": {
			want: &render.Picture{
				Namespaces: []render.PictureNamespace{
					{Name: "data", Workloads: []string{"db"}},
					{Name: "shop", Workloads: []string{"api", "retired", "web"}},
				},
				External: []string{"pub"},
				Edges: []render.Edge{
					{From: "pub", To: "shop/api", Ports: []string{"TCP/8080"}, Denied: true},
					// Seen, but the default deny in data now refuses it.
					{From: "shop/api", To: "data/db", Ports: []string{"TCP/5432"}, Observed: true},
					// A workload no manifest describes any more still shows, under its flow name.
					{From: "shop/retired", To: "shop/web", Ports: []string{"TCP/80"}, Observed: true, Allowed: true},
					// Allowed on its declared port 9090? No: the api policy admits web on 8080 only.
					{From: "shop/web", To: "shop/api", Ports: []string{"TCP/8080"}, Observed: true, Allowed: true},
					// web has no policy: api may reach it, on no declared port, so nothing is drawn.
				},
			},
		},
		"only the namespaces in scope, and peers outside the cluster": {
			namespaces: []string{"data"},
			want: &render.Picture{
				Namespaces: []render.PictureNamespace{{Name: "data", Workloads: []string{"db"}}},
			},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got := Build(cluster, g, window, tc.namespaces)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("picture mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestBuildAllowedButUnobserved(t *testing.T) {
	cluster := netpol.NewCluster()
	if err := cluster.LoadReader(strings.NewReader(shop), "shop"); err != nil {
		t.Fatal(err)
	}
	got := Build(cluster, nil, nil, []string{"shop"})
	want := []render.Edge{{From: "shop/web", To: "shop/api", Ports: []string{"TCP/8080"}, Allowed: true}}
	if diff := cmp.Diff(want, got.Edges); diff != "" {
		t.Errorf("edges mismatch (-want +got):\n%s", diff)
	}
}

func TestWorkloadOf(t *testing.T) {
	workloads := []string{"api", "api-gateway", "db"}
	tests := map[string]struct{ aggr, want string }{
		"a Deployment's pods":                      {"api-7c9d8b5f4-*", "api"},
		"the longest workload name wins":           {"api-gateway-5f6d7c8b9-*", "api-gateway"},
		"a StatefulSet's pods":                     {"db-*", "db"},
		"an exact name":                            {"db", "db"},
		"an unknown workload keeps its flow name":  {"cache-*", "cache"},
		"a prefix that is not a whole name misses": {"dbx-*", "dbx"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := workloadOf(tc.aggr, workloads); got != tc.want {
				t.Errorf("workloadOf(%q) = %q, want %q", tc.aggr, got, tc.want)
			}
		})
	}
}

// TestBuildSaysWhenUnobservedIsNotLookedFor: past the probe's bound the picture draws no
// allowed-only edge, and says why, so that the page's toggle does not read "0 edges" as
// "none exist".
func TestBuildSaysWhenUnobservedIsNotLookedFor(t *testing.T) {
	var b strings.Builder
	b.WriteString("apiVersion: v1\nkind: Namespace\nmetadata: {name: big}\n")
	for i := range maxProbedWorkloads + 1 {
		fmt.Fprintf(&b, "---\napiVersion: v1\nkind: Pod\nmetadata: {name: p%d, namespace: big, labels: {app: p%d}}\nspec: {containers: [{name: c, image: i, ports: [{containerPort: 80}]}]}\n", i, i)
	}
	cluster := netpol.NewCluster()
	if err := cluster.LoadReader(strings.NewReader(b.String()), "big"); err != nil {
		t.Fatal(err)
	}
	got := Build(cluster, nil, nil, nil)
	if len(got.Edges) != 0 || got.UnusedNotComputed != "the pairs of 121 workloads are too many to probe (the limit is 120)" {
		t.Errorf("%d edges, UnusedNotComputed %q", len(got.Edges), got.UnusedNotComputed)
	}
}
