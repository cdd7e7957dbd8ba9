package flows

import (
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// shopGraph is a small cluster: the shop's frontend calls its api and DNS, the api calls a
// database in another namespace, the internet reaches the frontend, and a denied probe hits
// the database. The database call happens an hour later than the rest.
func shopGraph(t *testing.T) *Graph {
	g, _ := newTestGraph(t, t0.Add(3*time.Hour), GraphOptions{})
	frontend := workload("shop", "frontend-*", "app=frontend", "tier=web")
	api := workload("shop", "api-*", "app=api", "tier=backend")
	db := workload("data", "postgres-*", "app=postgres", "tier=backend")
	dns := workload("kube-system", "coredns-*", "k8s-app=kube-dns")
	g.AddBatch([]Record{
		record(from(frontend), to(api)),
		record(from(frontend), to(dns), onPort(53), func(r *Record) { r.Proto = ProtoUDP }),
		record(from(api), to(db), onPort(5432), endingAt(t0.Add(80*time.Minute))),
		record(from(network("pub", "")), to(frontend), onPort(443)),
		record(from(frontend), to(db), onPort(5432), denied),
	})
	return g
}

func TestGraphQueries(t *testing.T) {
	const (
		feAPI  = "shop/frontend-* -> shop/api-* tcp/8080 allow dst"
		feDNS  = "shop/frontend-* -> kube-system/coredns-* udp/53 allow dst"
		apiDB  = "shop/api-* -> data/postgres-* tcp/5432 allow dst"
		pubFE  = "net:pub -> shop/frontend-* tcp/443 allow dst"
		feDBx  = "shop/frontend-* -> data/postgres-* tcp/5432 deny dst"
		hour06 = "06"
	)
	backend := LabelFunc(func(l Labels) bool { v, _ := l.Get("tier"); return v == "backend" })
	tests := map[string]struct {
		q    Query
		want []string
	}{
		"everything": {q: Query{}, want: []string{feDNS, feDBx, feAPI, apiDB, pubFE}},
		"by namespace: traffic in or out of data": {
			q: Query{Either: EndpointFilter{Namespace: "data"}}, want: []string{feDBx, apiDB},
		},
		"by namespace: traffic within shop appears once": {
			q: Query{Either: EndpointFilter{Namespace: "shop"}}, want: []string{feDNS, feDBx, feAPI, apiDB, pubFE},
		},
		"by workload: the frontend's traffic both ways": {
			q: Query{Either: EndpointFilter{Namespace: "shop", Name: "frontend-*"}}, want: []string{feDNS, feDBx, feAPI, pubFE},
		},
		"by label predicate: traffic reaching backends": {
			q: Query{Dst: EndpointFilter{Labels: backend}}, want: []string{feDBx, feAPI, apiDB},
		},
		"by label predicate on both ends: backend to backend": {
			q: Query{Src: EndpointFilter{Labels: backend}, Dst: EndpointFilter{Labels: backend}}, want: []string{apiDB},
		},
		"by type: from outside the cluster": {
			q: Query{Src: EndpointFilter{Type: TypeNetwork}}, want: []string{pubFE},
		},
		"by time window: the first hour only": {
			q: Query{From: t0, To: t0.Add(time.Hour)}, want: []string{feDNS, feDBx, feAPI, pubFE},
		},
		"by time window: a window inside the second hour widens to the whole bucket": {
			q: Query{From: t0.Add(75 * time.Minute), To: t0.Add(76 * time.Minute)}, want: []string{apiDB},
		},
		"denied traffic only":         {q: Query{Action: ActionDeny}, want: []string{feDBx}},
		"one port":                    {q: Query{DstPort: 5432}, want: []string{feDBx, apiDB}},
		"a namespace with no traffic": {q: Query{Either: EndpointFilter{Namespace: "empty"}}, want: nil},
	}
	g := shopGraph(t)
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			var got []string
			for _, l := range lines(g.Edges(tc.q)) {
				got = append(got, l.Edge)
			}
			slices.Sort(got)
			slices.Sort(tc.want)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("edges (-want +got):\n%s", diff)
			}
		})
	}
}

func TestGraphIdentities(t *testing.T) {
	g := shopGraph(t)
	var names []string
	for _, id := range g.Identities(EndpointFilter{Labels: LabelFunc(func(l Labels) bool { _, ok := l.Get("tier"); return ok })}) {
		names = append(names, id.Endpoint.String())
	}
	want := []string{"shop/frontend-*", "shop/api-*", "data/postgres-*"}
	if diff := cmp.Diff(want, names); diff != "" {
		t.Errorf("identities with a tier label, in ID order (-want +got):\n%s", diff)
	}
}

func TestGraphRangeStopsEarly(t *testing.T) {
	n := 0
	shopGraph(t).Range(Query{}, func(*Edge) bool { n++; return n < 2 })
	if n != 2 {
		t.Errorf("Range visited %d edges after fn returned false at 2", n)
	}
}

// TestGraphConcurrentReadersAndWriter is meant for -race: readers query while one writer adds
// batches, and at the end every record is accounted for.
func TestGraphConcurrentReadersAndWriter(t *testing.T) {
	g, _ := newTestGraph(t, t0.Add(3*time.Hour), GraphOptions{})
	const batches, perBatch = 50, 40
	done := make(chan struct{})
	var readers sync.WaitGroup
	for i := 0; i < 4; i++ {
		readers.Add(1)
		go func() {
			defer readers.Done()
			for {
				select {
				case <-done:
					return
				default:
				}
				var flows uint64
				for _, e := range g.Edges(Query{Either: EndpointFilter{Namespace: "shop"}, WithBuckets: true}) {
					flows += e.Flows
				}
				if flows%perBatch != 0 {
					t.Errorf("a reader saw %d flows, part of a batch", flows)
					return
				}
				_ = g.Stats()
				_ = g.Identities(EndpointFilter{Labels: LabelFunc(func(Labels) bool { return true })})
			}
		}()
	}
	app := g.NewAppender(perBatch)
	for b := 0; b < batches; b++ {
		for i := 0; i < perBatch; i++ {
			r := record(onPort(uint16(1 + i%7)))
			if err := app.Add(&r); err != nil {
				t.Fatal(err)
			}
		}
	}
	app.Flush()
	close(done)
	readers.Wait()
	var flows uint64
	for _, e := range g.Edges(Query{}) {
		flows += e.Flows
	}
	if flows != batches*perBatch || app.Kept() != batches*perBatch {
		t.Errorf("flows = %d, kept = %d, want %d", flows, app.Kept(), batches*perBatch)
	}
}
