package netpol

import (
	"net/netip"
	"testing"

	"github.com/flowguard/flowguard/flows"
)

// probes are the packets connectivity is checked against verdicts with.
var probes = []Packet{TCP(53), UDP(53), TCP(80), TCP(443), TCP(5432), SCTP(7777), TCP(7777), TCP(8080),
	TCP(9090), TCP(32000), TCP(32768), TCP(32769), UDP(5353), PacketOf(flows.ProtoICMP, 0), PacketOf(47, 0)}

// TestConnectivityAgreesWithVerdicts: for every pair of workloads, and between workloads and
// sample outside addresses, a connection is in the connectivity map exactly when Verdict
// allows it, whatever mix of Kubernetes and Calico policies decides.
func TestConnectivityAgreesWithVerdicts(t *testing.T) {
	policies := map[string]string{
		"no policies": "",
		"Kubernetes semantics": docs(
			knp("deny", "  podSelector: {}\n  policyTypes: [Ingress, Egress]\n"),
			knp("web", "  podSelector: {matchLabels: {app: web}}\n  ingress:\n  - from: [{namespaceSelector: {matchLabels: {env: dev}}}, {podSelector: {matchLabels: {app: client}}}]\n    ports: [{port: http}, {port: 32000, endPort: 32768}]\n  - from: [{ipBlock: {cidr: 192.168.0.0/16, except: [192.168.1.0/24]}}]\n"),
			knp("db", "  podSelector: {matchLabels: {app: db}}\n  ingress: [{from: [{podSelector: {matchLabels: {tier: backend}}}], ports: [{port: pg}, {port: repl, protocol: SCTP}]}]\n"),
			knp("egress", "  podSelector: {matchLabels: {tier: backend}}\n  egress: [{to: [{podSelector: {}}]}, {ports: [{port: 53, protocol: UDP}]}]\n"),
		),
		"Calico tiers, Pass, Deny, sets and services": docs(
			tier("security", "  order: 100\n  defaultAction: Pass\n"),
			gns("bad", "{threat: known}", "192.168.1.0/24"),
			gnp("block", "  tier: security\n  selector: all()\n  ingress:\n  - {action: Deny, source: {namespaceSelector: global(), selector: threat == 'known'}}\n  - {action: Pass, source: {namespaceSelector: env == 'dev'}}\n  - {action: Deny, protocol: UDP}\n"),
			np("web", "  order: 10\n  selector: app == 'web'\n  ingress:\n  - {action: Allow, protocol: TCP, destination: {ports: ['8000:8080']}}\n  - {action: Deny, protocol: TCP, source: {nets: [10.0.0.0/8]}}\n  - {action: Allow, notProtocol: TCP}\n"),
			np("api", "  selector: app == 'db'\n  ingress:\n  - {action: Allow, protocol: TCP, source: {services: {name: api}}, destination: {notPorts: [pg]}}\n"),
			np("eg", "  selector: app == 'api'\n  types: [Egress]\n  egress:\n  - {action: Allow, destination: {services: {name: api}}}\n  - {action: Allow, protocol: TCP, destination: {selector: tier == 'backend', ports: [pg]}}\n  - {action: Allow, destination: {notNets: [10.0.0.0/8]}}\n"),
			knp("dev", "  podSelector: {}\n  policyTypes: [Ingress]\n"),
		),
	}
	outside := []netip.Addr{netip.MustParseAddr("8.8.8.8"), netip.MustParseAddr("192.168.1.9"),
		netip.MustParseAddr("192.168.2.9"), netip.MustParseAddr("10.9.9.9")}
	for name, objs := range policies {
		t.Run(name, func(t *testing.T) {
			c := mustCluster(t, world, objs)
			e := NewEngine(c)
			type key struct{ src, dst string }
			got := map[key]ConnSet{}
			for _, edge := range e.Connectivity() {
				got[key{edge.Src.String(), edge.Dst.String()}] = edge.Conns
			}
			var peers []*Endpoint
			for _, w := range c.Workloads() {
				peers = append(peers, WorkloadEndpoint(w.WorkloadRef))
			}
			check := func(src, dst *Endpoint, conns func() (ConnSet, bool)) {
				for _, pkt := range probes {
					if pkt.Proto == flows.ProtoICMP {
						continue // connectivity does not distinguish ICMP types
					}
					want := e.Verdict(src, dst, pkt).Allowed
					set, ok := conns()
					if have := ok && set.Contains(pkt.Proto, pkt.Port); have != want {
						t.Errorf("%s -> %s %s/%d: connectivity says %v (%s), verdict %v\n%s",
							src, dst, pkt.Proto, pkt.Port, have, set, want, e.Explain(src, dst, pkt))
					}
				}
			}
			for _, s := range peers {
				for _, d := range peers {
					if s == d {
						continue
					}
					check(s, d, func() (ConnSet, bool) {
						set, ok := got[key{s.String(), d.String()}]
						return set, ok
					})
				}
				for _, ip := range outside {
					ext := AddrEndpoint(ip)
					find := func(src, dst bool) func() (ConnSet, bool) {
						return func() (ConnSet, bool) {
							for k, set := range got {
								other := k.src
								if src {
									if k.dst != s.String() {
										continue
									}
								} else {
									if k.src != s.String() {
										continue
									}
									other = k.dst
								}
								if rangesContain(other, ip) {
									return set, true
								}
							}
							return ConnSet{}, false
						}
					}
					check(ext, s, find(true, false))
					check(s, ext, find(false, true))
				}
			}
		})
	}
}

// rangesContain reports whether a printed list of ranges ("a-b,c/d") contains ip.
func rangesContain(list string, ip netip.Addr) bool {
	for _, part := range splitComma(list) {
		if p, err := netip.ParsePrefix(part); err == nil {
			if p.Contains(ip) {
				return true
			}
			continue
		}
		for i := range part {
			if part[i] == '-' {
				lo, err1 := netip.ParseAddr(part[:i])
				hi, err2 := netip.ParseAddr(part[i+1:])
				if err1 == nil && err2 == nil && lo.Compare(ip) <= 0 && ip.Compare(hi) <= 0 {
					return true
				}
			}
		}
	}
	return false
}

func splitComma(s string) []string {
	var out []string
	start := 0
	for i := range s {
		if s[i] == ',' {
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}

func TestConnSetString(t *testing.T) {
	tests := map[string]struct {
		set  func() ConnSet
		want string
	}{
		"everything": {set: AllConnections, want: "All Connections"},
		"nothing":    {set: func() ConnSet { return ConnSet{} }, want: "No Connections"},
		"ports and ranges": {set: func() ConnSet {
			var c ConnSet
			c.addPorts(flows.ProtoTCP, 8080, 8080)
			c.addPorts(flows.ProtoTCP, 80, 80)
			c.addPorts(flows.ProtoTCP, 9000, 9100)
			c.addPorts(flows.ProtoUDP, 53, 53)
			return c
		}, want: "TCP 80,8080,9000-9100,UDP 53"},
		"adjacent ranges merge": {set: func() ConnSet {
			var c ConnSet
			c.addPorts(flows.ProtoTCP, 80, 89)
			c.addPorts(flows.ProtoTCP, 90, 99)
			return c
		}, want: "TCP 80-99"},
		"a whole protocol and ICMP": {set: func() ConnSet {
			var c ConnSet
			c.addProtocol(flows.ProtoSCTP)
			c.addProtocol(flows.ProtoICMP)
			return c
		}, want: "SCTP 1-65535,ICMP"},
		"everything but one port": {set: func() ConnSet {
			var c ConnSet
			c.addPorts(flows.ProtoTCP, 22, 22)
			return AllConnections().Subtract(c)
		}, want: "TCP 1-21,23-65535,UDP 1-65535,SCTP 1-65535,all other protocols"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := tc.set().String(); got != tc.want {
				t.Errorf("String() = %q, want %q", got, tc.want)
			}
		})
	}
}
