package flows

import (
	"strconv"
	"strings"
)

// ReporterFwd marks a flow reported by a node that only forwarded it (newer Calico versions).
const ReporterFwd Reporter = ReporterDst + 1

// ProtoIPIP and ProtoESP are the other protocols Calico names in flow logs.
const (
	ProtoIPIP Protocol = 4
	ProtoESP  Protocol = 50
	// ProtoUDPLite is UDP-Lite, which Calico policies can name.
	ProtoUDPLite Protocol = 136
)

// String returns Calico's short name for the endpoint type: wep, hep, ns or net.
func (t EndpointType) String() string {
	switch t {
	case TypeWorkload:
		return "wep"
	case TypeHost:
		return "hep"
	case TypeNetworkSet:
		return "ns"
	case TypeNetwork:
		return "net"
	}
	return "unknown"
}

// ParseEndpointType reads Calico's short name of an endpoint type.
func ParseEndpointType(s string) (EndpointType, bool) {
	t, ok := endpointTypeOf([]byte(s))
	return t, ok
}

func endpointTypeOf(b []byte) (EndpointType, bool) {
	switch string(b) {
	case "wep":
		return TypeWorkload, true
	case "hep":
		return TypeHost, true
	case "ns":
		return TypeNetworkSet, true
	case "net":
		return TypeNetwork, true
	}
	return 0, false
}

// String returns the protocol's lower-case name as Calico writes it, or its number.
func (p Protocol) String() string {
	switch p {
	case ProtoTCP:
		return "tcp"
	case ProtoUDP:
		return "udp"
	case ProtoICMP:
		return "icmp"
	case ProtoICMPv6:
		return "icmp6"
	case ProtoSCTP:
		return "sctp"
	case ProtoIPIP:
		return "ipip"
	case ProtoESP:
		return "esp"
	}
	return strconv.Itoa(int(p))
}

// PolicyName returns the protocol as Kubernetes and Calico policies spell it (TCP, UDP, SCTP,
// ICMP, ICMPv6, UDPLite), and false for the protocols policies give by number.
func (p Protocol) PolicyName() (string, bool) {
	switch p {
	case ProtoTCP:
		return "TCP", true
	case ProtoUDP:
		return "UDP", true
	case ProtoSCTP:
		return "SCTP", true
	case ProtoICMP:
		return "ICMP", true
	case ProtoICMPv6:
		return "ICMPv6", true
	case ProtoUDPLite:
		return "UDPLite", true
	}
	return "", false
}

// HasPorts reports whether flows of this protocol carry a destination port.
func (p Protocol) HasPorts() bool {
	return p == ProtoTCP || p == ProtoUDP || p == ProtoSCTP
}

// ParseProtocol reads a protocol name ("tcp", "UDP", "icmp6") or an IANA number ("47").
func ParseProtocol(s string) (Protocol, bool) {
	return protocolOf([]byte(s))
}

func protocolOf(b []byte) (Protocol, bool) {
	switch string(b) {
	case "tcp", "TCP":
		return ProtoTCP, true
	case "udp", "UDP":
		return ProtoUDP, true
	case "icmp", "ICMP":
		return ProtoICMP, true
	case "icmp6", "icmpv6", "ICMPv6", "ICMP6":
		return ProtoICMPv6, true
	case "sctp", "SCTP":
		return ProtoSCTP, true
	case "ipip", "IPIP":
		return ProtoIPIP, true
	case "esp", "ESP":
		return ProtoESP, true
	}
	if len(b) == 0 || len(b) > 3 {
		return 0, false
	}
	n := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	if n > 255 {
		return 0, false
	}
	return Protocol(n), true
}

// String returns "allow" or "deny".
func (a Action) String() string {
	switch a {
	case ActionAllow:
		return "allow"
	case ActionDeny:
		return "deny"
	}
	return "unknown"
}

// ParseAction reads "allow" or "deny" in any case.
func ParseAction(s string) (Action, bool) {
	return actionOf([]byte(s))
}

func actionOf(b []byte) (Action, bool) {
	switch string(b) {
	case "allow", "Allow", "ALLOW":
		return ActionAllow, true
	case "deny", "Deny", "DENY":
		return ActionDeny, true
	}
	return 0, false
}

// String returns "src", "dst" or "fwd".
func (r Reporter) String() string {
	switch r {
	case ReporterSrc:
		return "src"
	case ReporterDst:
		return "dst"
	case ReporterFwd:
		return "fwd"
	}
	return "unknown"
}

// ParseReporter reads "src", "dst" or "fwd".
func ParseReporter(s string) (Reporter, bool) {
	return reporterOf([]byte(s))
}

func reporterOf(b []byte) (Reporter, bool) {
	switch string(b) {
	case "src", "Src":
		return ReporterSrc, true
	case "dst", "Dst":
		return ReporterDst, true
	case "fwd", "Fwd":
		return ReporterFwd, true
	}
	return 0, false
}

// String names the endpoint for people: "ns/name" for workloads and namespaced network sets,
// "host:name", "networkset:name" for global sets, and "net:pub" or "net:<ip>" for networks.
func (e *Endpoint) String() string {
	var b strings.Builder
	switch e.Type {
	case TypeWorkload:
		b.WriteString(e.Namespace)
		b.WriteByte('/')
		b.WriteString(e.Name)
	case TypeHost:
		b.WriteString("host:")
		b.WriteString(e.Name)
	case TypeNetworkSet:
		b.WriteString("networkset:")
		if e.Namespace != "" {
			b.WriteString(e.Namespace)
			b.WriteByte('/')
		}
		b.WriteString(e.Name)
	case TypeNetwork:
		b.WriteString("net:")
		if e.IP.IsValid() {
			b.WriteString(e.IP.String())
		} else {
			b.WriteString(e.Name)
		}
	default:
		b.WriteString("unknown:")
		b.WriteString(e.Name)
	}
	return b.String()
}

// String writes the label set as "k=v,k2=v2".
func (l Labels) String() string {
	var b strings.Builder
	for i, kv := range l {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(kv.Key)
		b.WriteByte('=')
		b.WriteString(kv.Value)
	}
	return b.String()
}
