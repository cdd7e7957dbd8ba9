package picture

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/flowguard/flowguard/audit"
	"github.com/flowguard/flowguard/audit/render"
	"github.com/flowguard/flowguard/flows"
	"github.com/flowguard/flowguard/netpol"
)

// maxProbedWorkloads bounds the pairs probed for allowed but unobserved traffic (pairs grow with
// the square of workloads); beyond it only observed traffic is drawn.
const maxProbedWorkloads = 120

// Build returns the picture of cluster and graph over window: every workload of the namespaces
// in scope (all when namespaces is empty), the observed edges between them and to peers outside
// the cluster, and, between workloads, the traffic the policies allow on the destination's
// declared ports though none was observed. graph and window may be nil.
func Build(cluster *netpol.Cluster, graph *flows.Graph, window *audit.Window, namespaces []string) *render.Picture {
	inScope := func(ns string) bool { return len(namespaces) == 0 || slices.Contains(namespaces, ns) }
	b := builder{workloads: map[string][]string{}, external: map[string]bool{}, edges: map[[2]string]*render.Edge{}}
	var probed []*netpol.Workload
	for _, ns := range cluster.Namespaces() {
		if inScope(ns.Name) {
			b.workloads[ns.Name] = b.workloads[ns.Name][:0:0]
		}
	}
	for _, w := range cluster.Workloads() {
		if !inScope(w.Namespace) {
			continue
		}
		b.workloads[w.Namespace] = append(b.workloads[w.Namespace], w.Name)
		probed = append(probed, w)
	}
	eng := netpol.NewEngine(cluster)
	if graph != nil {
		q := flows.Query{}
		if window != nil {
			q.From, q.To = window.Start, window.End
		}
		graph.Range(q, func(e *flows.Edge) bool {
			from, ok1 := b.node(e.Src, inScope)
			to, ok2 := b.node(e.Dst, inScope)
			if !ok1 || !ok2 {
				return true
			}
			b.add(from)
			b.add(to)
			edge := b.edge(from.String(), to.String())
			edge.Ports = appendPort(edge.Ports, e.Proto, e.DstPort)
			if e.Action == flows.ActionDeny {
				edge.Denied = true
				return true
			}
			edge.Observed = true
			if eng.Verdict(netpol.FlowEndpoint(e.Src), netpol.FlowEndpoint(e.Dst), netpol.PacketOf(e.Proto, e.DstPort)).Allowed {
				edge.Allowed = true
			}
			return true
		})
	}
	if len(probed) <= maxProbedWorkloads {
		ports := map[*netpol.Workload][]containerPort{}
		for _, w := range probed {
			ports[w] = containerPorts(cluster.WorkloadObject(w.WorkloadRef))
		}
		for _, src := range probed {
			for _, dst := range probed {
				from, to := id(src.Namespace, src.Name), id(dst.Namespace, dst.Name)
				if src == dst || b.edges[[2]string{from, to}] != nil {
					continue
				}
				for _, p := range ports[dst] {
					pkt := netpol.PacketOf(p.proto, p.port)
					if eng.Verdict(netpol.WorkloadEndpoint(src.WorkloadRef), netpol.WorkloadEndpoint(dst.WorkloadRef), pkt).Allowed {
						e := b.edge(from, to)
						e.Allowed = true
						e.Ports = appendPort(e.Ports, p.proto, p.port)
					}
				}
			}
		}
	}
	pic := &render.Picture{External: slices.Sorted(maps.Keys(b.external))}
	if len(probed) > maxProbedWorkloads {
		pic.UnusedNotComputed = fmt.Sprintf("the pairs of %d workloads are too many to probe (the limit is %d)", len(probed), maxProbedWorkloads)
	}
	for _, ns := range slices.Sorted(maps.Keys(b.workloads)) {
		wls := slices.Compact(slices.Sorted(slices.Values(b.workloads[ns])))
		pic.Namespaces = append(pic.Namespaces, render.PictureNamespace{Name: ns, Workloads: wls})
	}
	for _, k := range slices.SortedFunc(maps.Keys(b.edges), func(x, y [2]string) int {
		return strings.Compare(x[0]+"\x00"+x[1], y[0]+"\x00"+y[1])
	}) {
		pic.Edges = append(pic.Edges, *b.edges[k])
	}
	return pic
}

type builder struct {
	workloads map[string][]string
	external  map[string]bool
	edges     map[[2]string]*render.Edge
}

func id(ns, name string) string { return ns + "/" + name }

func (b *builder) edge(from, to string) *render.Edge {
	k := [2]string{from, to}
	if e := b.edges[k]; e != nil {
		return e
	}
	e := &render.Edge{From: from, To: to}
	b.edges[k] = e
	return e
}

// node names the picture node of one end of a flow: a workload ("namespace/name", the workload
// the flow's aggregated name stands for), or a peer outside the namespaces ("pub", "pvt", a set
// or host). Ends in namespaces out of scope are not drawn.
func (b *builder) node(ep flows.Endpoint, inScope func(string) bool) (node, bool) {
	switch ep.Type {
	case flows.TypeWorkload:
		if !inScope(ep.Namespace) {
			return node{}, false
		}
		return node{namespace: ep.Namespace, name: workloadOf(ep.Name, b.workloads[ep.Namespace])}, true
	case flows.TypeNetworkSet:
		if ep.Namespace != "" {
			if !inScope(ep.Namespace) {
				return node{}, false
			}
			return node{name: "set " + ep.Namespace + "/" + ep.Name}, true
		}
		return node{name: "set " + ep.Name}, true
	case flows.TypeHost:
		return node{name: "host " + ep.Name}, true
	}
	if ep.IP.IsValid() && ep.Name != "pub" && ep.Name != "pvt" {
		return node{name: ep.IP.String()}, true
	}
	return node{name: ep.Name}, true
}

// node is a workload (with its namespace) or a peer outside the namespaces.
type node struct{ namespace, name string }

func (n node) String() string {
	if n.namespace == "" {
		return n.name
	}
	return id(n.namespace, n.name)
}

// add puts a node of a drawn edge in the picture.
func (b *builder) add(n node) {
	if n.namespace == "" {
		b.external[n.name] = true
		return
	}
	b.workloads[n.namespace] = append(b.workloads[n.namespace], n.name)
}

// workloadOf maps a flow's aggregated name ("frontend-7d9f8b6c5-*", "db-*") to the workload of
// the namespace it stands for: the longest workload name it extends by a hyphen. Without one,
// the aggregated name itself, without its trailing "-*".
func workloadOf(aggr string, workloads []string) string {
	best := ""
	for _, w := range workloads {
		if (aggr == w || strings.HasPrefix(aggr, w+"-")) && len(w) > len(best) {
			best = w
		}
	}
	if best != "" {
		return best
	}
	return strings.TrimSuffix(aggr, "-*")
}

func appendPort(ports []string, proto flows.Protocol, port uint16) []string {
	p := protoName(proto)
	if port > 0 {
		p += "/" + strconv.Itoa(int(port))
	}
	if slices.Contains(ports, p) {
		return ports
	}
	ports = append(ports, p)
	slices.Sort(ports)
	return ports
}

func protoName(p flows.Protocol) string {
	if name, ok := p.PolicyName(); ok {
		return name
	}
	return "proto " + strconv.Itoa(int(p))
}

type containerPort struct {
	proto flows.Protocol
	port  uint16
}

// containerPorts lists the ports a workload's containers declare, named or not; the probe for
// allowed but unobserved traffic asks about these.
func containerPorts(obj runtime.Object) []containerPort {
	var spec *corev1.PodSpec
	switch o := obj.(type) {
	case *corev1.Pod:
		spec = &o.Spec
	case *appsv1.Deployment:
		spec = &o.Spec.Template.Spec
	case *appsv1.StatefulSet:
		spec = &o.Spec.Template.Spec
	case *appsv1.DaemonSet:
		spec = &o.Spec.Template.Spec
	case *appsv1.ReplicaSet:
		spec = &o.Spec.Template.Spec
	case *corev1.ReplicationController:
		if o.Spec.Template != nil {
			spec = &o.Spec.Template.Spec
		}
	case *batchv1.Job:
		spec = &o.Spec.Template.Spec
	case *batchv1.CronJob:
		spec = &o.Spec.JobTemplate.Spec.Template.Spec
	}
	if spec == nil {
		return nil
	}
	var out []containerPort
	for _, c := range slices.Concat(spec.InitContainers, spec.Containers) {
		for _, p := range c.Ports {
			proto := flows.ProtoTCP
			switch p.Protocol {
			case corev1.ProtocolUDP:
				proto = flows.ProtoUDP
			case corev1.ProtocolSCTP:
				proto = flows.ProtoSCTP
			}
			cp := containerPort{proto: proto, port: uint16(p.ContainerPort)}
			if !slices.Contains(out, cp) {
				out = append(out, cp)
			}
		}
	}
	return out
}
