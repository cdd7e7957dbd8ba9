package netpol

import (
	"maps"
	"net/netip"
	"strings"
	"sync/atomic"

	"github.com/flowguard/flowguard/netpol/selector"
)

// class is an endpoint as one engine resolved it. Endpoints whose resolved identity is equal
// share a class, and with it their applicable policies and memoised verdicts.
type class struct {
	// resolution is what the endpoint resolved to; an engine derived by WithChange shares it
	// with its parent's class when the change cannot alter it.
	*resolution
	id int32
	// parent is the parent engine's class of the same resolution, whose applicable policies
	// the class takes over where the change leaves them alone; nil when resolved afresh.
	parent *class

	pols [2]atomic.Pointer[[2][]*Policy] // per view: per direction, in evaluation order
	// memo holds verdicts with this class as the source.
	memo memo
}

// resolution is the data of a resolved endpoint. It is immutable once built.
type resolution struct {
	kind EndpointKind
	// ns is empty for endpoints outside any namespace.
	ns       string
	nsKnown  bool
	workload *Workload // the workload resolved, if any
	host     *HostEndpoint
	// hostNetwork marks a pod on the host's network, which Calico polices as the host.
	hostNetwork bool
	set         *NetworkSet // the set itself, for set endpoints
	labels      selector.Map
	nsLabels    selector.Map // nil outside namespaces
	sa          string
	saLabels    selector.Map
	ips         []netip.Addr
	nets        []netip.Prefix
	ports       []NamedPort
	services    []svcMember
	// ids are the label identities Calico selectors see: the endpoint's own (workloads,
	// hosts, sets) and those of every network set containing its addresses.
	ids []identity
	// key identifies the resolved identity within one engine (see contentKey).
	key string
}

// identity is one label set a Calico selector may match an endpoint by.
type identity struct {
	labels   selector.Map
	ns       string       // empty outside namespaces
	nsLabels selector.Map // nil outside namespaces
	workload bool         // a pod: service-account selectors apply
}

// svcMember says the endpoint backs a Service, on these ports.
type svcMember struct {
	ns, name string
	ports    []NamedPort
}

// enforced reports whether policies apply at the endpoint: pods, and host endpoints the
// cluster has (a host no HostEndpoint object covers is not policed by Calico).
func (c *resolution) enforced() bool {
	return c.kind == EndpointWorkload || (c.kind == EndpointHost && c.host != nil)
}

// resolve resolves an endpoint against the cluster. It does not intern.
func resolve(ix *identityIndex, c *Cluster, ep *Endpoint) *resolution {
	cl := &resolution{kind: ep.Kind, ns: ep.Namespace, ips: ep.IPs, nets: ep.Nets, ports: ep.Ports, sa: ep.ServiceAccount}
	labels := ep.Labels
	switch ep.Kind {
	case EndpointExternal:
		if len(ep.IPs) == 1 {
			// An address the cluster knows is that pod or host.
			if w := ix.podAt(ep.IPs[0]); w != nil {
				cl.kind, cl.ns, cl.workload = EndpointWorkload, w.Namespace, w
				labels, cl.sa, cl.ports = w.Labels, w.ServiceAccount, w.Ports
			} else if h, ok := ix.hosts.byIP[ep.IPs[0]]; ok {
				cl.kind, cl.host = EndpointHost, h
			}
		}
	case EndpointWorkload:
		if ep.WorkloadKind == "Pod" {
			if p, ok := ix.ns(ep.Namespace).pods[ep.Name]; ok {
				cl.workload = ix.ns(ep.Namespace).podOwner[ep.Name]
				labels, cl.sa, cl.ports, cl.ips = p.Labels, p.ServiceAccount, p.Ports, p.IPs
				break
			}
		}
		if w := ix.resolveName(ep.Namespace, ep.Name, ep.WorkloadKind, selector.Map(ep.Labels)); w != nil {
			cl.workload = w
			labels, cl.sa, cl.ports, cl.ips = w.Labels, w.ServiceAccount, w.Ports, w.IPs
		}
	case EndpointHost:
		if h, ok := ix.hosts.byName[ep.Name]; ok {
			cl.host = h
		} else if h := ix.hostOnNode(ep.Name); h != nil {
			// Flow logs may name a host endpoint by its node.
			cl.host = h
		}
	case EndpointNetworkSet:
		if s, ok := ix.setByName[nsName{ep.Namespace, ep.Name}]; ok {
			cl.set = s
			labels, cl.nets, cl.ips = s.Labels, s.Nets, nil
		}
	}
	if cl.workload != nil && cl.workload.HostNetwork && cl.kind == EndpointWorkload {
		// Calico makes no workload endpoint for a host-network pod: its traffic is the
		// node's, no pod policy applies to it and no pod selector matches it.
		cl.kind, cl.hostNetwork = EndpointHost, true
	}
	if h := cl.host; h != nil {
		labels, cl.ips, cl.ports = h.Labels, h.IPs, h.Ports
	}
	if cl.kind != EndpointWorkload && cl.kind != EndpointNetworkSet {
		cl.ns = ""
	}
	if cl.kind == EndpointWorkload && cl.sa == "" {
		cl.sa = "default"
	}

	cl.labels = selector.Map{}
	for k, v := range labels {
		if !strings.HasPrefix(k, "projectcalico.org/") {
			cl.labels[k] = v
		}
	}
	if cl.ns != "" {
		cl.nsLabels, cl.nsKnown = c.NamespaceLabels(cl.ns)
		cl.labels[labelCalicoNamespace] = cl.ns
	}
	if cl.kind == EndpointWorkload {
		cl.labels[labelCalicoOrchestrator] = "k8s"
		cl.labels[labelCalicoServiceAccount] = cl.sa
		if l, ok := ix.ns(cl.ns).saLabels[cl.sa]; ok {
			cl.saLabels = l
		} else {
			cl.saLabels = selector.Map{labelCalicoName: cl.sa}
		}
		for _, s := range ix.ns(cl.ns).services {
			if s.sel.Matches(selector.Map(labels)) {
				cl.services = append(cl.services, svcMember{ns: s.ns, name: s.name, ports: servicePorts(s, cl.ports)})
			}
		}
	}
	if cl.kind == EndpointWorkload || (cl.kind == EndpointHost && cl.host != nil) || cl.kind == EndpointNetworkSet {
		cl.ids = append(cl.ids, identity{labels: cl.labels, ns: cl.ns, nsLabels: cl.nsLabels, workload: cl.kind == EndpointWorkload})
	}
	for _, s := range ix.setsContaining(cl.ips, cl.nets) {
		if cl.set == s {
			continue
		}
		id := identity{labels: selector.Map{}, ns: s.Namespace}
		maps.Copy(id.labels, s.Labels)
		if s.Namespace != "" {
			id.labels[labelCalicoNamespace] = s.Namespace
			id.nsLabels, _ = c.NamespaceLabels(s.Namespace)
		}
		cl.ids = append(cl.ids, id)
	}
	cl.key = cl.contentKey()
	return cl
}

// contentKey identifies the resolved identity: within one engine, classes with equal keys
// evaluate alike.
func (cl *resolution) contentKey() string {
	k := make(keyBuf, 0, 128)
	k.num(uint64(cl.kind))
	k.str(cl.ns)
	k.str(cl.sa)
	k.labels(cl.labels)
	k.ports(cl.ports)
	k.addrs(cl.ips, cl.nets)
	if cl.host != nil {
		k.str("host")
		k.str(cl.host.Name)
		for _, p := range cl.host.Profiles {
			k.str(p)
		}
	}
	if cl.set != nil {
		k.str("set")
		k.str(cl.set.Namespace)
		k.str(cl.set.Name)
	}
	return string(k)
}

// namedPort returns the port number a named port has on this endpoint for proto.
func (cl *resolution) namedPort(name string, proto uint8) (uint16, bool) {
	for _, p := range cl.ports {
		if p.Name == name && uint8(p.Proto) == proto {
			return p.Port, true
		}
	}
	return 0, false
}
