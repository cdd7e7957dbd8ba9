package netpol

import (
	"maps"
	"net/netip"
	"slices"
	"strconv"
	"sync/atomic"

	"github.com/flowguard/flowguard/flows"
)

// EndpointKind says what an endpoint is.
type EndpointKind uint8

const (
	// EndpointWorkload is a pod, or the pods of a workload.
	EndpointWorkload EndpointKind = iota + 1
	// EndpointHost is a Calico host endpoint.
	EndpointHost
	// EndpointNetworkSet is a NetworkSet or GlobalNetworkSet: some address in its nets.
	EndpointNetworkSet
	// EndpointExternal is an address, or some address of a range, outside the cluster.
	EndpointExternal
)

// String names the kind as Calico's flow logs do.
func (k EndpointKind) String() string {
	switch k {
	case EndpointWorkload:
		return "wep"
	case EndpointHost:
		return "hep"
	case EndpointNetworkSet:
		return "ns"
	case EndpointExternal:
		return "net"
	}
	return "unknown"
}

// Endpoint is one side of a connection, independent of any engine: what is known about it
// from a flow, a manifest or the command line. An engine resolves it against its cluster
// (the workload its name refers to, its namespace's labels, service account, named ports,
// Services and network sets) when it evaluates it; fields the cluster knows better are
// overridden there, the rest are used as given. Build endpoints with the constructors, treat
// them as immutable, and share them by pointer.
type Endpoint struct {
	Kind EndpointKind
	// Namespace is empty for host endpoints, global network sets and external addresses.
	Namespace string
	// Name is a workload, pod, set or host endpoint name, a flow's aggregated workload name
	// ("frontend-7d9f8b6c5-*"), or "pub"/"pvt" for external space.
	Name string
	// WorkloadKind narrows Name to a kind (Deployment, Pod, ...); empty means any.
	WorkloadKind string
	// Labels, ServiceAccount and Ports are used when the cluster does not know the workload.
	Labels         map[string]string
	ServiceAccount string
	Ports          []NamedPort
	// IPs are exact addresses; Nets stand for some address within them.
	IPs  []netip.Addr
	Nets []netip.Prefix

	key   atomic.Pointer[string]
	bound [2]atomic.Pointer[binding]
}

// binding caches the class an engine resolved an endpoint to.
type binding struct {
	engine *Engine
	class  *class
}

// WorkloadEndpoint returns the endpoint of a workload or pod.
func WorkloadEndpoint(ref WorkloadRef) *Endpoint {
	return &Endpoint{Kind: EndpointWorkload, Namespace: ref.Namespace, Name: ref.Name, WorkloadKind: ref.Kind}
}

// AddrEndpoint returns the endpoint of one address. An engine resolves an address that
// belongs to a pod or host endpoint it knows to that endpoint; any other address is external.
func AddrEndpoint(ip netip.Addr) *Endpoint {
	ip = ip.Unmap()
	return &Endpoint{Kind: EndpointExternal, Name: ip.String(), IPs: []netip.Addr{ip}}
}

// RangeEndpoint returns an external endpoint standing for some address in nets.
func RangeEndpoint(name string, nets ...netip.Prefix) *Endpoint {
	return &Endpoint{Kind: EndpointExternal, Name: name, Nets: slices.Clone(nets)}
}

// FlowEndpoint converts one side of a flow. Workloads keep the flow's aggregated name, labels
// and service account for the engine to resolve; networks ("pub", "pvt") become their address
// space, or their address where the flow kept it.
func FlowEndpoint(fe flows.Endpoint) *Endpoint {
	ep := &Endpoint{Namespace: fe.Namespace, Name: fe.Name, ServiceAccount: fe.ServiceAccount}
	if len(fe.Labels) > 0 {
		ep.Labels = make(map[string]string, len(fe.Labels))
		for _, l := range fe.Labels {
			ep.Labels[l.Key] = l.Value
		}
	}
	if fe.IP.IsValid() {
		ep.IPs = []netip.Addr{fe.IP.Unmap()}
	}
	switch fe.Type {
	case flows.TypeWorkload:
		ep.Kind = EndpointWorkload
		ep.IPs = nil
	case flows.TypeHost:
		ep.Kind = EndpointHost
		ep.Namespace = ""
	case flows.TypeNetworkSet:
		ep.Kind = EndpointNetworkSet
	default:
		ep.Kind = EndpointExternal
		ep.Namespace = ""
		if len(ep.IPs) == 0 {
			switch fe.Name {
			case "pvt":
				ep.Nets = privateNets
			case "pub":
				ep.Nets = publicNets
			}
		}
	}
	return ep
}

// String returns a short human name: ns/name, a host or set name, or an address.
func (ep *Endpoint) String() string {
	switch {
	case ep.Namespace != "" && ep.WorkloadKind != "":
		return ep.Namespace + "/" + ep.Name + "[" + ep.WorkloadKind + "]"
	case ep.Namespace != "":
		return ep.Namespace + "/" + ep.Name
	}
	return ep.Name
}

// intrinsicKey identifies everything the endpoint says about itself; equal keys resolve alike
// in any engine.
func (ep *Endpoint) intrinsicKey() string {
	if k := ep.key.Load(); k != nil {
		return *k
	}
	k := make(keyBuf, 0, 128)
	k.num(uint64(ep.Kind))
	k.str(ep.Namespace)
	k.str(ep.Name)
	k.str(ep.WorkloadKind)
	k.str(ep.ServiceAccount)
	k.labels(ep.Labels)
	k.ports(ep.Ports)
	k.addrs(ep.IPs, ep.Nets)
	key := string(k)
	ep.key.Store(&key)
	return key
}

// keyBuf builds the keys endpoints and classes are interned by. Fields end in '|', which no
// name, label or address contains where it matters: keys only need to be equal for equal
// content.
type keyBuf []byte

func (k *keyBuf) str(s string) {
	*k = append(*k, s...)
	*k = append(*k, '|')
}

func (k *keyBuf) num(n uint64) {
	*k = strconv.AppendUint(*k, n, 10)
	*k = append(*k, '|')
}

func (k *keyBuf) labels(l map[string]string) {
	for _, key := range slices.Sorted(maps.Keys(l)) {
		*k = append(*k, key...)
		*k = append(*k, '=')
		k.str(l[key])
	}
	*k = append(*k, ';')
}

func (k *keyBuf) ports(ps []NamedPort) {
	for _, p := range ps {
		k.str(p.Name)
		k.num(uint64(p.Port))
		k.num(uint64(p.Proto))
	}
	*k = append(*k, ';')
}

func (k *keyBuf) addrs(ips []netip.Addr, nets []netip.Prefix) {
	for _, ip := range ips {
		*k = ip.AppendTo(*k)
		*k = append(*k, ',')
	}
	*k = append(*k, ';')
	for _, n := range nets {
		*k = n.AppendTo(*k)
		*k = append(*k, ',')
	}
	*k = append(*k, ';')
}
