package flows

import (
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	clocktesting "k8s.io/utils/clock/testing"
)

// edgeLine is an edge as a reader checks it.
type edgeLine struct {
	Edge                  string
	Flows, Bytes, Packets uint64
	First, Last           string
	Buckets               int
}

func lines(edges []Edge) []edgeLine {
	SortEdges(edges)
	out := make([]edgeLine, 0, len(edges))
	for _, e := range edges {
		out = append(out, edgeLine{
			Edge:  fmt.Sprintf("%s -> %s %s/%d %s %s", e.Src.String(), e.Dst.String(), e.Proto, e.DstPort, e.Action, e.Reporter),
			Flows: e.Flows, Bytes: e.Bytes, Packets: e.Packets,
			First: e.FirstSeen.UTC().Format("15:04"), Last: e.LastSeen.UTC().Format("15:04"), Buckets: len(e.Buckets),
		})
	}
	return out
}

func newTestGraph(t *testing.T, now time.Time, opts GraphOptions) (*Graph, *clocktesting.FakeClock) {
	t.Helper()
	clk := clocktesting.NewFakeClock(now)
	opts.Clock = clk
	g, err := NewGraph(opts)
	if err != nil {
		t.Fatal(err)
	}
	return g, clk
}

func TestGraphAggregation(t *testing.T) {
	api := "shop/frontend-* -> shop/api-* tcp/8080 allow dst"
	tests := map[string]struct {
		opts    GraphOptions
		records []Record
		want    []edgeLine
	}{
		"records of one edge in one hour share a bucket": {
			records: []Record{record(), record(endingAt(t0.Add(40*time.Minute)), counting(2, 50, 1))},
			want:    []edgeLine{{Edge: api, Flows: 3, Bytes: 150, Packets: 3, First: "06:05", Last: "06:40", Buckets: 1}},
		},
		"records an hour apart fill two buckets": {
			records: []Record{record(), record(endingAt(t0.Add(70 * time.Minute)))},
			want:    []edgeLine{{Edge: api, Flows: 2, Bytes: 200, Packets: 4, First: "06:05", Last: "07:10", Buckets: 2}},
		},
		"a narrower bucket width splits an hour": {
			opts:    GraphOptions{BucketWidth: 15 * time.Minute},
			records: []Record{record(), record(endingAt(t0.Add(40 * time.Minute)))},
			want:    []edgeLine{{Edge: api, Flows: 2, Bytes: 200, Packets: 4, First: "06:05", Last: "06:40", Buckets: 2}},
		},
		"records arriving out of order land in the right bucket": {
			records: []Record{record(endingAt(t0.Add(130 * time.Minute))), record(), record(endingAt(t0.Add(70 * time.Minute)))},
			want:    []edgeLine{{Edge: api, Flows: 3, Bytes: 300, Packets: 6, First: "06:05", Last: "08:10", Buckets: 3}},
		},
		"port, action and reporter each make a separate edge": {
			records: []Record{record(), record(onPort(9090)), record(denied), record(reportedBy(ReporterSrc))},
			want: []edgeLine{
				{Edge: "shop/frontend-* -> shop/api-* tcp/8080 allow src", Flows: 1, Bytes: 100, Packets: 2, First: "06:05", Last: "06:10", Buckets: 1},
				{Edge: api, Flows: 1, Bytes: 100, Packets: 2, First: "06:05", Last: "06:10", Buckets: 1},
				{Edge: "shop/frontend-* -> shop/api-* tcp/8080 deny dst", Flows: 1, Bytes: 100, Packets: 2, First: "06:05", Last: "06:10", Buckets: 1},
				{Edge: "shop/frontend-* -> shop/api-* tcp/9090 allow dst", Flows: 1, Bytes: 100, Packets: 2, First: "06:05", Last: "06:10", Buckets: 1},
			},
		},
		"a workload's pods are one identity however many IPs they had": {
			records: []Record{
				record(func(r *Record) { r.Src.IP = netip4("10.0.0.1") }),
				record(func(r *Record) { r.Src.IP = netip4("10.0.0.2") }),
			},
			want: []edgeLine{{Edge: api, Flows: 2, Bytes: 200, Packets: 4, First: "06:05", Last: "06:10", Buckets: 1}},
		},
		"networks keep their IPs apart, so CIDRs can be matched": {
			records: []Record{record(from(network("pub", "1.2.3.4"))), record(from(network("pub", "5.6.7.8"))), record(from(network("pub", "")))},
			want: []edgeLine{
				{Edge: "net:1.2.3.4 -> shop/api-* tcp/8080 allow dst", Flows: 1, Bytes: 100, Packets: 2, First: "06:05", Last: "06:10", Buckets: 1},
				{Edge: "net:5.6.7.8 -> shop/api-* tcp/8080 allow dst", Flows: 1, Bytes: 100, Packets: 2, First: "06:05", Last: "06:10", Buckets: 1},
				{Edge: "net:pub -> shop/api-* tcp/8080 allow dst", Flows: 1, Bytes: 100, Packets: 2, First: "06:05", Last: "06:10", Buckets: 1},
			},
		},
		"a different label set is a different identity": {
			records: []Record{record(), record(from(workload("shop", "frontend-*", "app=frontend", "version=v2")))},
			want: []edgeLine{
				{Edge: api, Flows: 1, Bytes: 100, Packets: 2, First: "06:05", Last: "06:10", Buckets: 1},
				{Edge: api, Flows: 1, Bytes: 100, Packets: 2, First: "06:05", Last: "06:10", Buckets: 1},
			},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			g, _ := newTestGraph(t, t0.Add(3*time.Hour), tc.opts)
			if n := g.AddBatch(tc.records); n != len(tc.records) {
				t.Fatalf("AddBatch kept %d of %d", n, len(tc.records))
			}
			if diff := cmp.Diff(tc.want, lines(g.Edges(Query{WithBuckets: true}))); diff != "" {
				t.Errorf("edges (-want +got):\n%s", diff)
			}
		})
	}
}

func netip4(s string) netip.Addr { return netip.MustParseAddr(s) }

func TestGraphRetention(t *testing.T) {
	g, clk := newTestGraph(t, t0.Add(time.Hour), GraphOptions{})
	old := record(from(workload("shop", "old-*")))
	g.AddBatch([]Record{old, record(endingAt(t0.Add(50 * time.Minute)))})

	clk.SetTime(t0.Add(7*24*time.Hour + 30*time.Minute))
	if got := len(g.Edges(Query{})); got != 2 {
		t.Fatalf("within 7 days of its bucket: %d edges, want 2", got)
	}
	clk.SetTime(t0.Add(7*24*time.Hour + 61*time.Minute))
	if got := len(g.Edges(Query{})); got != 0 {
		t.Errorf("a week after the bucket ended, queries see %d edges, want 0 even before pruning", got)
	}
	if g.Add(&old) {
		t.Error("a record older than retention was kept")
	}
	fresh := record(endingAt(clk.Now()))
	g.Add(&fresh) // the first write in a new bucket prunes
	st := g.Stats()
	if st.Edges != 1 || st.Identities != 2 || st.Buckets != 1 || st.Expired != 1 {
		t.Errorf("after pruning: %+v, want 1 edge with 1 bucket, 2 identities (frontend, api), 1 expired", st)
	}
	if ids := g.Identities(EndpointFilter{Name: "old-*"}); len(ids) != 0 {
		t.Errorf("identity of a pruned edge survives: %+v", ids)
	}
}

func TestGraphKeepsForeverWhenRetentionIsNegative(t *testing.T) {
	g, _ := newTestGraph(t, t0.Add(365*24*time.Hour), GraphOptions{Retention: -1})
	r := record()
	if !g.Add(&r) || len(g.Edges(Query{})) != 1 {
		t.Error("a year-old record was not kept with retention disabled")
	}
}

func TestGraphEdgeCap(t *testing.T) {
	g, _ := newTestGraph(t, t0.Add(time.Hour), GraphOptions{MaxEdges: 2})
	kept := g.AddBatch([]Record{record(), record(onPort(1)), record(onPort(2)), record()})
	st := g.Stats()
	if kept != 3 || st.Edges != 2 || st.Dropped != 1 {
		t.Errorf("kept %d, stats %+v; want 3 kept (a third edge refused, an existing one still counted)", kept, st)
	}
}

func TestGraphPolicyTraces(t *testing.T) {
	g, _ := newTestGraph(t, t0.Add(2*time.Hour), GraphOptions{})
	allow := "0|default|np:shop/allow-frontend|allow|0"
	g.AddBatch([]Record{
		record(enforcing(allow)),
		record(onPort(9090), enforcing(allow)),
		record(endingAt(t0.Add(50*time.Minute)), enforcing("0|default|np:shop/allow-all|allow|0")),
		record(endingAt(t0.Add(20*time.Minute)), enforcing(allow)), // older than the last: ignored
	})
	edges := g.Edges(Query{})
	SortEdges(edges)
	if got := edges[0].Enforced[0].Name; got != "allow-all" {
		t.Errorf("trace of port 8080 names %q, want the latest record's allow-all", got)
	}
	if &edges[1].Enforced[0] == &edges[0].Enforced[0] {
		t.Error("different traces share storage")
	}
	other := g.Edges(Query{DstPort: 9090})
	again := g.Edges(Query{DstPort: 9090})
	if &other[0].Enforced[0] != &again[0].Enforced[0] {
		t.Error("the graph does not hand out its one copy of a trace")
	}
}
