package netpol

import (
	"strings"
	"testing"
)

// TestVerdictDependsOn: a rule the dataplane's view of the packet cannot decide (an HTTP
// match, an ICMP type or a source port the question does not give) does not match, and the
// verdict says it depends on it whenever it comes before what decided.
func TestVerdictDependsOn(t *testing.T) {
	cases := map[string]struct {
		policy  string
		port    string
		srcPort uint16
		allowed bool
		// depends is a fragment of the dependency's text; empty for none.
		depends string
	}{
		"an HTTP Deny before an Allow: allowed, but only if the HTTP match does not hold": {
			policy: "  selector: all()\n  ingress:\n  - {action: Deny, http: {methods: [POST]}}\n  - {action: Allow}\n",
			port:   "8080", allowed: true, depends: "an HTTP match",
		},
		"an HTTP Allow alone: denied by the tier's default, unless the application layer allows": {
			policy: "  selector: all()\n  ingress:\n  - {action: Allow, http: {paths: [{prefix: /api}]}}\n",
			port:   "8080", allowed: false, depends: "an HTTP match",
		},
		"an ICMP type rule and a packet of unknown type": {
			policy: "  selector: all()\n  ingress:\n  - {action: Deny, protocol: ICMP, icmp: {type: 8}}\n  - {action: Allow}\n",
			port:   "*/icmp", allowed: true, depends: "the ICMP type",
		},
		"an ICMP type rule and a packet of that type: decided, no dependency": {
			policy: "  selector: all()\n  ingress:\n  - {action: Deny, protocol: ICMP, icmp: {type: 8}}\n  - {action: Allow}\n",
			port:   "8/icmp", allowed: false,
		},
		"a source port rule and an unknown source port": {
			policy: "  selector: all()\n  ingress:\n  - {action: Deny, protocol: UDP, source: {ports: [53]}}\n  - {action: Allow}\n",
			port:   "5353/udp", allowed: true, depends: "the source port",
		},
		"a source port rule and that source port": {
			policy: "  selector: all()\n  ingress:\n  - {action: Deny, protocol: UDP, source: {ports: [53]}}\n  - {action: Allow}\n",
			port:   "5353/udp", srcPort: 53, allowed: false,
		},
		"a source port rule and another source port": {
			policy: "  selector: all()\n  ingress:\n  - {action: Deny, protocol: UDP, source: {ports: [53]}}\n  - {action: Allow}\n",
			port:   "5353/udp", srcPort: 40000, allowed: true,
		},
		"an HTTP rule for another protocol certainly does not match": {
			policy: "  selector: all()\n  ingress:\n  - {action: Deny, protocol: UDP, http: {methods: [GET]}}\n  - {action: Allow}\n",
			port:   "8080", allowed: true,
		},
		"an undecidable rule after the deciding one changes nothing": {
			policy: "  selector: all()\n  ingress:\n  - {action: Allow}\n  - {action: Deny, http: {methods: [POST]}}\n",
			port:   "8080", allowed: true,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			c := mustCluster(t, world, np("p", tc.policy))
			e := NewEngine(c)
			src, _ := c.ParsePeer("prod/api")
			dst, _ := c.ParsePeer("prod/web")
			pkt, err := e.ParsePort(tc.port, dst)
			if err != nil {
				t.Fatal(err)
			}
			pkt.SrcPort = tc.srcPort
			for _, v := range []Verdict{e.Explain(src, dst, pkt), e.Verdict(src, dst, pkt), e.Verdict(src, dst, pkt)} {
				if v.Allowed != tc.allowed {
					t.Errorf("allowed = %v, want %v\n%s", v.Allowed, tc.allowed, v)
				}
				dep := v.Ingress.DependsOn
				switch {
				case tc.depends == "" && dep != nil:
					t.Errorf("depends on %q, want nothing\n%s", dep.On, v)
				case tc.depends != "" && (dep == nil || !strings.Contains(dep.On, tc.depends)):
					t.Errorf("dependency = %+v, want one on %q\n%s", dep, tc.depends, v)
				case tc.depends != "" && !strings.Contains(v.String(), "! depends on "+dep.On):
					t.Errorf("the explanation does not say it depends:\n%s", v)
				}
			}
		})
	}
}
