package rego

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/flowguard/flowguard/flows"
)

// connKey identifies a connection of the traffic graph: both identities, port and protocol.
type connKey struct {
	src, dst flows.IdentityID
	port     uint16
	proto    flows.Protocol
}

// tally is traffic counted on one side of a connection.
type tally struct {
	flows       uint64
	first, last time.Time
}

func (t *tally) add(e *flows.Edge) {
	t.flows += e.Flows
	if t.first.IsZero() || e.FirstSeen.Before(t.first) {
		t.first = e.FirstSeen
	}
	if e.LastSeen.After(t.last) {
		t.last = e.LastSeen
	}
}

func (t tally) merge(o tally) tally {
	if o.flows == 0 {
		return t
	}
	if t.flows == 0 {
		return o
	}
	t.flows += o.flows
	if o.first.Before(t.first) {
		t.first = o.first
	}
	if o.last.After(t.last) {
		t.last = o.last
	}
	return t
}

// conn is the observed traffic of one connection in the window, per reporter and action. The
// same flows are usually reported by both sides; the destination's report is authoritative
// for what was allowed end to end (a flow it saw passed the source's egress), the source's is
// used where the destination reports nothing (addresses outside the cluster).
type conn struct {
	key                      connKey
	src, dst                 flows.Endpoint
	srcAllow, srcDeny        tally
	dstAllow, dstDeny        tally
	dstReported, srcReported bool
}

// allowed is the traffic that got through.
func (c *conn) allowed() tally {
	if c.dstReported {
		return c.dstAllow
	}
	return c.srcAllow
}

// deniedIngress and deniedEgress are flows denied at the destination and at the source.
func (c *conn) deniedIngress() tally { return c.dstDeny }
func (c *conn) deniedEgress() tally  { return c.srcDeny }

// connScratch is the memory connections reuses: gathering allocated a conn per connection and
// a map per call, the largest share of an admission decision's garbage. A decision takes one
// from shared.scratch and gives it back when it ends.
type connScratch struct {
	byKey map[connKey]int
	conns []conn
	out   []*conn
}

// connections gathers the edges a query selects into connections, in a stable order. The
// result lives in the decision's scratch: it is valid until the next call in the decision, so a
// builtin must be done with one result before it asks for the next. It stops with an error
// when the decision's context ends, looking at it every scanCheckEvery edges.
func (d *decision) connections(g *flows.Graph, q flows.Query) ([]*conn, error) {
	if d.scratch == nil {
		d.scratch, _ = d.shared.scratch.Get().(*connScratch)
		if d.scratch == nil {
			d.scratch = &connScratch{byKey: map[connKey]int{}}
		}
	}
	sc := d.scratch
	clear(sc.byKey)
	sc.conns = sc.conns[:0]
	visited := 0
	var stopped error
	g.Range(q, func(e *flows.Edge) bool {
		if visited%scanCheckEvery == 0 {
			if stopped = d.ctx.Err(); stopped != nil {
				return false
			}
		}
		visited++
		if e.Reporter != flows.ReporterSrc && e.Reporter != flows.ReporterDst {
			return true // forwarded traffic is reported by hosts in between, not by either end
		}
		k := connKey{src: e.SrcID, dst: e.DstID, port: e.DstPort, proto: e.Proto}
		i, ok := sc.byKey[k]
		if !ok {
			i = len(sc.conns)
			sc.conns = append(sc.conns, conn{key: k, src: e.Src, dst: e.Dst})
			sc.byKey[k] = i
		}
		c := &sc.conns[i]
		switch {
		case e.Reporter == flows.ReporterDst && e.Action == flows.ActionAllow:
			c.dstAllow.add(e)
			c.dstReported = true
		case e.Reporter == flows.ReporterDst:
			c.dstDeny.add(e)
			c.dstReported = true
		case e.Action == flows.ActionAllow:
			c.srcAllow.add(e)
			c.srcReported = true
		default:
			c.srcDeny.add(e)
			c.srcReported = true
		}
		return true
	})
	if stopped != nil {
		return nil, fmt.Errorf("read traffic graph: stopped after %d edges: %w", visited, stopped)
	}
	out := sc.out[:0]
	for i := range sc.conns {
		out = append(out, &sc.conns[i])
	}
	sc.out = out
	slices.SortFunc(out, func(a, b *conn) int {
		return cmp.Or(cmp.Compare(a.key.src, b.key.src), cmp.Compare(a.key.dst, b.key.dst),
			cmp.Compare(a.key.port, b.key.port), cmp.Compare(a.key.proto, b.key.proto))
	})
	return out, nil
}

// maxScratchConns bounds the scratch given back for reuse, so that one decision over a huge
// window does not pin its memory for every later one.
const maxScratchConns = 1 << 14

// release gives the decision's scratch back; nothing of the decision may be used after it.
func (d *decision) release() {
	sc := d.scratch
	if sc == nil {
		return
	}
	d.scratch = nil
	if cap(sc.conns) > maxScratchConns {
		return
	}
	clear(sc.conns) // drop the endpoints' label slices the graph may free
	clear(sc.out)
	clear(sc.byKey)
	d.shared.scratch.Put(sc)
}

// group is one connection's traffic as a rule sees it.
type group struct {
	c     *conn
	t     tally
	extra [][2]*ast.Term // more fields, e.g. verdicts
}

// sortGroups orders groups for messages: most flows first, then by name.
func sortGroups(gs []group) {
	slices.SortStableFunc(gs, func(a, b group) int {
		return cmp.Or(cmp.Compare(b.t.flows, a.t.flows), strings.Compare(flowText(a.c), flowText(b.c)))
	})
}

// groupsValue is the "groups" array: the first limit groups (all when limit <= 0).
func groupsValue(gs []group, limit int) *ast.Array {
	if limit > 0 && len(gs) > limit {
		gs = gs[:limit]
	}
	terms := make([]*ast.Term, len(gs))
	for i, g := range gs {
		terms[i] = ast.NewTerm(groupValue(g))
	}
	return ast.NewArray(terms...)
}

func groupValue(g group) ast.Object {
	c := g.c
	obj := ast.NewObject(
		ast.Item(ast.StringTerm("flow"), ast.StringTerm(flowText(c))),
		ast.Item(ast.StringTerm("source"), ast.NewTerm(endpointValue(&c.src))),
		ast.Item(ast.StringTerm("destination"), ast.NewTerm(endpointValue(&c.dst))),
		ast.Item(ast.StringTerm("port"), ast.IntNumberTerm(int(c.key.port))),
		ast.Item(ast.StringTerm("protocol"), ast.StringTerm(protoName(c.key.proto))),
		ast.Item(ast.StringTerm("count"), ast.UIntNumberTerm(g.t.flows)),
		ast.Item(ast.StringTerm("first_seen"), ast.StringTerm(timeText(g.t.first))),
		ast.Item(ast.StringTerm("last_seen"), ast.StringTerm(timeText(g.t.last))),
	)
	for _, kv := range g.extra {
		obj.Insert(kv[0], kv[1])
	}
	return obj
}

// flowText is "source -> destination:port/PROTO", as messages print a flow.
func flowText(c *conn) string {
	var b strings.Builder
	b.WriteString(endpointText(&c.src))
	b.WriteString(" -> ")
	b.WriteString(endpointText(&c.dst))
	if c.key.port != 0 {
		b.WriteByte(':')
		b.WriteString(strconv.Itoa(int(c.key.port)))
	}
	b.WriteByte('/')
	b.WriteString(protoName(c.key.proto))
	return b.String()
}

// endpointText names an endpoint: "ns/name" for workloads, the set or host name, "pub"/"pvt"
// or the address for networks.
func endpointText(e *flows.Endpoint) string {
	switch e.Type {
	case flows.TypeNetwork:
		if e.IP.IsValid() {
			return e.IP.String()
		}
		return e.Name
	case flows.TypeWorkload:
		return e.Namespace + "/" + e.Name
	}
	return e.String()
}

func endpointValue(e *flows.Endpoint) ast.Object {
	labels := ast.NewObject()
	for _, l := range e.Labels {
		labels.Insert(ast.StringTerm(l.Key), ast.StringTerm(l.Value))
	}
	obj := ast.NewObject(
		ast.Item(ast.StringTerm("type"), ast.StringTerm(e.Type.String())),
		ast.Item(ast.StringTerm("namespace"), ast.StringTerm(e.Namespace)),
		ast.Item(ast.StringTerm("name"), ast.StringTerm(e.Name)),
		ast.Item(ast.StringTerm("labels"), ast.NewTerm(labels)),
		ast.Item(ast.StringTerm("text"), ast.StringTerm(endpointText(e))),
	)
	if e.IP.IsValid() {
		obj.Insert(ast.StringTerm("ip"), ast.StringTerm(e.IP.String()))
	}
	return obj
}

func protoName(p flows.Protocol) string {
	if name, ok := p.PolicyName(); ok {
		return name
	}
	return strconv.Itoa(int(p))
}

func timeText(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// totals sums the groups' flows.
func totals(gs []group) uint64 {
	var n uint64
	for _, g := range gs {
		n += g.t.flows
	}
	return n
}
