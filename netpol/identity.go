package netpol

import (
	"maps"
	"net/netip"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
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
// lookups endpoint resolution needs. It is immutable once built.
type identityIndex struct {
	workloads  map[WorkloadRef]*Workload
	ordered    []*Workload                  // by namespace, name, kind
	byName     map[nsName][]*Workload       // workloads and folded pods by name
	podOwner   map[nsName]*Workload         // every pod, folded or standalone
	pods       map[nsName]*Workload         // every pod on its own
	byIP       map[netip.Addr]*Workload     // pod addresses
	nsLabels   map[string]selector.Map      // namespaces with objects
	saLabels   map[nsName]selector.Map      // service accounts with objects
	services   map[string][]*service        // by namespace
	sets       []*NetworkSet                // every set
	setByName  map[nsName]*NetworkSet       //
	hosts      map[string]*HostEndpoint     //
	hostByIP   map[netip.Addr]*HostEndpoint //
	namespaces []string                     // namespaces with objects, sorted
}

func (c *Cluster) identities() *identityIndex {
	if c.ids == nil {
		c.ids = buildIdentities(c)
	}
	return c.ids
}

func buildIdentities(c *Cluster) *identityIndex {
	ix := &identityIndex{
		workloads: map[WorkloadRef]*Workload{}, byName: map[nsName][]*Workload{},
		podOwner: map[nsName]*Workload{}, pods: map[nsName]*Workload{}, byIP: map[netip.Addr]*Workload{},
		nsLabels: map[string]selector.Map{}, saLabels: map[nsName]selector.Map{},
		services: map[string][]*service{}, setByName: map[nsName]*NetworkSet{},
		hosts: map[string]*HostEndpoint{}, hostByIP: map[netip.Addr]*HostEndpoint{},
	}
	for name := range c.namespaces.m {
		l, _ := c.NamespaceLabels(name)
		ix.nsLabels[name] = l
		ix.namespaces = append(ix.namespaces, name)
	}
	slices.Sort(ix.namespaces)
	for k, sa := range c.accounts.m {
		l := selector.Map{}
		maps.Copy(l, sa.Labels)
		l[labelCalicoName] = k.Name
		ix.saLabels[k] = l
	}
	for k, s := range c.services.m {
		if len(s.Spec.Selector) == 0 {
			continue // endpoints managed by hand: nothing to resolve offline
		}
		sel, err := selector.FromLabelSelector(&metav1.LabelSelector{MatchLabels: s.Spec.Selector})
		if err != nil {
			continue
		}
		ix.services[k.Namespace] = append(ix.services[k.Namespace], &service{ns: k.Namespace, name: k.Name, sel: sel, ports: s.Spec.Ports})
	}
	for _, s := range c.sets.m {
		ix.sets = append(ix.sets, s)
		ix.setByName[nsName{s.Namespace, s.Name}] = s
	}
	slices.SortFunc(ix.sets, func(a, b *NetworkSet) int {
		return strings.Compare(a.Namespace+"/"+a.Name, b.Namespace+"/"+b.Name)
	})
	for name, h := range c.hosts.m {
		ix.hosts[name] = h
		for _, ip := range h.IPs {
			ix.hostByIP[ip] = h
		}
	}

	// Controllers owned by other controllers (ReplicaSets of Deployments, Jobs of CronJobs)
	// fold into their owner.
	controllers := map[WorkloadRef]*Workload{}
	byNS := map[string][]*Workload{}
	for ref, obj := range c.controllers.m {
		w := newWorkload(obj)
		controllers[ref] = w
		byNS[ref.Namespace] = append(byNS[ref.Namespace], w)
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
	for _, w := range controllers {
		if t := top(w); t == w {
			ix.add(w)
		} else {
			ix.byName[nsName{w.Namespace, w.Name}] = append(ix.byName[nsName{w.Namespace, w.Name}], t)
		}
	}
	for k, pod := range c.pods.m {
		p := newWorkload(pod)
		owner := ownerOf(p, controllers, byNS[k.Namespace], top)
		if owner == nil {
			ix.add(p)
			owner = p
		} else {
			owner.Pods = append(owner.Pods, p.Name)
			owner.IPs = append(owner.IPs, p.IPs...)
			ix.byName[k] = append(ix.byName[k], owner)
		}
		ix.podOwner[k] = owner
		ix.pods[k] = p
		for _, ip := range p.IPs {
			ix.byIP[ip] = owner
		}
	}
	slices.SortFunc(ix.ordered, func(a, b *Workload) int {
		return strings.Compare(a.Namespace+"/"+a.Name+"/"+a.Kind, b.Namespace+"/"+b.Name+"/"+b.Kind)
	})
	for _, w := range ix.ordered {
		slices.Sort(w.Pods)
	}
	return ix
}

func (ix *identityIndex) add(w *Workload) {
	ix.workloads[w.WorkloadRef] = w
	ix.ordered = append(ix.ordered, w)
	k := nsName{w.Namespace, w.Name}
	ix.byName[k] = append(ix.byName[k], w)
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
		for _, w := range ix.byName[nsName{ns, n}] {
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
	for _, w := range ix.ordered {
		if w.Namespace != ns || !strings.HasPrefix(base, w.Name+"-") || w.selector == nil || !w.selector.Matches(labels) {
			continue
		}
		if best == nil || len(w.Name) > len(best.Name) {
			best = w
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
