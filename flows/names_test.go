package flows

import "testing"

func TestProtocolNames(t *testing.T) {
	tests := map[string]struct {
		proto      Protocol
		flowLog    string // how Calico's flow logs write it
		policy     string // how policies spell it
		policyName bool
	}{
		"TCP":                      {proto: ProtoTCP, flowLog: "tcp", policy: "TCP", policyName: true},
		"UDP":                      {proto: ProtoUDP, flowLog: "udp", policy: "UDP", policyName: true},
		"SCTP":                     {proto: ProtoSCTP, flowLog: "sctp", policy: "SCTP", policyName: true},
		"ICMP":                     {proto: ProtoICMP, flowLog: "icmp", policy: "ICMP", policyName: true},
		"ICMPv6 is icmp6 in logs":  {proto: ProtoICMPv6, flowLog: "icmp6", policy: "ICMPv6", policyName: true},
		"UDP-Lite, named in rules": {proto: ProtoUDPLite, flowLog: "136", policy: "UDPLite", policyName: true},
		"IPIP, by number in rules": {proto: ProtoIPIP, flowLog: "ipip"},
		"GRE, by number anywhere":  {proto: 47, flowLog: "47"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := tc.proto.String(); got != tc.flowLog {
				t.Errorf("String() = %q, want %q", got, tc.flowLog)
			}
			got, ok := tc.proto.PolicyName()
			if got != tc.policy || ok != tc.policyName {
				t.Errorf("PolicyName() = %q, %v; want %q, %v", got, ok, tc.policy, tc.policyName)
			}
			if back, ok := ParseProtocol(tc.flowLog); !ok || back != tc.proto {
				t.Errorf("ParseProtocol(%q) = %d, %v; want %d", tc.flowLog, back, ok, tc.proto)
			}
		})
	}
}
