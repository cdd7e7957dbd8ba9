package recommend

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/flowguard/flowguard/flows"
	"github.com/flowguard/flowguard/netpol"
)

// builder turns observed connections into per-group rules, then into objects.
type builder struct {
	opts       *Options
	inv        *inventory
	rules      map[*group]*groupRules
	unresolved []Unresolved
	// nsSelectors holds one namespaceSelector per namespace of the model, shared by every
	// rule naming it; filled before namespaces are rendered, read-only after.
	nsSelectors map[string]*metav1.LabelSelector

	// Namespaces are rendered concurrently; notes are the only state they share.
	mu    sync.Mutex
	notes map[Note]struct{}
}

// expressible reports whether the style can allow exactly this protocol.
func (b *builder) expressible(proto flows.Protocol) bool {
	return b.opts.Style != StyleKubernetes || proto.HasPorts()
}

func (b *builder) note(kind NoteKind, ns, format string, args ...any) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.notes == nil {
		b.notes = map[Note]struct{}{}
	}
	b.notes[Note{Kind: kind, Namespace: ns, Message: fmt.Sprintf(format, args...)}] = struct{}{}
}

// policed returns the group whose policy must allow its side of the connection, or nil.
func (b *builder) policed(r *resolved) *group {
	if r.ok() && r.peer.kind == peerWorkload && b.opts.inScope(r.peer.group.ns) {
		return r.peer.group
	}
	return nil
}

// connection adds one observed-allowed connection to the rules of the groups at either end
// that policies are recommended for.
func (b *builder) connection(c *conn) {
	k := c.key
	pk := portKey{proto: k.proto, port: k.port}
	dns := c.dst.dns && !b.opts.DNS.Disabled && k.port == 53 && (k.proto == flows.ProtoUDP || k.proto == flows.ProtoTCP)
	srcG, dstG := b.policed(c.src), b.policed(c.dst)
	if !c.src.ok() || !c.dst.ok() {
		if dns && srcG != nil && !b.opts.inScope(c.eps[1].Namespace) {
			return // the namespace's DNS rule allows it, wherever the DNS pods are
		}
		if srcG != nil || dstG != nil || b.unresolvedInScope(c.src, &c.eps[0]) || b.unresolvedInScope(c.dst, &c.eps[1]) {
			b.unresolved = append(b.unresolved, unresolvedOf(c))
		}
		return
	}
	if srcG == nil && dstG == nil {
		return
	}
	if !b.expressible(k.proto) {
		b.note(NoteProtocolNotExpressible, cmp.Or(groupNS(srcG), groupNS(dstG)),
			"%s -> %s over %s: a Kubernetes NetworkPolicy cannot allow %s alone, so it stays denied",
			c.src.peer, c.dst.peer, k.proto, k.proto)
		return
	}
	if k.proto.HasPorts() && k.port == 0 {
		b.note(NotePortWidened, cmp.Or(groupNS(srcG), groupNS(dstG)),
			"%s -> %s: the flow source aggregated the %s port away, so every %s port is allowed",
			c.src.peer, c.dst.peer, k.proto, k.proto)
	}
	if srcG != nil && !dns {
		b.rulesOf(srcG).add(b.rulesOf(srcG).egress, c.dst.peer, pk, c.allowFrom)
	}
	if dstG != nil {
		b.rulesOf(dstG).add(b.rulesOf(dstG).ingress, c.src.peer, pk, c.allowFrom)
	}
}

func groupNS(g *group) string {
	if g == nil {
		return ""
	}
	return g.ns
}

// unresolvedInScope reports whether an unresolved endpoint lies in a namespace policies
// would be recommended for, so that its loss matters.
func (b *builder) unresolvedInScope(r *resolved, ep *flows.Endpoint) bool {
	return !r.ok() && ep.Namespace != "" && b.opts.inScope(ep.Namespace)
}

func (b *builder) rulesOf(g *group) *groupRules {
	gr := b.rules[g]
	if gr == nil {
		gr = &groupRules{g: g, ingress: map[peer]*peerRule{}, egress: map[peer]*peerRule{}}
		b.rules[g] = gr
	}
	return gr
}

func unresolvedOf(c *conn) Unresolved {
	u := Unresolved{
		Src: side(c.src, &c.eps[0]), Dst: side(c.dst, &c.eps[1]),
		Proto: c.key.proto.String(), Port: c.key.port, Flows: c.flows, LastSeen: c.allowLast,
	}
	var details []string
	if !c.src.ok() {
		u.SrcReason = c.src.reason
		details = append(details, "source: "+c.src.detail)
	}
	if !c.dst.ok() {
		u.DstReason = c.dst.reason
		details = append(details, "destination: "+c.dst.detail)
	}
	u.Detail = strings.Join(details, "; ")
	return u
}

func side(r *resolved, ep *flows.Endpoint) string {
	if r.ok() {
		return r.peer.String()
	}
	return ep.String()
}

func (b *builder) sortedUnresolved() []Unresolved {
	slices.SortFunc(b.unresolved, func(x, y Unresolved) int {
		return cmp.Or(cmp.Compare(x.Src, y.Src), cmp.Compare(x.Dst, y.Dst), cmp.Compare(x.Proto, y.Proto),
			cmp.Compare(x.Port, y.Port), cmp.Compare(x.Detail, y.Detail), x.LastSeen.Compare(y.LastSeen))
	})
	// Identities that differ only in what policies cannot see (labels, service account)
	// resolve alike: fold their connections into one line.
	out := b.unresolved[:0]
	for _, u := range b.unresolved {
		if n := len(out); n > 0 && sameUnresolved(&out[n-1], &u) {
			out[n-1].Flows += u.Flows
			if u.LastSeen.After(out[n-1].LastSeen) {
				out[n-1].LastSeen = u.LastSeen
			}
			continue
		}
		out = append(out, u)
	}
	return out
}

func sameUnresolved(a, b *Unresolved) bool {
	return a.Src == b.Src && a.Dst == b.Dst && a.Proto == b.Proto && a.Port == b.Port && a.Detail == b.Detail
}

func (b *builder) sortedNotes() []Note {
	out := make([]Note, 0, len(b.notes))
	for n := range b.notes {
		out = append(out, n)
	}
	slices.SortFunc(out, func(x, y Note) int {
		return cmp.Or(cmp.Compare(x.Namespace, y.Namespace), cmp.Compare(x.Kind, y.Kind), cmp.Compare(x.Message, y.Message))
	})
	return out
}

// namespace renders the recommendation of one namespace.
func (b *builder) namespace(name string, life lifecycle) Namespace {
	n := Namespace{Name: name}
	var rules []*groupRules
	for _, g := range b.inv.namespaces[name].groups { // sorted by policy name
		for _, w := range g.members {
			n.Workloads = append(n.Workloads, w.WorkloadRef)
		}
		if len(g.members) > 1 && g.selectable {
			b.note(NoteMergedWorkloads, name, "%s share the stable labels {%s}, so one policy selects them all",
				memberList(g), strings.TrimSuffix(labelKey(g.stable), ","))
		}
		if gr := b.rules[g]; gr != nil {
			rules = append(rules, gr)
			if gr.changed.After(n.LastChanged) {
				n.LastChanged = gr.changed
			}
		}
	}
	slices.SortFunc(n.Workloads, func(x, y netpol.WorkloadRef) int {
		return cmp.Or(cmp.Compare(x.Name, y.Name), cmp.Compare(x.Kind, y.Kind))
	})
	n.Status = life.status(n.LastChanged)
	switch b.opts.Style {
	case StyleCalicoStaged:
		n.Objects = []client.Object{b.calicoPolicy(name, rules, life, n.Status, n.LastChanged)}
	default:
		n.Objects = b.kubernetesPolicies(name, rules, life, n.Status, n.LastChanged)
	}
	return n
}

func memberList(g *group) string {
	names := make([]string, len(g.members))
	for i, w := range g.members {
		names[i] = w.String()
	}
	return strings.Join(names, ", ")
}

// annotations records the lifecycle of one policy.
func (b *builder) annotations(life lifecycle, status Status, changed time.Time, workloads string) map[string]string {
	a := map[string]string{AnnotationStatus: string(status)}
	if w := life.window(); w != "" {
		a[AnnotationObservationWindow] = w
	}
	if !changed.IsZero() {
		a[AnnotationLastChanged] = changed.UTC().Format(time.RFC3339)
	}
	if workloads != "" {
		a[AnnotationWorkloads] = workloads
	}
	return a
}

func (b *builder) labels() map[string]string {
	return map[string]string{LabelManagedBy: b.opts.ManagedBy}
}
