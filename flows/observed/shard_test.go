package observed

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/flowguard/flowguard/api/v1alpha1"
	"github.com/flowguard/flowguard/flows"
)

var now = time.Date(2024, 6, 10, 12, 0, 0, 0, time.UTC)

func wl(ns, name string, labels ...string) flows.Endpoint {
	e := flows.Endpoint{Type: flows.TypeWorkload, Namespace: ns, Name: name}
	for _, kv := range labels {
		k, v, _ := strings.Cut(kv, "=")
		e.Labels = append(e.Labels, flows.Label{Key: k, Value: v})
	}
	return e
}

func rec(src, dst flows.Endpoint, port uint16, end time.Time) flows.Record {
	hit, _ := flows.ParsePolicyHit("0|default|np:" + dst.Namespace + "/allow|allow|0")
	return flows.Record{Src: src, Dst: dst, DstPort: port, Proto: flows.ProtoTCP, Action: flows.ActionAllow, Reporter: flows.ReporterDst,
		Flows: 2, Bytes: 300, Packets: 4, Start: end.Add(-5 * time.Minute), End: end, Enforced: []flows.PolicyHit{hit}}
}

// clusterGraph holds n workloads in three namespaces calling each other, an external network
// reaching a host, and one edge seen three days ago.
func clusterGraph(t testing.TB, n int) *flows.Graph {
	g, err := flows.NewGraph(flows.GraphOptions{Clock: clocktesting.NewFakeClock(now)})
	if err != nil {
		t.Fatal(err)
	}
	var recs []flows.Record
	for i := 0; i < n; i++ {
		src := wl([]string{"shop", "data", "web"}[i%3], fmt.Sprintf("app-%d-*", i), fmt.Sprintf("app=app-%d", i), "team=t")
		dst := wl([]string{"shop", "data", "web"}[(i+1)%3], fmt.Sprintf("app-%d-*", (i+1)%n), fmt.Sprintf("app=app-%d", (i+1)%n), "team=t")
		recs = append(recs, rec(src, dst, 8080, now.Add(-time.Duration(i%5)*time.Hour)))
	}
	hostEdge := rec(flows.Endpoint{Type: flows.TypeNetwork, Name: "pvt", IP: netip.MustParseAddr("10.0.0.9")},
		flows.Endpoint{Type: flows.TypeHost, Name: "worker-1"}, 22, now.Add(-30*time.Minute))
	old := rec(wl("shop", "batch-*"), wl("data", "db-*"), 5432, now.Add(-72*time.Hour+10*time.Minute))
	old2 := rec(wl("shop", "batch-*"), wl("data", "db-*"), 5432, now.Add(-70*time.Hour))
	g.AddBatch(append(recs, hostEdge, old, old2))
	return g
}

func allEdges(g *flows.Graph) []flows.Edge {
	e := g.Edges(flows.Query{WithBuckets: true})
	flows.SortEdges(e)
	for i := range e {
		e[i].SrcID, e[i].DstID = 0, 0
	}
	return e
}

var cmpAddr = cmp.Comparer(func(a, b netip.Addr) bool { return a == b })

func TestShardsRoundTrip(t *testing.T) {
	g := clusterGraph(t, 60)
	objs, err := BuildShards(g.Edges(flows.Query{WithBuckets: true}), time.Hour, now, ShardOptions{Namespace: "flowguard-system"})
	if err != nil {
		t.Fatal(err)
	}
	replica, _ := flows.NewGraph(flows.GraphOptions{Clock: clocktesting.NewFakeClock(now)})
	namespaces := map[string]bool{}
	for _, o := range objs {
		namespaces[o.Namespace] = true
		edges, err := Decode(o)
		if err != nil {
			t.Fatal(err)
		}
		replica.ReplaceShard(o.Namespace+"/"+o.Name, edges)
	}
	if diff := cmp.Diff(map[string]bool{"shop": true, "data": true, "web": true, "flowguard-system": true}, namespaces); diff != "" {
		t.Errorf("home namespaces (-want +got):\n%s", diff)
	}
	want, got := allEdges(g), allEdges(replica)
	// The edge last seen three days ago comes back with its two hourly buckets merged into one
	// daily bucket; every recent edge comes back exactly.
	for i := range want {
		if want[i].DstPort == 5432 {
			if len(want[i].Buckets) != 2 || len(got[i].Buckets) != 1 || got[i].Flows != want[i].Flows || got[i].Bytes != want[i].Bytes {
				t.Errorf("old edge: %d buckets -> %d, flows %d -> %d", len(want[i].Buckets), len(got[i].Buckets), want[i].Flows, got[i].Flows)
			}
			if got[i].Buckets[0].Start.Unix()%86400 != 0 {
				t.Errorf("old bucket starts at %v, want a UTC day", got[i].Buckets[0].Start)
			}
			want[i], got[i] = flows.Edge{}, flows.Edge{}
		}
	}
	if diff := cmp.Diff(want, got, cmpAddr); diff != "" {
		t.Errorf("replica differs (-leader +replica):\n%s", diff)
	}
}

func TestShardsRespectTheObjectBound(t *testing.T) {
	g := clusterGraph(t, 300)
	shardsIn := map[string]int{}
	tests := map[string]struct {
		maxBytes int
		check    func(t *testing.T, shopShards int)
	}{
		"the default bound holds a namespace in one object": {maxBytes: 0, check: func(t *testing.T, n int) {
			if n != 1 {
				t.Errorf("%d shards in shop, want 1", n)
			}
		}},
		"a 16 KiB bound cuts it into several": {maxBytes: 16 << 10, check: func(t *testing.T, n int) {
			if n < 2 {
				t.Errorf("%d shards in shop, want several", n)
			}
		}},
		"a 4 KiB bound into more still": {maxBytes: 4 << 10, check: func(t *testing.T, n int) {
			if n <= shardsIn["a 16 KiB bound cuts it into several"] {
				t.Errorf("%d shards in shop, want more than at 16 KiB", n)
			}
		}},
	}
	for _, name := range []string{"the default bound holds a namespace in one object", "a 16 KiB bound cuts it into several", "a 4 KiB bound into more still"} {
		tc := tests[name]
		t.Run(name, func(t *testing.T) {
			objs, err := BuildShards(g.Edges(flows.Query{WithBuckets: true}), time.Hour, now, ShardOptions{Namespace: "fg", MaxObjectBytes: tc.maxBytes})
			if err != nil {
				t.Fatal(err)
			}
			bound := tc.maxBytes
			if bound == 0 {
				bound = DefaultMaxObjectBytes
			}
			edges, cut := 0, map[string]string{}
			for _, o := range objs {
				b, _ := json.Marshal(o)
				if len(b) > bound {
					t.Errorf("%s/%s is %d bytes, over %d", o.Namespace, o.Name, len(b), bound)
				}
				edges += len(o.Edges)
				// Every shard of a namespace belongs to the same cut.
				of := o.Name[strings.LastIndex(o.Name, "-of-"):]
				if prev, ok := cut[o.Namespace]; ok && prev != of {
					t.Errorf("namespace %s mixes cuts %s and %s", o.Namespace, prev, of)
				}
				cut[o.Namespace] = of
				if o.Namespace == "shop" {
					shardsIn[name]++
				}
			}
			if edges != g.Stats().Edges {
				t.Errorf("objects hold %d edges, graph has %d", edges, g.Stats().Edges)
			}
			tc.check(t, shardsIn[name])
		})
	}
	_, err := BuildShards(g.Edges(flows.Query{WithBuckets: true}), time.Hour, now, ShardOptions{Namespace: "fg", MaxObjectBytes: 200})
	if err == nil || !strings.Contains(err.Error(), "over the 200-byte object bound") {
		t.Errorf("a bound smaller than one edge: %v", err)
	}
}

func TestDecodeRefusesDamage(t *testing.T) {
	good := func() *v1alpha1.ObservedTraffic {
		return &v1alpha1.ObservedTraffic{BucketSeconds: 3600,
			Endpoints: []v1alpha1.TrafficEndpoint{{Type: "wep", Namespace: "a", Name: "x-*"}},
			Edges:     []v1alpha1.TrafficEdge{{Source: 0, Destination: 0, Protocol: "tcp", Port: 80, Action: "allow", Reporter: "dst", Buckets: [][]int64{{3600, 1, 2, 3, 0, 60}}}}}
	}
	tests := map[string]struct {
		damage  func(*v1alpha1.ObservedTraffic)
		wantErr string
	}{
		"an endpoint index out of range":   {func(o *v1alpha1.ObservedTraffic) { o.Edges[0].Destination = 3 }, "edges[0].src/.dst"},
		"an unknown endpoint type":         {func(o *v1alpha1.ObservedTraffic) { o.Endpoints[0].Type = "pod" }, `endpoints[0].type "pod"`},
		"a short bucket":                   {func(o *v1alpha1.ObservedTraffic) { o.Edges[0].Buckets[0] = []int64{3600, 1} }, "edges[0].buckets[0]"},
		"a policy hit that does not parse": {func(o *v1alpha1.ObservedTraffic) { o.Edges[0].Enforced = []string{"x"} }, "edges[0].enforced[0]"},
	}
	if _, err := Decode(good()); err != nil {
		t.Fatalf("the undamaged object: %v", err)
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			o := good()
			tc.damage(o)
			if _, err := Decode(o); err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("Decode = %v, want an error naming %q", err, tc.wantErr)
			}
		})
	}
}
