package netpol

import (
	"maps"
	"net/netip"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/flowguard/flowguard/flows"
	"github.com/flowguard/flowguard/netpol/selector"
)

// labelCalicoName is the label Calico gives namespaces and service accounts (their name) for
// namespaceSelector and serviceAccounts selectors.
const labelCalicoName = "projectcalico.org/name"

// Calico's automatic endpoint labels.
const (
	labelCalicoNamespace      = "projectcalico.org/namespace"
	labelCalicoOrchestrator   = "projectcalico.org/orchestrator"
	labelCalicoServiceAccount = "projectcalico.org/serviceaccount"
)

// service is a compiled Service: the pods it selects and its ports.
type service struct {
	ns, name string
	sel      *selector.Selector
	ports    []corev1.ServicePort
}

// identityIndex is everything derived from the identity objects (namespaces, workloads, pods,
// service accounts, services, sets, hosts): workloads with their pods folded in, and the
// lookups endpoint resolution needs. It is immutable once built; a change to one namespace's
// objects builds a new index that shares every other namespace's part.
type identityIndex struct {
	byNS       map[string]*nsIdentities
	ordered    []*Workload                  // every workload, by namespace, name, kind
	byIP       map[netip.Addr]*Workload     // pod addresses
	nsLabels   map[string]selector.Map      // namespaces with objects
	namespaces []string                     // namespaces with objects, sorted
	sets       []*NetworkSet                // every set
	setByName  map[nsName]*NetworkSet       //
	hosts      map[string]*HostEndpoint     //
	hostByIP   map[netip.Addr]*HostEndpoint //
}

// nsIdentities is one namespace's part of the index.
type nsIdentities struct {
	workloads map[WorkloadRef]*Workload
	ordered   []*Workload
	byName    map[string][]*Workload // workloads, folded controllers and pods by name
	podOwner  map[string]*Workload   // every pod, folded or standalone
	pods      map[string]*Workload   // every pod on its own
	// byGenerateName finds the owner of pods by their generateName, which is what Calico's
	// aggregated flow names are made of ("<generateName>*").
	byGenerateName map[string]*Workload
	saLabels       map[string]selector.Map
	services       []*service
}

var emptyNS = &nsIdentities{}

func (ix *identityIndex) ns(name string) *nsIdentities {
	if n, ok := ix.byNS[name]; ok {
		return n
	}
	return emptyNS
}

// workload returns the workload ref names, or nil.
func (ix *identityIndex) workload(ref WorkloadRef) *Workload {
	return ix.ns(ref.Namespace).workloads[ref]
}

// identities returns the index, building what changed since it was last built.
func (c *Cluster) identities() *identityIndex {
	switch {
	case c.ids == nil:
		c.ids = buildIdentities(c)
	case c.dirtyGlobal || len(c.dirtyNS) > 0:
		c.ids = c.ids.update(c)
	default:
		return c.ids
	}
	c.dirtyGlobal, c.dirtyNS = false, nil
	return c.ids
}

// clusterObjects are one namespace's identity objects.
type clusterObjects struct {
	controllers []runtime.Object
	pods        []*corev1.Pod
	accounts    []*corev1.ServiceAccount
	services    []*corev1.Service
}

func buildIdentities(c *Cluster) *identityIndex {
	ix := &identityIndex{byNS: map[string]*nsIdentities{}}
	ix.buildGlobal(c)
	objs := map[string]*clusterObjects{}
	get := func(ns string) *clusterObjects {
		o, ok := objs[ns]
		if !ok {
			o = &clusterObjects{}
			objs[ns] = o
		}
		return o
	}
	for ref, obj := range c.controllers.m {
		get(ref.Namespace).controllers = append(get(ref.Namespace).controllers, obj)
	}
	for k, p := range c.pods.m {
		get(k.Namespace).pods = append(get(k.Namespace).pods, p)
	}
	for k, sa := range c.accounts.m {
		get(k.Namespace).accounts = append(get(k.Namespace).accounts, sa)
	}
	for k, s := range c.services.m {
		get(k.Namespace).services = append(get(k.Namespace).services, s)
	}
	for ns, o := range objs {
		ix.byNS[ns] = buildNamespace(o)
	}
	ix.collect()
	return ix
}

// update returns a new index for c, rebuilding only the namespaces marked dirty (and the
// global part when marked) and sharing the rest with ix.
func (ix *identityIndex) update(c *Cluster) *identityIndex {
	next := *ix
	if c.dirtyGlobal {
		next.buildGlobal(c)
	}
	if len(c.dirtyNS) > 0 {
		next.byNS = maps.Clone(ix.byNS)
		for ns := range c.dirtyNS {
			o := &clusterObjects{}
			for ref, obj := range c.controllers.m {
				if ref.Namespace == ns {
					o.controllers = append(o.controllers, obj)
				}
			}
			for k, p := range c.pods.m {
				if k.Namespace == ns {
					o.pods = append(o.pods, p)
				}
			}
			for k, sa := range c.accounts.m {
				if k.Namespace == ns {
					o.accounts = append(o.accounts, sa)
				}
			}
			for k, s := range c.services.m {
				if k.Namespace == ns {
					o.services = append(o.services, s)
				}
			}
			next.byNS[ns] = buildNamespace(o)
		}
		next.collect()
	}
	return &next
}

// buildGlobal derives the namespace labels, sets and hosts.
func (ix *identityIndex) buildGlobal(c *Cluster) {
	ix.nsLabels, ix.namespaces = map[string]selector.Map{}, nil
	for name := range c.namespaces.m {
		l, _ := c.NamespaceLabels(name)
		ix.nsLabels[name] = l
		ix.namespaces = append(ix.namespaces, name)
	}
	slices.Sort(ix.namespaces)
	ix.sets, ix.setByName = nil, map[nsName]*NetworkSet{}
	for _, s := range c.sets.m {
		ix.sets = append(ix.sets, s)
		ix.setByName[nsName{s.Namespace, s.Name}] = s
	}
	slices.SortFunc(ix.sets, func(a, b *NetworkSet) int {
		return strings.Compare(a.Namespace+"/"+a.Name, b.Namespace+"/"+b.Name)
	})
	ix.hosts, ix.hostByIP = map[string]*HostEndpoint{}, map[netip.Addr]*HostEndpoint{}
	for name, h := range c.hosts.m {
		ix.hosts[name] = h
		for _, ip := range h.IPs {
			ix.hostByIP[ip] = h
		}
	}
}

// collect rebuilds the cross-namespace lists from the per-namespace parts.
func (ix *identityIndex) collect() {
	names := slices.Sorted(maps.Keys(ix.byNS))
	ix.ordered = ix.ordered[:0:0]
	ix.byIP = map[netip.Addr]*Workload{}
	for _, ns := range names {
		n := ix.byNS[ns]
		ix.ordered = append(ix.ordered, n.ordered...)
		for _, w := range n.ordered {
			for _, ip := range w.IPs {
				ix.byIP[ip] = w
			}
		}
	}
}

// buildNamespace folds one namespace's pods into their workloads.
func buildNamespace(o *clusterObjects) *nsIdentities {
	n := &nsIdentities{
		workloads: map[WorkloadRef]*Workload{}, byName: map[string][]*Workload{},
		podOwner: map[string]*Workload{}, pods: map[string]*Workload{}, saLabels: map[string]selector.Map{},
		byGenerateName: map[string]*Workload{},
	}
	for _, sa := range o.accounts {
		l := selector.Map{}
		maps.Copy(l, sa.Labels)
		l[labelCalicoName] = sa.Name
		n.saLabels[sa.Name] = l
	}
	for _, s := range o.services {
		if len(s.Spec.Selector) == 0 {
			continue // endpoints managed by hand: nothing to resolve offline
		}
		sel, err := selector.FromLabelSelector(&metav1.LabelSelector{MatchLabels: s.Spec.Selector})
		if err != nil {
			continue
		}
		n.services = append(n.services, &service{ns: s.Namespace, name: s.Name, sel: sel, ports: s.Spec.Ports})
	}
	slices.SortFunc(n.services, func(a, b *service) int { return strings.Compare(a.name, b.name) })

	// Controllers owned by other controllers (ReplicaSets of Deployments, Jobs of CronJobs)
	// fold into their owner.
	controllers := map[WorkloadRef]*Workload{}
	var all []*Workload
	for _, obj := range o.controllers {
		w := newWorkload(obj)
		controllers[w.WorkloadRef] = w
		all = append(all, w)
	}
	top := func(w *Workload) *Workload {
		for range 3 {
			if w.owner == nil {
				return w
			}
			o, ok := controllers[WorkloadRef{Kind: w.owner.Kind, Namespace: w.Namespace, Name: w.owner.Name}]
			if !ok {
				return w
			}
			w = o
		}
		return w
	}
	for _, w := range all {
		if t := top(w); t == w {
			n.add(w)
		} else {
			n.byName[w.Name] = append(n.byName[w.Name], t)
		}
	}
	for _, pod := range o.pods {
		p := newWorkload(pod)
		owner := ownerOf(p, controllers, all, top)
		if owner == nil {
			n.add(p)
			owner = p
		} else {
			owner.Pods = append(owner.Pods, p.Name)
			owner.IPs = append(owner.IPs, p.IPs...)
			n.byName[p.Name] = append(n.byName[p.Name], owner)
		}
		n.podOwner[p.Name] = owner
		n.pods[p.Name] = p
		if pod.GenerateName != "" {
			n.byGenerateName[pod.GenerateName] = owner
		}
	}
	slices.SortFunc(n.ordered, func(a, b *Workload) int {
		return strings.Compare(a.Name+"/"+a.Kind, b.Name+"/"+b.Kind)
	})
	for _, w := range n.ordered {
		slices.Sort(w.Pods)
	}
	return n
}

func (n *nsIdentities) add(w *Workload) {
	n.workloads[w.WorkloadRef] = w
	n.ordered = append(n.ordered, w)
	n.byName[w.Name] = append(n.byName[w.Name], w)
}

// ownerOf finds the workload a pod folds into: its controller by owner reference, else a
// workload in its namespace whose selector matches it (Deployments first).
func ownerOf(pod *Workload, controllers map[WorkloadRef]*Workload, sameNS []*Workload, top func(*Workload) *Workload) *Workload {
	if pod.owner != nil {
		if w, ok := controllers[WorkloadRef{Kind: pod.owner.Kind, Namespace: pod.Namespace, Name: pod.owner.Name}]; ok {
			return top(w)
		}
	}
	var best *Workload
	for _, w := range sameNS {
		if w.selector == nil || w.selector.IsAll() || top(w) != w {
			continue
		}
		if !w.selector.Matches(selector.Map(pod.Labels)) {
			continue
		}
		if best == nil || kindRank(w.Kind) < kindRank(best.Kind) || (w.Kind == best.Kind && w.Name < best.Name) {
			best = w
		}
	}
	return best
}

func kindRank(kind string) int {
	if i := slices.Index(workloadKinds, kind); i >= 0 {
		return i
	}
	return len(workloadKinds)
}

// resolveName finds the workload behind a name in a namespace: a workload or pod name, or a
// flow's aggregated name (generateName + "*"): "<deploy>-<hash>-*", "<ds>-*", "<job>-*",
// "<cronjob>-<n>-*", and a StatefulSet pod name "<sts>-<ordinal>". kind narrows the search
// when set. labels, when given, break ties by the workload's selector.
func (ix *identityIndex) resolveName(ns, name, kind string, labels selector.Labels) *Workload {
	pick := func(n string) *Workload {
		var found *Workload
		for _, w := range ix.ns(ns).byName[n] {
			if kind != "" && w.Kind != kind && !(kind == "Pod" && slices.Contains(w.Pods, n)) {
				continue
			}
			if found == nil || kindRank(w.Kind) < kindRank(found.Kind) {
				found = w
			}
		}
		return found
	}
	base, aggregated := aggregatedBase(name)
	if aggregated {
		if w, ok := ix.ns(ns).byGenerateName[strings.TrimSuffix(name, "*")]; ok && (kind == "" || w.Kind == kind) {
			return w
		}
	}
	if w := pick(base); w != nil {
		return w
	}
	// One segment less: a Deployment's pod-template hash, a CronJob's schedule index, a
	// StatefulSet's ordinal.
	if rest, seg, ok := cutLastSegment(base); ok && (aggregated || isDigits(seg)) {
		if w := pick(rest); w != nil && (kind == "" || w.Kind == kind) {
			return w
		}
	}
	if labels == nil {
		return nil
	}
	// Last resort: the workload with the longest name that prefixes this one and whose
	// selector matches the observed labels.
	var best *Workload
	for _, w := range ix.ns(ns).ordered {
		if !strings.HasPrefix(base, w.Name+"-") || w.selector == nil || !w.selector.Matches(labels) {
			continue
		}
		if best == nil || len(w.Name) > len(best.Name) {
			best = w
		}
	}
	return best
}

// knows reports whether an address belongs to a pod or host endpoint of the cluster.
func (ix *identityIndex) knows(ip netip.Addr) bool {
	_, pod := ix.byIP[ip]
	_, host := ix.hostByIP[ip]
	return pod || host
}

// hostOnNode returns the host endpoint of a node (the first by name), or nil.
func (ix *identityIndex) hostOnNode(node string) *HostEndpoint {
	var best *HostEndpoint
	for _, h := range ix.hosts {
		if h.Node == node && (best == nil || h.Name < best.Name) {
			best = h
		}
	}
	return best
}

// setsContaining returns the network sets whose nets contain every address of the endpoint
// (a single address, or every range of an address range endpoint).
func (ix *identityIndex) setsContaining(ips []netip.Addr, nets []netip.Prefix) []*NetworkSet {
	var out []*NetworkSet
	for _, s := range ix.sets {
		if addrsIn(ips, nets, s.Nets) {
			out = append(out, s)
		}
	}
	return out
}

// servicePorts returns the (protocol, port) pairs a Service delivers to on a pod: its target
// ports, named ones resolved on the pod.
func servicePorts(s *service, ports []NamedPort) []NamedPort {
	var out []NamedPort
	for _, sp := range s.ports {
		proto, _ := k8sProtocolNumber(sp.Protocol)
		if sp.TargetPort.Type == intstr.String {
			for _, np := range ports {
				if np.Name == sp.TargetPort.StrVal && uint8(np.Proto) == proto {
					out = append(out, NamedPort{Name: sp.Name, Proto: np.Proto, Port: np.Port})
				}
			}
			continue
		}
		tp := sp.TargetPort.IntVal
		if tp == 0 {
			tp = sp.Port
		}
		out = append(out, NamedPort{Name: sp.Name, Proto: flows.Protocol(proto), Port: uint16(tp)})
	}
	return out
}
