package render

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strings"
)

// Picture is what the html page draws: namespaces with their workloads, peers outside the
// cluster's namespaces (networks, global sets, hosts), and the traffic between them, each edge
// marked as allowed by policy, observed, or both.
type Picture struct {
	Namespaces []PictureNamespace
	// External are peers outside namespaces ("pub", "pvt", a GlobalNetworkSet's name); an edge
	// names them as they are written here.
	External []string
	Edges    []Edge
}

// PictureNamespace is one namespace and its workloads.
type PictureNamespace struct {
	Name      string
	Workloads []string
}

// Edge is traffic from one node to another: a workload ("namespace/name") or an External name.
type Edge struct {
	From, To string
	// Ports are the ports seen or allowed, e.g. "TCP/8080"; empty for every port.
	Ports []string
	// Allowed: the policies allow this traffic. Observed: flows of it were seen and allowed.
	// Denied: flows of it were seen and denied.
	Allowed, Observed, Denied bool
}

// Class names the kind of an edge for the legend: observed and allowed ("used"), allowed but
// never seen ("unused"), seen but the policies would now deny it ("breaking"), denied ("denied").
func (e Edge) Class() string {
	switch {
	case e.Denied:
		return "denied"
	case e.Observed && !e.Allowed:
		return "breaking"
	case e.Observed:
		return "used"
	}
	return "unused"
}

// Bounds of the drawing; beyond them the page says what it left out.
const (
	picMaxNodes   = 120
	picSlot       = 16.0  // arc length per node on the ring, in SVG units
	picMinRadius  = 150.0 // of the ring of nodes
	picLabelSpace = 130.0 // room outside the ring for labels
)

// svgPicture is a laid-out Picture, in SVG user units: a chord diagram. Nodes sit on a ring,
// grouped by namespace (an arc inside the ring names each group), and edges are curves through
// the inside of the ring, so that no edge passes behind a node.
type svgPicture struct {
	Width, Height int
	Groups        []svgGroup
	Nodes         []svgNode
	Edges         []svgEdge
	Omitted       string
}

type svgGroup struct {
	// D is the arc's path; the label sits at LX, LY with the given text anchor.
	D, Label, Anchor string
	LX, LY           int
	Class            string
}

type svgNode struct {
	X, Y         int
	Label, Title string
	// The label is drawn at X, Y rotated by Rotate degrees, anchored at Anchor, offset by DX.
	Rotate int
	Anchor string
	DX     int
	Class  string
}

type svgEdge struct {
	D, Class, Title string
}

type ringNode struct {
	id, label, group string
	external         bool
}

// layout places every node on a ring, namespaces one after another with a gap between them
// (external peers first), and routes each edge as a quadratic curve pulled towards the centre.
func layout(p *Picture) *svgPicture {
	if p == nil || (len(p.Namespaces) == 0 && len(p.External) == 0) {
		return nil
	}
	var nodes []ringNode
	var omitted []string
	for _, name := range slices.Sorted(slices.Values(p.External)) {
		nodes = append(nodes, ringNode{id: name, label: name, group: "outside", external: true})
	}
	nss := slices.Clone(p.Namespaces)
	slices.SortFunc(nss, func(a, b PictureNamespace) int { return cmp.Compare(a.Name, b.Name) })
	left := 0
	for _, ns := range nss {
		wls := slices.Sorted(slices.Values(ns.Workloads))
		if len(nodes)+len(wls) > picMaxNodes {
			left++
			continue
		}
		for _, wl := range wls {
			nodes = append(nodes, ringNode{id: ns.Name + "/" + wl, label: wl, group: ns.Name})
		}
	}
	if left > 0 {
		omitted = append(omitted, fmt.Sprintf("%d namespaces", left))
	}
	// One empty slot between groups keeps them apart on the ring.
	slots := len(nodes)
	for i := 1; i < len(nodes); i++ {
		if nodes[i].group != nodes[i-1].group {
			slots++
		}
	}
	slots++ // and between the last group and the first
	radius := math.Max(picMinRadius, float64(slots)*picSlot/(2*math.Pi))
	c := radius + picLabelSpace
	out := &svgPicture{Width: int(2 * c), Height: int(2 * c)}
	pos := map[string][2]float64{}
	slot := 0
	groupStart := 0
	flushGroup := func(end int) {
		if end <= groupStart {
			return
		}
		g := nodes[groupStart]
		a0, a1 := angle(slot-(end-groupStart), slots), angle(slot-1, slots)
		r := radius - 14
		d := fmt.Sprintf("M%d %d A%d %d 0 %d 1 %d %d", xy(c, r, a0-0.15)[0], xy(c, r, a0-0.15)[1], int(r), int(r),
			largeArc(a1-a0+0.3), xy(c, r, a1+0.15)[0], xy(c, r, a1+0.15)[1])
		if end-groupStart == 1 {
			d = fmt.Sprintf("M%d %d A%d %d 0 0 1 %d %d", xy(c, r, a0-0.12)[0], xy(c, r, a0-0.12)[1], int(r), int(r),
				xy(c, r, a0+0.12)[0], xy(c, r, a0+0.12)[1])
		}
		mid := (a0 + a1) / 2
		lp := xy(c, radius-30, mid)
		anchor := "middle"
		if math.Cos(mid) > 0.3 {
			anchor = "end"
		} else if math.Cos(mid) < -0.3 {
			anchor = "start"
		}
		class := "nsarc"
		if g.external {
			class = "extarc"
		}
		out.Groups = append(out.Groups, svgGroup{D: d, Label: g.group, Anchor: anchor, LX: lp[0], LY: lp[1] + 4, Class: class})
	}
	for i, n := range nodes {
		if i > 0 && n.group != nodes[i-1].group {
			flushGroup(i)
			groupStart = i
			slot++
		}
		a := angle(slot, slots)
		pt := xy(c, radius, a)
		pos[n.id] = [2]float64{c + radius*math.Cos(a), c + radius*math.Sin(a)}
		deg := int(math.Round(a * 180 / math.Pi))
		node := svgNode{X: pt[0], Y: pt[1], Label: shorten(n.label, 22), Title: n.id, Rotate: deg, Anchor: "start", DX: 10, Class: "wl"}
		if math.Cos(a) < 0 { // on the left half, flip the label so it reads left to right
			node.Rotate, node.Anchor, node.DX = deg-180, "end", -10
		}
		if n.external {
			node.Class = "ext"
		}
		out.Nodes = append(out.Nodes, node)
		slot++
	}
	flushGroup(len(nodes))

	edges := slices.Clone(p.Edges)
	slices.SortFunc(edges, func(a, b Edge) int { return cmp.Or(cmp.Compare(a.From, b.From), cmp.Compare(a.To, b.To)) })
	hidden, loops := 0, 0
	for _, e := range edges {
		from, ok1 := pos[e.From]
		to, ok2 := pos[e.To]
		switch {
		case !ok1 || !ok2:
			hidden++
			continue
		case e.From == e.To:
			loops++
			continue
		}
		ports := "all ports"
		if len(e.Ports) > 0 {
			ports = strings.Join(e.Ports, ", ")
		}
		// The control point lies between the chord's midpoint and the centre, so curves bow
		// inwards; the end stops short of the node so the arrowhead stays visible.
		mx, my := (from[0]+to[0])/2, (from[1]+to[1])/2
		qx, qy := c+(mx-c)*0.25, c+(my-c)*0.25
		tx, ty := shortenTowards(to, [2]float64{qx, qy}, 7)
		out.Edges = append(out.Edges, svgEdge{
			D:     fmt.Sprintf("M%.0f %.0f Q%.0f %.0f %.0f %.0f", from[0], from[1], qx, qy, tx, ty),
			Class: e.Class(), Title: fmt.Sprintf("%s -> %s %s (%s)", e.From, e.To, ports, e.Class())})
	}
	if hidden > 0 {
		omitted = append(omitted, fmt.Sprintf("%d edges to peers not drawn", hidden))
	}
	if loops > 0 {
		omitted = append(omitted, fmt.Sprintf("%d edges within one workload", loops))
	}
	if len(omitted) > 0 {
		out.Omitted = "Not drawn, to keep the picture readable: " + strings.Join(omitted, ", ") + "."
	}
	return out
}

// angle of a slot on the ring, starting at the top and going clockwise.
func angle(slot, slots int) float64 { return -math.Pi/2 + 2*math.Pi*float64(slot)/float64(slots) }

func xy(c, r, a float64) [2]int {
	return [2]int{int(math.Round(c + r*math.Cos(a))), int(math.Round(c + r*math.Sin(a)))}
}

func largeArc(span float64) int {
	if span > math.Pi {
		return 1
	}
	return 0
}

// shortenTowards moves p by d units towards q.
func shortenTowards(p, q [2]float64, d float64) (float64, float64) {
	dx, dy := q[0]-p[0], q[1]-p[1]
	l := math.Hypot(dx, dy)
	if l < d {
		return p[0], p[1]
	}
	return p[0] + dx/l*d, p[1] + dy/l*d
}

func shorten(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-1] + "…"
}
