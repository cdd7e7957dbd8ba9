package render

import (
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestLayout pins what the browser test relies on at any size: every label ends left of the
// node column and every edge starts right of it, one row per workload; and what a reader needs
// first: denied and would-break traffic listed first, drawn last (on top).
func TestLayout(t *testing.T) {
	pic := layout(shopPicture())
	var kinds []string
	for _, r := range pic.Rows {
		kinds = append(kinds, r.Class+" "+r.From+" -> "+r.To+" "+r.Ports)
	}
	want := []string{
		"denied shop/frontend -> payments/ledger TCP/5432",
		"breaking shop/api -> payments/ledger TCP/5432",
		"used pub -> shop/frontend TCP/443",
		"used shop/frontend -> shop/api TCP/8080",
		"unused quiet/batch -> shop/api all ports",
	}
	if diff := cmp.Diff(want, kinds); diff != "" {
		t.Errorf("table rows (-want +got):\n%s", diff)
	}
	if last := pic.Edges[len(pic.Edges)-1]; last.Class != "denied" {
		t.Errorf("the last edge drawn is %s, want the denied one on top", last.Class)
	}
	if pic.Unused != 1 || !strings.Contains(pic.Omitted, "1 edges to peers not drawn") {
		t.Errorf("unused %d, omitted %q", pic.Unused, pic.Omitted)
	}

	// 20 namespaces of 10 workloads, each workload talking to the next namespace's.
	big := &Picture{}
	for k := range 20 {
		ns := PictureNamespace{Name: fmt.Sprintf("team-%02d", k)}
		for i := range 10 {
			ns.Workloads = append(ns.Workloads, fmt.Sprintf("a-rather-long-service-name-%02d", i))
			big.Edges = append(big.Edges, Edge{From: fmt.Sprintf("team-%02d/a-rather-long-service-name-%02d", k, i),
				To: fmt.Sprintf("team-%02d/a-rather-long-service-name-%02d", (k+1)%20, i), Observed: true, Allowed: true})
		}
		big.Namespaces = append(big.Namespaces, ns)
	}
	pic = layout(big)
	if len(pic.Nodes) != 200 || len(pic.Edges) != 200 || len(pic.Bands) != 20 || pic.Omitted != "" {
		t.Fatalf("%d nodes, %d edges, %d namespaces, omitted %q; want 200, 200, 20 and nothing", len(pic.Nodes), len(pic.Edges), len(pic.Bands), pic.Omitted)
	}
	rows := map[int]string{}
	col := pic.Nodes[0].X
	for _, n := range pic.Nodes {
		if n.X != col || n.LX >= col-5 {
			t.Errorf("node %s at x %d, label ending at %d; want every node at %d, its label left of it", n.Title, n.X, n.LX, col)
		}
		if float64(n.LX)-float64(len([]rune(n.Label)))*picCharWidth < 0 {
			t.Errorf("label %q does not fit left of the column at %d", n.Label, n.LX)
		}
		if other, ok := rows[n.Y]; ok {
			t.Errorf("%s and %s share the row at y %d", n.Title, other, n.Y)
		}
		rows[n.Y] = n.Title
	}
	for _, b := range pic.Bands {
		if other, ok := rows[b.LY-4]; ok {
			t.Errorf("namespace %s shares its title row with %s", b.Label, other)
		}
	}
	for _, e := range pic.Edges {
		var x, y int
		if _, err := fmt.Sscanf(e.D, "M%d %d", &x, &y); err != nil || x <= col {
			t.Errorf("edge %s starts at x %d (%v); want right of the column at %d", e.Title, x, err, col)
		}
	}
}
