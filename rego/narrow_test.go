package rego

import (
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/flowguard/flowguard/flows"
	"github.com/flowguard/flowguard/netpol"
)

// TestNarrowRule documents how an allow rule is rewritten to admit only what was observed
// through it, in particular for peers the flow log names only as Calico's "pub" and "pvt"
// networks: the addresses the flows kept when they kept them, otherwise the address space the
// name stands for, never wider than what the rule admitted.
func TestNarrowRule(t *testing.T) {
	k8s := &netpol.Policy{Kubernetes: true, Ref: netpol.PolicyRef{Kind: netpol.KindKubernetesNetworkPolicy, Namespace: "shop", Name: "web"}}
	calico := &netpol.Policy{Ref: netpol.PolicyRef{Kind: netpol.KindNetworkPolicy, Namespace: "shop", Name: "web"}}
	pub := &flows.Endpoint{Type: flows.TypeNetwork, Name: "pub"}
	pvt := &flows.Endpoint{Type: flows.TypeNetwork, Name: "pvt"}
	addr := &flows.Endpoint{Type: flows.TypeNetwork, Name: "pub", IP: netip.MustParseAddr("203.0.113.7")}
	set := &flows.Endpoint{Type: flows.TypeNetworkSet, Namespace: "shop", Name: "partners"}
	web := &flows.Endpoint{Type: flows.TypeWorkload, Namespace: "payments", Name: "gateway-59d8c7b6a-*",
		Labels: flows.Labels{{Key: "app", Value: "gateway"}, {Key: "pod-template-hash", Value: "59d8c7b6a"}}}
	tcp8080 := []portUse{{proto: flows.ProtoTCP, port: 8080}}
	private := []any{"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"}
	everyIPv4ButPrivate := map[string]any{"ipBlock": map[string]any{"cidr": "0.0.0.0/0", "except": private}}

	tests := map[string]struct {
		policy *netpol.Policy
		dir    netpol.Direction
		orig   map[string]any
		peers  []*flows.Endpoint
		ports  []portUse
		want   []map[string]any
	}{
		"Kubernetes: a workload by its stable labels and namespace": {
			policy: k8s, dir: netpol.Ingress, orig: map[string]any{}, peers: []*flows.Endpoint{web}, ports: tcp8080,
			want: []map[string]any{{
				"from": []any{map[string]any{
					"podSelector":       map[string]any{"matchLabels": map[string]any{"app": "gateway"}},
					"namespaceSelector": map[string]any{"matchLabels": map[string]any{"kubernetes.io/metadata.name": "payments"}},
				}},
				"ports": []any{map[string]any{"protocol": "TCP", "port": int64(8080)}},
			}},
		},
		"Kubernetes: pub of an open rule is every IPv4 address outside RFC 1918": {
			policy: k8s, dir: netpol.Ingress, orig: map[string]any{}, peers: []*flows.Endpoint{pub}, ports: tcp8080,
			want: []map[string]any{{
				"from":  []any{everyIPv4ButPrivate},
				"ports": []any{map[string]any{"protocol": "TCP", "port": int64(8080)}},
			}},
		},
		"Kubernetes: pvt is the RFC 1918 blocks": {
			policy: k8s, dir: netpol.Egress, orig: map[string]any{}, peers: []*flows.Endpoint{pvt}, ports: []portUse{{proto: flows.ProtoTCP, port: 5432}},
			want: []map[string]any{{
				"to": []any{
					map[string]any{"ipBlock": map[string]any{"cidr": "10.0.0.0/8"}},
					map[string]any{"ipBlock": map[string]any{"cidr": "172.16.0.0/12"}},
					map[string]any{"ipBlock": map[string]any{"cidr": "192.168.0.0/16"}},
				},
				"ports": []any{map[string]any{"protocol": "TCP", "port": int64(5432)}},
			}},
		},
		"Kubernetes: pub is cut to the rule's own block, never wider": {
			policy: k8s, dir: netpol.Egress,
			orig: map[string]any{"to": []any{
				map[string]any{"ipBlock": map[string]any{"cidr": "198.51.100.0/24", "except": []any{"198.51.100.128/25"}}},
				map[string]any{"ipBlock": map[string]any{"cidr": "10.1.0.0/16"}},
			}},
			peers: []*flows.Endpoint{pub}, ports: tcp8080,
			want: []map[string]any{{
				"to":    []any{map[string]any{"ipBlock": map[string]any{"cidr": "198.51.100.0/24", "except": []any{"198.51.100.128/25"}}}},
				"ports": []any{map[string]any{"protocol": "TCP", "port": int64(8080)}},
			}},
		},
		"Kubernetes: pub seen with its address is that address": {
			policy: k8s, dir: netpol.Egress, orig: map[string]any{}, peers: []*flows.Endpoint{addr}, ports: tcp8080,
			want: []map[string]any{{
				"to":    []any{map[string]any{"ipBlock": map[string]any{"cidr": "203.0.113.7/32"}}},
				"ports": []any{map[string]any{"protocol": "TCP", "port": int64(8080)}},
			}},
		},
		"Kubernetes: a network set keeps the rule's peers, narrowed to the ports": {
			policy: k8s, dir: netpol.Egress, orig: map[string]any{"to": []any{map[string]any{"ipBlock": map[string]any{"cidr": "0.0.0.0/0"}}}},
			peers: []*flows.Endpoint{set}, ports: tcp8080,
			want: []map[string]any{{
				"to":    []any{map[string]any{"ipBlock": map[string]any{"cidr": "0.0.0.0/0"}}},
				"ports": []any{map[string]any{"protocol": "TCP", "port": int64(8080)}},
			}},
		},
		"Kubernetes: a port aggregated away leaves that protocol's ports open": {
			policy: k8s, dir: netpol.Ingress, orig: map[string]any{}, peers: []*flows.Endpoint{pub},
			ports: []portUse{{proto: flows.ProtoTCP}, {proto: flows.ProtoTCP, port: 443}, {proto: flows.ProtoUDP, port: 53}},
			want: []map[string]any{{
				"from": []any{everyIPv4ButPrivate},
				"ports": []any{
					map[string]any{"protocol": "TCP"},
					map[string]any{"protocol": "UDP", "port": int64(53)},
				},
			}},
		},
		"Kubernetes: ICMP, which a Kubernetes rule cannot name, leaves every port open": {
			policy: k8s, dir: netpol.Ingress, orig: map[string]any{}, peers: []*flows.Endpoint{pvt},
			ports: []portUse{{proto: flows.ProtoICMP}, {proto: flows.ProtoTCP, port: 443}},
			want: []map[string]any{{"from": []any{
				map[string]any{"ipBlock": map[string]any{"cidr": "10.0.0.0/8"}},
				map[string]any{"ipBlock": map[string]any{"cidr": "172.16.0.0/12"}},
				map[string]any{"ipBlock": map[string]any{"cidr": "192.168.0.0/16"}},
			}}},
		},
		"Calico: pub of an open rule is nets 0.0.0.0/0 and notNets RFC 1918": {
			policy: calico, dir: netpol.Ingress, orig: map[string]any{"action": "Allow"}, peers: []*flows.Endpoint{pub}, ports: tcp8080,
			want: []map[string]any{{
				"action": "Allow", "protocol": "TCP",
				"source":      map[string]any{"nets": []any{"0.0.0.0/0"}, "notNets": private},
				"destination": map[string]any{"ports": []any{int64(8080)}},
			}},
		},
		"Calico: pvt is cut to the rule's nets and keeps its notNets": {
			policy: calico, dir: netpol.Egress,
			orig:  map[string]any{"action": "Allow", "destination": map[string]any{"nets": []any{"10.0.0.0/8", "203.0.113.0/24"}, "notNets": []any{"10.9.0.0/16"}, "ports": []any{5432}}},
			peers: []*flows.Endpoint{pvt}, ports: []portUse{{proto: flows.ProtoTCP, port: 5432}},
			want: []map[string]any{{
				"action": "Allow", "protocol": "TCP",
				"destination": map[string]any{"nets": []any{"10.0.0.0/8"}, "notNets": []any{"10.9.0.0/16"}, "ports": []any{int64(5432)}},
			}},
		},
		"Calico: ICMP gets its own rule, with no ports": {
			policy: calico, dir: netpol.Egress, orig: map[string]any{"action": "Allow"}, peers: []*flows.Endpoint{pvt},
			ports: []portUse{{proto: flows.ProtoICMP}},
			want: []map[string]any{{
				"action": "Allow", "protocol": "ICMP",
				"destination": map[string]any{"nets": private},
			}},
		},
		"Calico: one rule per peer and protocol": {
			policy: calico, dir: netpol.Ingress, orig: map[string]any{"action": "Allow"}, peers: []*flows.Endpoint{web, addr},
			ports: []portUse{{proto: flows.ProtoTCP, port: 8080}, {proto: flows.ProtoUDP, port: 8125}},
			want: []map[string]any{
				{"action": "Allow", "protocol": "TCP", "source": map[string]any{"selector": "app == 'gateway'", "namespaceSelector": "kubernetes.io/metadata.name == 'payments'"}, "destination": map[string]any{"ports": []any{int64(8080)}}},
				{"action": "Allow", "protocol": "UDP", "source": map[string]any{"selector": "app == 'gateway'", "namespaceSelector": "kubernetes.io/metadata.name == 'payments'"}, "destination": map[string]any{"ports": []any{int64(8125)}}},
				{"action": "Allow", "protocol": "TCP", "source": map[string]any{"nets": []any{"203.0.113.7/32"}}, "destination": map[string]any{"ports": []any{int64(8080)}}},
				{"action": "Allow", "protocol": "UDP", "source": map[string]any{"nets": []any{"203.0.113.7/32"}}, "destination": map[string]any{"ports": []any{int64(8125)}}},
			},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			byName := map[string]*flows.Endpoint{}
			var names []string
			for _, e := range tc.peers {
				names = append(names, endpointText(e))
				byName[endpointText(e)] = e
			}
			got := narrowRule(tc.policy, tc.dir, tc.orig, names, byName, tc.ports)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("narrowed rule (-want +got):\n%s", diff)
			}
		})
	}
}
