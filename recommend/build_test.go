package recommend

import (
	"bytes"
	"context"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/runtime"

	"github.com/flowguard/flowguard/flows"
)

func TestUnresolvedFlows(t *testing.T) {
	cases := map[string]struct {
		objs []runtime.Object
		recs []flows.Record
		opts Options
		want []Unresolved
	}{
		"a source no workload of the model matches is listed, and not allowed": {
			recs: []flows.Record{flow(wep("shop", "ghost-5c8d-*"), api, flows.ProtoTCP, 8080, func(r *flows.Record) { r.Flows = 7 })},
			want: []Unresolved{{
				Src: "shop/ghost-5c8d-*", Dst: "shop/api[Deployment]", Proto: "tcp", Port: 8080,
				SrcReason: ReasonNoWorkload, Detail: "source: no workload of the cluster model matches shop/ghost-5c8d-*",
				Flows: 7, LastSeen: t0.Add(5 * time.Minute),
			}},
		},
		"both sides unresolved: both reasons": {
			recs: []flows.Record{flow(wep("payments", "ledger-1-*"), hep("node-1"), flows.ProtoTCP, 10250, reportedBySrc)},
			want: []Unresolved{{
				Src: "payments/ledger-1-*", Dst: "host:node-1", Proto: "tcp", Port: 10250,
				SrcReason: ReasonUnknownNamespace, DstReason: ReasonHostEndpoint,
				Detail: "source: namespace payments is not in the cluster model; destination: host node-1",
				Flows:  1, LastSeen: t0.Add(5 * time.Minute),
			}},
		},
		"identities that differ only in labels fold into one line": {
			recs: []flows.Record{
				flow(wep("shop", "ghost-1-*", "v=1"), api, flows.ProtoTCP, 8080),
				flow(wep("shop", "ghost-1-*", "v=2"), api, flows.ProtoTCP, 8080, at(time.Hour)),
			},
			want: []Unresolved{{
				Src: "shop/ghost-1-*", Dst: "shop/api[Deployment]", Proto: "tcp", Port: 8080,
				SrcReason: ReasonNoWorkload, Detail: "source: no workload of the cluster model matches shop/ghost-1-*",
				Flows: 2, LastSeen: t0.Add(time.Hour + 5*time.Minute),
			}},
		},
		"DNS queries to DNS pods the model lacks are covered by the DNS rule": {
			objs: nil,
			recs: []flows.Record{flow(api, wep("kube-system", "kube-dns-7f-*", "k8s-app=kube-dns"), flows.ProtoUDP, 53, reportedBySrc)},
		},
		"flows between namespaces outside the recommendation are not listed": {
			recs: []flows.Record{flow(wep("kube-system", "metrics-1-*"), hep("node-1"), flows.ProtoTCP, 10250)},
		},
		"denied flows are not listed: nothing would allow them": {
			recs: []flows.Record{flow(wep("shop", "ghost-1-*"), api, flows.ProtoTCP, 8080, denied)},
		},
		"only the namespaces asked for": {
			opts: Options{Namespaces: []string{"shop"}},
			recs: []flows.Record{flow(wep("payments", "ledger-1-*"), pub(), flows.ProtoTCP, 443)},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			c := newCluster(t, append(shop(), tc.objs...)...)
			r, err := Recommend(context.Background(), c, newGraph(t, tc.recs...), tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(r.Unresolved, tc.want) {
				t.Errorf("unresolved:\n%+v\nwant:\n%+v", r.Unresolved, tc.want)
			}
			if r.Stats.Unresolved != len(tc.want) {
				t.Errorf("stats count %d unresolved, want %d", r.Stats.Unresolved, len(tc.want))
			}
		})
	}
}

func TestNotes(t *testing.T) {
	cases := map[string]struct {
		objs  []runtime.Object
		recs  []flows.Record
		style Style
		only  []string
		want  []Note
	}{
		"a namespace asked for that the model lacks": {
			only: []string{"shop", "paymnets"},
			want: []Note{{Kind: NoteUnknownNamespace, Namespace: "paymnets",
				Message: "namespace paymnets has neither a Namespace object nor a workload in the cluster model; nothing is recommended for it"}},
		},
		"ICMP cannot be allowed alone by a Kubernetes policy": {
			recs: []flows.Record{flow(frontend, api, flows.ProtoICMP, 0)},
			want: []Note{{Kind: NoteProtocolNotExpressible, Namespace: "shop",
				Message: "shop/frontend[Deployment] -> shop/api[Deployment] over icmp: a Kubernetes NetworkPolicy cannot allow icmp alone, so it stays denied"}},
		},
		"ICMP is a Calico rule like any other": {
			style: StyleCalicoStaged,
			recs:  []flows.Record{flow(frontend, api, flows.ProtoICMP, 0)},
		},
		"a port aggregated away widens the rule, and says so": {
			recs: []flows.Record{flow(frontend, api, flows.ProtoUDP, 0)},
			want: []Note{{Kind: NotePortWidened, Namespace: "shop",
				Message: "shop/frontend[Deployment] -> shop/api[Deployment]: the flow source aggregated the udp port away, so every udp port is allowed"}},
		},
		"workloads with identical stable labels share one policy": {
			objs: []runtime.Object{
				deployment("shop", "worker-a", withLabels("app=worker")),
				deployment("shop", "worker-b", withLabels("app=worker", "pod-template-hash=1")),
			},
			want: []Note{{Kind: NoteMergedWorkloads, Namespace: "shop",
				Message: "shop/worker-a[Deployment], shop/worker-b[Deployment] share the stable labels {app=worker}, so one policy selects them all"}},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			c := newCluster(t, append(shop(), tc.objs...)...)
			r, err := Recommend(context.Background(), c, newGraph(t, tc.recs...), Options{Style: tc.style, Namespaces: tc.only})
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(r.Notes, tc.want) {
				t.Errorf("notes:\n%+v\nwant:\n%+v", r.Notes, tc.want)
			}
		})
	}
}

// TestSameTrafficSameBytes: recommendations change only when traffic does. The same
// connections fed in any order, in one graph or another, give byte-identical output.
func TestSameTrafficSameBytes(t *testing.T) {
	objs := append(shop(),
		namespace("storefront"), deployment("storefront", "web", withLabels("app=web")),
		networkSet("shop", "partners", map[string]string{"role": "partners"}, "203.0.113.0/24"),
	)
	recs := []flows.Record{
		flow(frontend, api, flows.ProtoTCP, 8080),
		flow(api, db, flows.ProtoTCP, 5432, at(3*time.Hour)),
		flow(api, coredns, flows.ProtoUDP, 53),
		flow(wep("storefront", "web-1-*"), frontend, flows.ProtoTCP, 80),
		flow(api, addr("52.1.2.3"), flows.ProtoTCP, 443, reportedBySrc),
		flow(api, netSet("shop", "partners"), flows.ProtoTCP, 443, reportedBySrc),
		flow(pub(), frontend, flows.ProtoTCP, 443, at(26*time.Hour)),
		flow(wep("shop", "ghost-1-*"), api, flows.ProtoTCP, 8080),
	}
	for _, style := range Styles {
		t.Run(string(style), func(t *testing.T) {
			var first []byte
			rng := rand.New(rand.NewPCG(1, 2))
			for i := range 5 {
				shuffled := slices.Clone(recs)
				rng.Shuffle(len(shuffled), func(a, b int) { shuffled[a], shuffled[b] = shuffled[b], shuffled[a] })
				r, err := Recommend(context.Background(), newCluster(t, objs...), newGraph(t, shuffled...), Options{Style: style})
				if err != nil {
					t.Fatal(err)
				}
				var buf bytes.Buffer
				if err := WriteYAML(&buf, r.Objects(), nil); err != nil {
					t.Fatal(err)
				}
				if i == 0 {
					first = buf.Bytes()
					continue
				}
				if !bytes.Equal(buf.Bytes(), first) {
					t.Fatalf("run %d differs from run 0:\n%s\n---- run 0:\n%s", i, buf.Bytes(), first)
				}
			}
		})
	}
}
