package app

import (
	"bufio"
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/flowguard/flowguard/netpol"
)

// dotNode is a node of the DOT map: a workload, in its namespace's cluster, or outside
// address space.
type dotNode struct {
	id, name, namespace string
	hostNetwork         bool
}

// dotEnd is one end of a drawn edge: a node, or a whole namespace (cluster set) drawn as an
// edge that stops at the namespace's box.
type dotEnd struct {
	node    string // the node's name; for a namespace, its first workload
	cluster string // the namespace, when the edge stands for every workload in it
}

type dotEdge struct {
	from, to dotEnd
	label    string
}

// dotAll is the label of an edge that allows every connection: short, since it is the
// commonest label and long labels run into each other.
const dotAll = "all"

// writeDot draws the connectivity map for graphviz, made to stay readable at tens of
// workloads: one box (cluster) per namespace; one edge per pair of ends, marked dir=both when
// traffic is allowed both ways; and edges folded into their namespace where they say the same
// of all of it: a namespace whose workloads all reach each other alike is labelled so instead
// of drawn as a mesh, a peer that reaches every workload of a namespace alike has one edge to
// the namespace's box, and a namespace all of whose workloads reach a peer alike has one edge
// from its box.
func writeDot(w *bufio.Writer, walk func(func(netpol.ConnectivityEdge) error) error) error {
	nodes := map[string]*dotNode{}
	var order []string
	node := func(p netpol.ConnectivityPeer) string {
		name := p.String()
		if _, ok := nodes[name]; !ok {
			n := &dotNode{id: fmt.Sprintf("n%d", len(nodes)), name: name, hostNetwork: p.HostNetwork}
			if p.Workload != nil {
				n.namespace = p.Workload.Namespace
			}
			nodes[name] = n
			order = append(order, name)
		}
		return name
	}
	labels := map[[2]string]string{}
	err := walk(func(e netpol.ConnectivityEdge) error {
		label := e.Conns.String()
		if e.Conns.IsAll() {
			label = dotAll
		}
		labels[[2]string{node(e.Src), node(e.Dst)}] = label
		return nil
	})
	if err != nil {
		return err
	}
	members := map[string][]string{}
	for _, name := range order {
		if ns := nodes[name].namespace; ns != "" {
			members[ns] = append(members[ns], name)
		}
	}
	for _, ns := range members {
		slices.Sort(ns)
	}
	meshes := foldMeshes(labels, members)
	edges := foldNamespaces(labels, nodes, members)

	fmt.Fprintln(w, "digraph {")
	// Left to right with clusters ranked together keeps namespaces as columns of boxes
	// rather than one long row; compound lets an edge stop at a namespace's box.
	fmt.Fprintln(w, "\tgraph [rankdir=LR, compound=true, newrank=true, nodesep=0.25, ranksep=1.2, fontname=Helvetica]")
	fmt.Fprintln(w, "\tnode [shape=box, style=rounded, fontname=Helvetica, fontsize=11]")
	fmt.Fprintln(w, "\tedge [fontname=Helvetica, fontsize=9, color=\"#555555\"]")
	for i, ns := range slices.Sorted(maps.Keys(members)) {
		label := ns
		if l, ok := meshes[ns]; ok {
			label += "\n(each workload to every other: " + l + ")"
		}
		fmt.Fprintf(w, "\tsubgraph %s {\n\t\tlabel=%q\n", clusterID(i), label)
		for _, name := range members[ns] {
			n := nodes[name]
			label := strings.TrimPrefix(name, ns+"/")
			if n.hostNetwork {
				fmt.Fprintf(w, "\t\t%s [label=%q, style=dashed]\n", n.id, label+"\n"+strings.TrimSpace(hostNetworkMark))
				continue
			}
			fmt.Fprintf(w, "\t\t%s [label=%q]\n", n.id, label)
		}
		fmt.Fprintln(w, "\t}")
	}
	for _, name := range order {
		if n := nodes[name]; n.namespace == "" {
			fmt.Fprintf(w, "\t%s [label=%q, shape=ellipse, style=dashed]\n", n.id, strings.ReplaceAll(name, ",", "\n"))
		}
	}
	clusters := map[string]string{}
	for i, ns := range slices.Sorted(maps.Keys(members)) {
		clusters[ns] = clusterID(i)
	}
	for _, e := range mergeDirections(edges) {
		attrs := []string{}
		if e.from.cluster != "" {
			attrs = append(attrs, "ltail="+clusters[e.from.cluster])
		}
		if e.to.cluster != "" {
			attrs = append(attrs, "lhead="+clusters[e.to.cluster])
		}
		attrs = append(attrs, e.attrs...)
		fmt.Fprintf(w, "\t%s -> %s [%s]\n", nodes[e.from.node].id, nodes[e.to.node].id, strings.Join(attrs, ", "))
	}
	_, err = fmt.Fprintln(w, "}")
	return err
}

func clusterID(i int) string { return fmt.Sprintf("cluster_%d", i) }

// foldMeshes removes, for each namespace of two or more workloads in which every workload
// reaches every other with the same connections, those edges from labels, and returns the
// label per such namespace.
func foldMeshes(labels map[[2]string]string, members map[string][]string) map[string]string {
	out := map[string]string{}
	for ns, names := range members {
		if len(names) < 2 {
			continue
		}
		mesh, ok := labels[[2]string{names[0], names[1]}]
		for _, a := range names {
			for _, b := range names {
				if ok && a != b && labels[[2]string{a, b}] != mesh {
					ok = false
				}
			}
		}
		if !ok {
			continue
		}
		for _, a := range names {
			for _, b := range names {
				delete(labels, [2]string{a, b})
			}
		}
		out[ns] = mesh
	}
	return out
}

// foldNamespaces turns labels into edges, folding first the edges from one peer to every
// workload of another namespace with the same label into one edge to that namespace, then
// the edges from every workload of a namespace to one end (node or namespace) with the same
// label into one edge from that namespace. Folding needs two or more workloads, and never
// folds an edge into the namespace its other end belongs to.
func foldNamespaces(labels map[[2]string]string, nodes map[string]*dotNode, members map[string][]string) []dotEdge {
	// Step one: peer -> namespace.
	type toNS struct{ from, ns, label string }
	hits := map[toNS]int{}
	for k, label := range labels {
		if ns := nodes[k[1]].namespace; ns != "" && ns != nodes[k[0]].namespace {
			hits[toNS{k[0], ns, label}]++
		}
	}
	var edges []dotEdge
	for k, label := range labels {
		ns := nodes[k[1]].namespace
		if n := len(members[ns]); n >= 2 && ns != nodes[k[0]].namespace && hits[toNS{k[0], ns, label}] == n {
			if k[1] == members[ns][0] {
				edges = append(edges, dotEdge{from: dotEnd{node: k[0]}, to: dotEnd{node: k[1], cluster: ns}, label: label})
			}
			continue
		}
		edges = append(edges, dotEdge{from: dotEnd{node: k[0]}, to: dotEnd{node: k[1]}, label: label})
	}
	// Step two: namespace -> end.
	type fromNS struct {
		ns    string
		to    dotEnd
		label string
	}
	count := map[fromNS]int{}
	for _, e := range edges {
		if ns := nodes[e.from.node].namespace; ns != "" && ns != nodes[e.to.node].namespace {
			count[fromNS{ns, e.to, e.label}]++
		}
	}
	var out []dotEdge
	for _, e := range edges {
		ns := nodes[e.from.node].namespace
		if n := len(members[ns]); n >= 2 && ns != nodes[e.to.node].namespace && count[fromNS{ns, e.to, e.label}] == n {
			if e.from.node == members[ns][0] {
				out = append(out, dotEdge{from: dotEnd{node: e.from.node, cluster: ns}, to: e.to, label: e.label})
			}
			continue
		}
		out = append(out, e)
	}
	return out
}

type drawnEdge struct {
	from, to dotEnd
	attrs    []string
}

// mergeDirections draws each pair of ends once: an edge both ways becomes one edge with
// arrows at both ends, labelled once when both ways allow the same, else with each way's
// connections at the end they lead to (headlabel for from -> to, taillabel for to -> from).
func mergeDirections(edges []dotEdge) []drawnEdge {
	key := func(e dotEdge) string {
		return e.from.node + "\x00" + e.from.cluster + "\x00" + e.to.node + "\x00" + e.to.cluster
	}
	byKey := map[string]dotEdge{}
	for _, e := range edges {
		byKey[key(e)] = e
	}
	slices.SortFunc(edges, func(a, b dotEdge) int { return cmp.Compare(key(a), key(b)) })
	var out []drawnEdge
	for _, e := range edges {
		back, ok := byKey[key(dotEdge{from: e.to, to: e.from})]
		switch {
		case !ok:
			out = append(out, drawnEdge{from: e.from, to: e.to, attrs: []string{fmt.Sprintf("label=%q", e.label)}})
		case key(e) > key(back):
			// drawn with its reverse
		case e.label == back.label:
			out = append(out, drawnEdge{from: e.from, to: e.to, attrs: []string{"dir=both", fmt.Sprintf("label=%q", e.label)}})
		default:
			out = append(out, drawnEdge{from: e.from, to: e.to, attrs: []string{"dir=both",
				fmt.Sprintf("headlabel=%q", e.label), fmt.Sprintf("taillabel=%q", back.label)}})
		}
	}
	return out
}
