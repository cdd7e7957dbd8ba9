package render

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strings"
	"unicode/utf8"
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
	// UnusedNotComputed says why edges allowed but never observed are missing, when the
	// builder did not look for them (the page says so beside the toggle that would show them).
	UnusedNotComputed string
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

// kindOrder ranks edge classes for drawing and listing: traffic that is denied or would break
// comes first in the table and is drawn last, on top of the rest.
var kindOrder = map[string]int{"denied": 0, "breaking": 1, "used": 2, "unused": 3}

// kindText is how the table and the legend name each class.
var kindText = map[string]string{
	"denied":   "observed and denied",
	"breaking": "observed, now denied by policy",
	"used":     "allowed and observed",
	"unused":   "allowed, never observed",
}

// Bounds and measures of the drawing, in SVG user units (pixels at 100%).
const (
	picMaxNodes  = 400
	picRow       = 18.0 // one row per namespace name and per workload
	picCharWidth = 7.0  // a generous width of one character of a 12px label
	picMaxLabel  = 32   // characters; longer names are cut, the full name is the hover text
	picMinBulge  = 18.0 // how far right the shortest edge reaches
	picMaxBulge  = 420.0
)

// svgPicture is a laid-out Picture: an arc diagram. Every workload has a row of its own under
// its namespace's name, with its label right-aligned left of a column of nodes; edges are arcs
// drawn right of the column, from one row to another, so that no edge ever crosses a label
// and no two labels share a row. Rows lists every edge with its ports, for reading without
// hovering.
type svgPicture struct {
	Width, Height int
	Bands         []svgBand
	Nodes         []svgNode
	Edges         []svgEdge
	Rows          []trafficRow
	Unused        int
	// UnusedNotComputed is Picture.UnusedNotComputed.
	UnusedNotComputed string
	Omitted           string
}

// svgBand is one group's rows (a namespace, or the peers outside the cluster) and its name.
type svgBand struct {
	Y, H, W      int
	LX, LY       int
	Label, Class string
}

type svgNode struct {
	X, Y         int
	LX           int
	Label, Title string
	Class        string
}

type svgEdge struct {
	D, Class, Title string
}

// trafficRow is one edge as the table beside the picture lists it.
type trafficRow struct {
	From, To, Ports, Class, Kind string
}

type rowNode struct {
	id, label, group string
	external         bool
}

// layout gives each namespace a title row and each of its workloads a row (peers outside the
// cluster first), and draws each edge as a cubic arc right of the node column whose reach
// grows with the rows it spans; arcs going up reach a little less far than arcs going down,
// so both directions of a pair stay apart.
func layout(p *Picture) *svgPicture {
	if p == nil || (len(p.Namespaces) == 0 && len(p.External) == 0) {
		return nil
	}
	var nodes []rowNode
	var omitted []string
	for _, name := range slices.Sorted(slices.Values(p.External)) {
		nodes = append(nodes, rowNode{id: name, label: name, group: "outside the cluster", external: true})
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
			nodes = append(nodes, rowNode{id: ns.Name + "/" + wl, label: wl, group: ns.Name})
		}
	}
	if left > 0 {
		omitted = append(omitted, fmt.Sprintf("%d namespaces", left))
	}
	widest := 0
	for _, n := range nodes {
		widest = max(widest, utf8.RuneCountInString(shorten(n.label, picMaxLabel)), utf8.RuneCountInString(shorten(n.group, picMaxLabel))+2)
	}
	colX := 16 + float64(widest)*picCharWidth + 14
	out := &svgPicture{UnusedNotComputed: p.UnusedNotComputed}
	pos := map[string]float64{}
	y := 4.0
	for i, n := range nodes {
		if i == 0 || n.group != nodes[i-1].group {
			class := "ns"
			if n.external {
				class = "outside"
			}
			rows := 1
			for j := i; j < len(nodes) && nodes[j].group == n.group; j++ {
				rows++
			}
			out.Bands = append(out.Bands, svgBand{Y: int(y), H: int(float64(rows) * picRow), W: int(colX + 10),
				LX: int(colX - 12), LY: int(y + picRow/2 + 4), Label: shorten(n.group, picMaxLabel), Class: class})
			y += picRow
		}
		cy := y + picRow/2
		pos[n.id] = cy
		node := svgNode{X: int(colX), Y: int(cy), LX: int(colX - 10), Label: shorten(n.label, picMaxLabel), Title: n.id, Class: "wl"}
		if n.external {
			node.Class = "ext"
		}
		out.Nodes = append(out.Nodes, node)
		y += picRow
		if i == len(nodes)-1 || nodes[i+1].group != n.group {
			y += 6 // a gap between groups
		}
	}
	out.Height = int(y + 4)

	edges := slices.Clone(p.Edges)
	slices.SortFunc(edges, func(a, b Edge) int {
		// Drawn in reverse of kindOrder, so denied and breaking traffic lie on top.
		return cmp.Or(cmp.Compare(kindOrder[b.Class()], kindOrder[a.Class()]), cmp.Compare(a.From, b.From), cmp.Compare(a.To, b.To))
	})
	hidden, loops := 0, 0
	reach := 0.0
	for _, e := range edges {
		y1, ok1 := pos[e.From]
		y2, ok2 := pos[e.To]
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
		bulge := math.Min(picMaxBulge, picMinBulge+0.45*math.Abs(y2-y1))
		if y2 < y1 {
			bulge = 0.75*bulge + 4
		}
		reach = math.Max(reach, bulge)
		class := e.Class()
		if class == "unused" {
			out.Unused++
		}
		// The arc leaves the node's right side and comes back to stop short of the target, so
		// the arrowhead is seen.
		out.Edges = append(out.Edges, svgEdge{
			D:     fmt.Sprintf("M%.0f %.0f C%.0f %.0f %.0f %.0f %.0f %.0f", colX+5, y1, colX+bulge, y1, colX+bulge, y2, colX+7, y2),
			Class: class, Title: fmt.Sprintf("%s -> %s %s (%s)", e.From, e.To, ports, kindText[class])})
		out.Rows = append(out.Rows, trafficRow{From: e.From, To: e.To, Ports: ports, Class: class, Kind: kindText[class]})
	}
	slices.SortStableFunc(out.Rows, func(a, b trafficRow) int { return cmp.Compare(kindOrder[a.Class], kindOrder[b.Class]) })
	out.Width = int(colX + reach + 24)
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

func shorten(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n-1]) + "…"
}
