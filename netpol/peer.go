package netpol

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/flowguard/flowguard/flows"
)

// kindAliases maps what people type for a workload kind to the kind.
var kindAliases = map[string]string{
	"deployment": "Deployment", "deployments": "Deployment", "deploy": "Deployment",
	"statefulset": "StatefulSet", "statefulsets": "StatefulSet", "sts": "StatefulSet",
	"daemonset": "DaemonSet", "daemonsets": "DaemonSet", "ds": "DaemonSet",
	"replicaset": "ReplicaSet", "replicasets": "ReplicaSet", "rs": "ReplicaSet",
	"replicationcontroller": "ReplicationController", "replicationcontrollers": "ReplicationController", "rc": "ReplicationController",
	"job": "Job", "jobs": "Job", "cronjob": "CronJob", "cronjobs": "CronJob", "cj": "CronJob",
	"pod": "Pod", "pods": "Pod", "po": "Pod",
}

// ParsePeer resolves a peer written as NAMESPACE/NAME (a Pod or a pod-template workload of
// that name), NAMESPACE/KIND/NAME (when the name is ambiguous), an IP address, or a CIDR
// (some address in it). Workloads must exist in the cluster; an address need not.
func (c *Cluster) ParsePeer(s string) (*Endpoint, error) {
	if ip, err := netip.ParseAddr(s); err == nil {
		return AddrEndpoint(ip), nil
	}
	if p, err := netip.ParsePrefix(s); err == nil {
		return RangeEndpoint(p.Masked().String(), p.Masked()), nil
	}
	parts := strings.Split(s, "/")
	var ns, kind, name string
	switch len(parts) {
	case 2:
		ns, name = parts[0], parts[1]
	case 3:
		ns, name = parts[0], parts[2]
		k, ok := kindAliases[strings.ToLower(parts[1])]
		if !ok {
			return nil, fmt.Errorf("peer %q: unknown workload kind %q", s, parts[1])
		}
		kind = k
	default:
		return nil, fmt.Errorf("peer %q: want NAMESPACE/NAME, NAMESPACE/KIND/NAME, an IP address or a CIDR", s)
	}
	if ns == "" || name == "" {
		return nil, fmt.Errorf("peer %q: want NAMESPACE/NAME, NAMESPACE/KIND/NAME, an IP address or a CIDR", s)
	}
	ix := c.identities()
	var found []WorkloadRef
	if w := ix.workload(WorkloadRef{Kind: "Pod", Namespace: ns, Name: name}); w != nil && (kind == "" || kind == "Pod") {
		found = append(found, w.WorkloadRef)
	}
	for _, k := range workloadKinds {
		if kind != "" && kind != k {
			continue
		}
		if w := ix.workload(WorkloadRef{Kind: k, Namespace: ns, Name: name}); w != nil {
			found = append(found, w.WorkloadRef)
		}
	}
	if _, ok := ix.ns(ns).pods[name]; ok && (kind == "" || kind == "Pod") && !slices.Contains(found, WorkloadRef{"Pod", ns, name}) {
		found = append(found, WorkloadRef{Kind: "Pod", Namespace: ns, Name: name})
	}
	switch len(found) {
	case 1:
		return WorkloadEndpoint(found[0]), nil
	case 0:
		var known []string
		for _, w := range ix.ns(ns).ordered {
			known = append(known, w.Kind+"/"+w.Name)
		}
		if len(known) == 0 {
			return nil, fmt.Errorf("peer %q: no workload or pod in namespace %q", s, ns)
		}
		return nil, fmt.Errorf("peer %q: no such workload or pod (namespace %s has %s)", s, ns, strings.Join(known, ", "))
	}
	alts := make([]string, len(found))
	for i, f := range found {
		alts[i] = f.Namespace + "/" + f.Kind + "/" + f.Name
	}
	return nil, fmt.Errorf("peer %q is ambiguous: write one of %s", s, strings.Join(alts, ", "))
}

// ParsePort reads PORT[/PROTO] as the CLI takes it: a number or a port name, and tcp (the
// default), udp, sctp, icmp, icmpv6 or an IANA number. A named port is resolved on the
// destination: the engine's view of dst must have a container port of that name and
// protocol.
func (e *Engine) ParsePort(s string, dst *Endpoint) (Packet, error) {
	port, protoStr, hasProto := strings.Cut(s, "/")
	pkt := Packet{Proto: 6, ICMPType: -1, ICMPCode: -1}
	if hasProto {
		n, ok := protocolNumbers[strings.ToLower(protoStr)]
		if !ok {
			var num int
			if _, err := fmt.Sscanf(protoStr, "%d", &num); err != nil || num < 1 || num > 255 || fmt.Sprint(num) != protoStr {
				return pkt, fmt.Errorf("port %q: unknown protocol %q", s, protoStr)
			}
			n = uint8(num)
		}
		pkt.Proto = flows.Protocol(n)
	}
	if port == "" || port == "*" {
		return pkt, nil
	}
	var num int
	if _, err := fmt.Sscanf(port, "%d", &num); err == nil && fmt.Sprint(num) == port {
		if num < 0 || num > 65535 {
			return pkt, fmt.Errorf("port %q: out of range", s)
		}
		if !pkt.Proto.HasPorts() {
			// ICMP: the number is the type.
			pkt.ICMPType = int16(num)
			return pkt, nil
		}
		pkt.Port = uint16(num)
		return pkt, nil
	}
	cl := e.classOf(dst)
	n, ok := cl.namedPort(port, uint8(pkt.Proto))
	if !ok {
		var names []string
		for _, p := range cl.ports {
			names = append(names, fmt.Sprintf("%s (%d/%s)", p.Name, p.Port, p.Proto))
		}
		if len(names) == 0 {
			names = []string{"none"}
		}
		return pkt, fmt.Errorf("port %q: %s has no %s port named %q (named ports: %s)", s, dst, pkt.Proto, port, strings.Join(names, ", "))
	}
	pkt.Port = n
	return pkt, nil
}
