package recommend

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/flowguard/flowguard/flows"
	"github.com/flowguard/flowguard/netpol"
)

// Result is a recommendation: the objects to apply, per namespace, and what could not be
// expressed.
type Result struct {
	Style Style
	// At is the time the lifecycle states were computed for. ObservedFrom and ObservedUntil
	// bound the traffic in the graph (zero when it holds none).
	At, ObservedFrom, ObservedUntil time.Time
	// ClusterObjects are cluster-scoped objects the namespaced ones need, to be applied
	// first: the Calico Tier for StyleCalicoStaged.
	ClusterObjects []client.Object
	// Namespaces are the recommended namespaces, by name.
	Namespaces []Namespace
	// Unresolved are the observed-allowed connections that could not be tied to workloads
	// (or sets, or networks) and so are allowed by no recommended policy.
	Unresolved []Unresolved
	// Notes are what the recommendation could not express exactly, or chose for the user.
	Notes []Note
	Stats Stats
}

// Namespace is the recommendation for one namespace.
type Namespace struct {
	Name string
	// Status is the least settled state of the namespace's policies; the namespace-wide
	// objects (default deny, DNS) carry it too, as they are safe only with the rest.
	Status Status
	// LastChanged is when the newest connection of the namespace was first seen (zero when
	// none was).
	LastChanged time.Time
	// Objects are the policies, in the order to apply them: *networkingv1.NetworkPolicy for
	// StyleKubernetes, *calicov3.StagedNetworkPolicy for StyleCalicoStaged. Objects share
	// their label selectors with each other: DeepCopy one before changing it.
	Objects []client.Object
	// Workloads are the workloads the policies select, by name.
	Workloads []netpol.WorkloadRef
}

// Unresolved is an observed-allowed connection that names something the recommendation
// cannot select. SrcReason or DstReason (or both) say which side failed and why.
type Unresolved struct {
	Src, Dst             string
	Proto                string
	Port                 uint16
	SrcReason, DstReason Reason
	Detail               string
	Flows                uint64
	LastSeen             time.Time
}

// NoteKind classifies a note.
type NoteKind string

const (
	// NoteMergedWorkloads: workloads with identical stable labels share one policy.
	NoteMergedWorkloads NoteKind = "merged-workloads"
	// NotePortWidened: the flow source aggregated a destination port away, so every port of
	// the protocol is allowed for that peer.
	NotePortWidened NoteKind = "port-widened"
	// NoteUnknownNamespace: a namespace asked for in Options.Namespaces is not in the
	// cluster model, so nothing is recommended for it.
	NoteUnknownNamespace NoteKind = "unknown-namespace"
	// NoteProtocolNotExpressible: a Kubernetes NetworkPolicy names only TCP, UDP and SCTP
	// ports; other protocols (ICMP, ...) observed are left denied rather than opening every
	// protocol.
	NoteProtocolNotExpressible NoteKind = "protocol-not-expressible"
)

// Note is something the user should know about a recommendation.
type Note struct {
	Kind      NoteKind
	Namespace string
	Message   string
}

// Stats count what a recommendation read and wrote.
type Stats struct {
	Edges, Connections, Allowed, Unresolved int
	Workloads, Policies                     int
}

// Recommend computes the recommendation for the cluster model and the traffic graph. It
// reads the graph once under its read lock and never modifies either input; the same inputs
// and options give the same Result.
func Recommend(ctx context.Context, cluster *netpol.Cluster, graph *flows.Graph, opts Options) (*Result, error) {
	if cluster == nil || graph == nil {
		return nil, errors.New("recommend: a cluster model and a traffic graph are required")
	}
	if err := opts.Validate(); err != nil {
		return nil, fmt.Errorf("recommend: %w", err)
	}
	o := opts.withDefaults()
	inv := newInventory(cluster, newVolatility(o.VolatileLabels))
	res := newResolver(inv, o.DNS)
	t := readTraffic(graph, o.Since, res)

	b := &builder{opts: &o, inv: inv, rules: map[*group]*groupRules{}, nsSelectors: map[string]*metav1.LabelSelector{}}
	out := &Result{Style: o.Style, ObservedFrom: t.from, ObservedUntil: t.until, At: o.At.UTC()}
	if out.At.IsZero() {
		out.At = t.until
	}
	out.Stats.Edges, out.Stats.Connections = t.edges, len(t.conns)
	for _, c := range t.conns {
		if !c.allowed() {
			continue
		}
		out.Stats.Allowed++
		b.connection(&c)
	}
	out.Unresolved = b.sortedUnresolved()
	out.Stats.Unresolved = len(out.Unresolved)

	life := lifecycle{at: out.At, from: t.from, minObservation: o.MinObservation, stabilization: o.StabilizationPeriod}
	if o.Style == StyleCalicoStaged {
		out.ClusterObjects = []client.Object{calicoTier(&o)}
	}
	for ns := range inv.namespaces {
		b.nsSelectors[ns] = &metav1.LabelSelector{MatchLabels: map[string]string{corev1.LabelMetadataName: ns}}
	}
	// Namespaces render independently: spread them over the cores, each result in its slot
	// so the order stays the namespaces' order.
	scoped := inv.scopedNamespaces(&o)
	out.Namespaces = make([]Namespace, len(scoped))
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), len(scoped)) {
		wg.Go(func() {
			for i := int(next.Add(1) - 1); i < len(scoped); i = int(next.Add(1) - 1) {
				out.Namespaces[i] = b.namespace(scoped[i], life)
			}
		})
	}
	wg.Wait()
	for _, n := range out.Namespaces {
		out.Stats.Workloads += len(n.Workloads)
		out.Stats.Policies += len(n.Objects)
	}
	for _, ns := range o.Namespaces {
		if _, ok := inv.namespaces[ns]; !ok {
			b.note(NoteUnknownNamespace, ns, "namespace %s has neither a Namespace object nor a workload in the cluster model; nothing is recommended for it", ns)
		}
	}
	out.Notes = b.sortedNotes()
	logf.FromContext(ctx).V(1).Info("recommendation computed", "style", o.Style, "edges", t.edges,
		"connections", len(t.conns), "allowed", out.Stats.Allowed, "unresolved", len(out.Unresolved),
		"namespaces", len(out.Namespaces), "policies", out.Stats.Policies)
	return out, nil
}

// Objects returns every object in the order to apply them, so that `kubectl apply` of the list
// never cuts observed traffic while it is half applied: cluster-scoped objects, then the
// policies of single workloads (each allows what it isolates), then the namespace-wide
// allowances (the DNS allowance isolates every pod of its namespace for egress), and the
// default denies last.
func (r *Result) Objects() []client.Object {
	out := slices.Clone(r.ClusterObjects)
	var namespaceWide, denies []client.Object
	for _, n := range r.Namespaces {
		for _, obj := range n.Objects {
			switch obj.GetName() {
			case DefaultDenyName:
				denies = append(denies, obj)
			case AllowDNSName:
				namespaceWide = append(namespaceWide, obj)
			default:
				out = append(out, obj)
			}
		}
	}
	return slices.Concat(out, namespaceWide, denies)
}

// Namespace returns the recommendation for one namespace, or nil.
func (r *Result) Namespace(name string) *Namespace {
	i, ok := slices.BinarySearchFunc(r.Namespaces, name, func(n Namespace, name string) int { return cmp.Compare(n.Name, name) })
	if !ok {
		return nil
	}
	return &r.Namespaces[i]
}
