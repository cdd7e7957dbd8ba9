package netpol

import (
	"iter"
	"maps"
	"net/netip"
	"slices"
	"strings"
	"sync"

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

// identityIndex is everything derived from the identity objects (workloads, pods, service
// accounts, services, sets, hosts): workloads with their pods folded in, and the lookups
// endpoint resolution needs. Namespace labels are read from the cluster. It is immutable once
// built; a change to one namespace's objects builds a new index that shares every other
// namespace's part, and a change to sets or hosts one that shares the namespaces.
type identityIndex struct {
	byNS      layered[*nsIdentities]
	all       *workloadList // every workload, by namespace, name, kind
	pods      *podAddrs     // pod addresses
	sets      []*NetworkSet // every set
	setByName map[nsName]*NetworkSet
	hosts     *hostIndex
}

// hostIndex finds host endpoints by name and address.
type hostIndex struct {
	byName map[string]*HostEndpoint
	byIP   map[netip.Addr]*HostEndpoint
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
	// byIP finds workloads by pod address (the last in ordered wins, should pods share one).
	byIP map[netip.Addr]*Workload
}

var emptyNS = &nsIdentities{}

func (ix *identityIndex) ns(name string) *nsIdentities {
	if n, ok := ix.byNS.get(name); ok {
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
	case c.dirtySets || c.dirtyHosts || len(c.dirtyNS) > 0:
		c.ids = c.ids.update(c)
	default:
		return c.ids
	}
	c.dirtySets, c.dirtyHosts, c.dirtyNS = false, false, nil
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
	ix := &identityIndex{}
	ix.buildSets(c)
	ix.buildHosts(c)
	services := map[string][]*corev1.Service{}
	for k, s := range c.services.m {
		services[k.Namespace] = append(services[k.Namespace], s)
	}
	names := map[string]bool{}
	for _, parts := range []iter.Seq[string]{c.controllers.parts.keys(), c.pods.parts.keys(),
		c.accounts.parts.keys(), maps.Keys(services)} {
		for ns := range parts {
			names[ns] = true
		}
	}
	byNS := map[string]*nsIdentities{}
	for ns := range names {
		byNS[ns] = buildNamespace(namespaceObjects(c, ns, services[ns]))
	}
	ix.byNS = layered[*nsIdentities]{base: byNS}
	ix.all, ix.pods = &workloadList{}, buildPodAddrs(ix.byNS)
	return ix
}

// namespaceObjects gathers one namespace's identity objects; services are given, since the
// cluster does not keep them by namespace.
func namespaceObjects(c *Cluster, ns string, services []*corev1.Service) *clusterObjects {
	o := &clusterObjects{services: services}
	for _, obj := range c.controllers.inNamespace(ns) {
		o.controllers = append(o.controllers, obj)
	}
	for _, p := range c.pods.inNamespace(ns) {
		o.pods = append(o.pods, p)
	}
	for _, sa := range c.accounts.inNamespace(ns) {
		o.accounts = append(o.accounts, sa)
	}
	return o
}

// update returns a new index for c, rebuilding only the namespaces marked dirty (and the
// sets or hosts when marked) and sharing the rest with ix.
func (ix *identityIndex) update(c *Cluster) *identityIndex {
	next := *ix
	if c.dirtySets {
		next.buildSets(c)
	}
	if c.dirtyHosts {
		next.buildHosts(c)
	}
	if len(c.dirtyNS) > 0 {
		for ns := range c.dirtyNS {
			var services []*corev1.Service
			for k, s := range c.services.m {
				if k.Namespace == ns {
					services = append(services, s)
				}
			}
			next.byNS = next.byNS.with(ns, buildNamespace(namespaceObjects(c, ns, services)), true)
		}
		next.all, next.pods = &workloadList{}, ix.pods.update(next.byNS, c.dirtyNS)
	}
	return &next
}

// buildSets derives the network sets.
func (ix *identityIndex) buildSets(c *Cluster) {
	ix.sets, ix.setByName = nil, map[nsName]*NetworkSet{}
	for _, s := range c.sets.m {
		ix.sets = append(ix.sets, s)
		ix.setByName[nsName{s.Namespace, s.Name}] = s
	}
	slices.SortFunc(ix.sets, func(a, b *NetworkSet) int {
		return strings.Compare(a.Namespace+"/"+a.Name, b.Namespace+"/"+b.Name)
	})
}

// buildHosts derives the host endpoints.
func (ix *identityIndex) buildHosts(c *Cluster) {
	ix.hosts = &hostIndex{byName: map[string]*HostEndpoint{}, byIP: map[netip.Addr]*HostEndpoint{}}
	for name, h := range c.hosts.m {
		ix.hosts.byName[name] = h
		for _, ip := range h.IPs {
			ix.hosts.byIP[ip] = h
		}
	}
}

// workloadList is every workload of an index, listed on first use.
type workloadList struct {
	once sync.Once
	list []*Workload
}

// workloads returns every workload, by namespace, name and kind.
func (ix *identityIndex) workloads() []*Workload {
	ix.all.once.Do(func() {
		for _, ns := range slices.Sorted(ix.byNS.keys()) {
			ix.all.list = append(ix.all.list, ix.ns(ns).ordered...)
		}
	})
	return ix.all.list
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
	absent := map[WorkloadRef]*Workload{} // owners the input lacks, named from their pods
	for _, pod := range o.pods {
		p := newWorkload(pod)
		owner := ownerOf(p, controllers, all, top)
		if owner == nil && p.owner != nil {
			// Pods of one absent owner fold together while their stable labels agree.
			ref := absentOwner(p)
			if w, ok := absent[ref]; ok && maps.Equal(stableLabels(w.Labels), stableLabels(p.Labels)) {
				owner = w
			} else if !ok {
				w := &Workload{WorkloadRef: ref, Labels: p.Labels, ServiceAccount: p.ServiceAccount,
					Ports: p.Ports, HostNetwork: p.HostNetwork}
				absent[ref] = w
				n.add(w)
				owner = w
			}
		}
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
	n.byIP = map[netip.Addr]*Workload{}
	for _, w := range n.ordered {
		slices.Sort(w.Pods)
		for _, ip := range w.IPs {
			n.byIP[ip] = w
		}
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

// absentOwner names the workload of a pod whose controller is not in the input, as kubectl
// and other analyzers do: a ReplicaSet named "<deployment>-<pod-template-hash>" stands for its
// Deployment, any other controller for itself.
func absentOwner(pod *Workload) WorkloadRef {
	ref := WorkloadRef{Kind: pod.owner.Kind, Namespace: pod.Namespace, Name: pod.owner.Name}
	if hash := pod.Labels["pod-template-hash"]; ref.Kind == "ReplicaSet" && hash != "" {
		if base, ok := strings.CutSuffix(ref.Name, "-"+hash); ok && base != "" {
			ref.Kind, ref.Name = "Deployment", base
		}
	}
	return ref
}

// stableLabels drops the labels that differ between revisions of one workload.
func stableLabels(l map[string]string) map[string]string {
	out := make(map[string]string, len(l))
	for k, v := range l {
		if !VolatileLabel(k) {
			out[k] = v
		}
	}
	return out
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
	return ix.podAt(ip) != nil || ix.hosts.byIP[ip] != nil
}

// hostOnNode returns the host endpoint of a node (the first by name), or nil.
func (ix *identityIndex) hostOnNode(node string) *HostEndpoint {
	var best *HostEndpoint
	for _, h := range ix.hosts.byName {
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
