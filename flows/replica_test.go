package flows

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestReplaceShard(t *testing.T) {
	source := shopGraph(t)
	all := source.Edges(Query{WithBuckets: true})
	SortEdges(all)
	want := func(edges ...Edge) []edgeLine { return lines(append([]Edge(nil), edges...)) }
	type step struct {
		name  string
		apply func(g *Graph)
		want  []edgeLine
	}
	steps := []step{
		{"a shard's edges appear with their counts", func(g *Graph) { g.ReplaceShard("shop/a", all[:3]) }, want(all[:3]...)},
		{"the same version again changes nothing", func(g *Graph) { g.ReplaceShard("shop/a", all[:3]) }, want(all[:3]...)},
		{"a second shard adds its edges", func(g *Graph) { g.ReplaceShard("data/b", all[3:]) }, want(all...)},
		{"an edge left out of a shard's new version goes", func(g *Graph) { g.ReplaceShard("shop/a", all[:2]) }, want(append(all[:2:2], all[3:]...)...)},
		{"an edge that moved to another shard stays when its old shard drops it", func(g *Graph) {
			g.ReplaceShard("data/b", append(all[3:5:5], all[0]))
			g.ReplaceShard("shop/a", all[1:2])
		}, want(append(all[0:2:2], all[3:5]...)...)},
		{"a deleted shard's edges go", func(g *Graph) { g.DropShard("data/b") }, want(all[1])},
	}
	g, _ := newTestGraph(t, t0.Add(3*time.Hour), GraphOptions{})
	for _, s := range steps {
		s.apply(g)
		got := lines(g.Edges(Query{WithBuckets: true}))
		if diff := cmp.Diff(s.want, got); diff != "" {
			t.Fatalf("%s (-want +got):\n%s", s.name, diff)
		}
	}
	if st := g.Stats(); st.Identities != 2 || st.Buckets != 1 {
		t.Errorf("after dropping: %+v, want the 2 identities and 1 bucket of the one edge left", st)
	}
	if diff := cmp.Diff([]string{"shop/a"}, g.Shards()); diff != "" {
		t.Errorf("shards (-want +got):\n%s", diff)
	}
}
