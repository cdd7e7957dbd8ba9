package flows

import (
	"net/netip"
	"time"
)

// EndpointType is the kind of a flow's endpoint, as Calico reports it.
type EndpointType uint8

const (
	// TypeWorkload is a workload endpoint ("wep"): a pod.
	TypeWorkload EndpointType = iota + 1
	// TypeHost is a host endpoint ("hep").
	TypeHost
	// TypeNetworkSet is a NetworkSet or GlobalNetworkSet ("ns").
	TypeNetworkSet
	// TypeNetwork is an address outside the cluster ("net"); its AggrName is "pub" or "pvt".
	TypeNetwork
)

// PrivateNets returns the RFC 1918 address space: what Calico's flow logs call "pvt"; "pub"
// is the rest of IPv4. Every package that speaks of private networks reads this one list.
func PrivateNets() []netip.Prefix {
	return []netip.Prefix{
		netip.MustParsePrefix("10.0.0.0/8"),
		netip.MustParsePrefix("172.16.0.0/12"),
		netip.MustParsePrefix("192.168.0.0/16"),
	}
}

// Protocol is an IANA protocol number.
type Protocol uint8

// Protocol numbers flowguard names.
const (
	ProtoICMP   Protocol = 1
	ProtoTCP    Protocol = 6
	ProtoUDP    Protocol = 17
	ProtoICMPv6 Protocol = 58
	ProtoSCTP   Protocol = 132
)

// Action is what the dataplane did with a flow.
type Action uint8

const (
	ActionAllow Action = iota + 1
	ActionDeny
)

// Reporter says which side observed a flow: the source evaluates egress, the destination ingress.
type Reporter uint8

const (
	ReporterSrc Reporter = iota + 1
	ReporterDst
)

// Endpoint is one side of a flow, at the granularity flowguard aggregates by: a workload
// (pods folded by their aggregated name), a host, a network set, or a network.
type Endpoint struct {
	Type EndpointType
	// Namespace is empty for endpoints that are not namespaced.
	Namespace string
	// Name is the aggregated name: Calico's name_aggr for workloads ("frontend-7d9f8b6c5-*"),
	// the set's name, the host's name, or "pub"/"pvt" for networks.
	Name string
	// Labels are the endpoint's labels as Calico reported them, sorted by key.
	Labels Labels
	// ServiceAccount is the pod's service account, where known.
	ServiceAccount string
	// IP is set only where the source kept it (aggregation levels 0 and 1) and the endpoint is
	// not a workload, so that addresses outside the cluster can be matched against CIDRs.
	IP netip.Addr
}

// Label is one key=value pair.
type Label struct{ Key, Value string }

// Labels is a label set sorted by key, so that equal sets compare and hash alike.
type Labels []Label

// Get returns the value of key and whether it is present.
func (l Labels) Get(key string) (string, bool) {
	for _, kv := range l {
		if kv.Key == key {
			return kv.Value, true
		}
	}
	return "", false
}

// Map returns the labels as a map.
func (l Labels) Map() map[string]string {
	m := make(map[string]string, len(l))
	for _, kv := range l {
		m[kv.Key] = kv.Value
	}
	return m
}

// PolicyHit is one entry of a flow's policy trace: `<idx>|<tier>|<name>|<action>|<ruleIdx>`.
type PolicyHit struct {
	Index int
	Tier  string
	// Kind is the policy kind when the source names it ("np", "gnp", "knp", "snp", ...),
	// derived from either naming scheme.
	Kind      string
	Namespace string
	Name      string
	Action    string
	// RuleIndex is -1 for a tier's end-of-tier default, -2 when unknown.
	RuleIndex int
}

// Record is one flow record after parsing, whatever its source.
type Record struct {
	Src, Dst Endpoint
	// DstPort is zero when the source aggregated it away or the protocol has no ports.
	DstPort  uint16
	Proto    Protocol
	Action   Action
	Reporter Reporter
	Enforced []PolicyHit
	Pending  []PolicyHit

	Bytes, Packets           uint64
	FlowsStarted, FlowsEnded uint64
	Start, End               time.Time

	// Flows is the number of connections the record covers (Calico's num_flows).
	Flows uint64
	// Host is the node that reported the record, where the source names it.
	Host string
	// DstService is the Kubernetes service the destination was reached through, if any.
	DstService Service
	// DstDomains are the domain names the source resolved to reach the destination.
	DstDomains []string
}

// Service names a destination service; fields are empty when the source did not report one.
type Service struct {
	Namespace, Name string
	// PortName is the service port's name; "*" when several ports were aggregated.
	PortName string
	Port     uint16
}
