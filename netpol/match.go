package netpol

// matches reports whether the rule matches a packet from src to dst.
func (r *Rule) matches(src, dst *class, pkt *Packet) bool { return r.match(src, dst, pkt, false) }

// match is matches; lenient treats what the packet does not say (an HTTP match, an unknown
// ICMP type or source port) as matching, to find the rules a verdict depends on.
func (r *Rule) match(src, dst *class, pkt *Packet, lenient bool) bool {
	if r.HTTP && !lenient {
		// HTTP criteria need Calico's application layer; the dataplane alone matches nothing.
		return false
	}
	proto := uint8(pkt.Proto)
	if r.Protocol.set && r.Protocol.num != proto {
		return false
	}
	if r.NotProtocol.set && r.NotProtocol.num == proto {
		return false
	}
	if r.IPVersion != 0 {
		if f := family(src, dst); f != 0 && f != r.IPVersion {
			return false
		}
	}
	unknownICMP := lenient && pkt.ICMPType < 0
	if r.ICMP != nil && !unknownICMP && !r.ICMP.matches(pkt) {
		return false
	}
	if r.NotICMP != nil && !unknownICMP && (pkt.ICMPType < 0 || r.NotICMP.matches(pkt)) {
		return false
	}
	return r.Src.matches(src, pkt, true, lenient) && r.Dst.matches(dst, pkt, false, lenient)
}

// undecided says what a rule that does not match a packet would need to be decided, when the
// dataplane's view of the packet could make it match: "an HTTP match", "the ICMP type",
// "the source port"; empty when the rule certainly does not match.
func (r *Rule) undecided(src, dst *class, pkt *Packet) string {
	if !r.match(src, dst, pkt, true) {
		return ""
	}
	switch {
	case r.HTTP:
		return "an HTTP match, which Calico's application layer decides"
	case (r.ICMP != nil || r.NotICMP != nil) && pkt.ICMPType < 0:
		return "the ICMP type and code, which the question does not give"
	}
	return "the source port, which the question does not give"
}

func (m *ICMPMatch) matches(pkt *Packet) bool {
	if pkt.ICMPType < 0 {
		return false
	}
	if m.Type >= 0 && int(pkt.ICMPType) != m.Type {
		return false
	}
	return m.Code < 0 || int(pkt.ICMPCode) == m.Code
}

// family returns 4 or 6 when an endpoint's addresses say (an exact address, or ranges all of
// one family), 0 when unknown.
func family(src, dst *class) int {
	for _, c := range [...]*class{src, dst} {
		if len(c.ips) > 0 {
			if c.ips[0].Is4() {
				return 4
			}
			return 6
		}
		if len(c.nets) > 0 {
			is4 := c.nets[0].Addr().Is4()
			same := true
			for _, n := range c.nets[1:] {
				same = same && n.Addr().Is4() == is4
			}
			if same && is4 {
				return 4
			} else if same {
				return 6
			}
		}
	}
	return 0
}

// matches reports whether the endpoint c, on the source (isSrc) or destination side of pkt,
// satisfies every constraint of the entity. Source ports are checked against pkt.SrcPort; an
// unknown one (0) matches only when lenient.
func (en *Entity) matches(c *class, pkt *Packet, isSrc, lenient bool) bool {
	if !en.endpointMatches(c, isSrc) {
		return false
	}
	if isSrc {
		if len(en.Ports) == 0 && len(en.NotPorts) == 0 {
			return true
		}
		if pkt.SrcPort == 0 {
			return lenient
		}
		sp := *pkt
		sp.Port = sp.SrcPort
		return (len(en.Ports) == 0 || portsMatch(en.Ports, c, &sp)) && (len(en.NotPorts) == 0 || !portsMatch(en.NotPorts, c, &sp))
	}
	if en.Services != nil && !c.servesPort(en.Services, pkt) {
		return false
	}
	if len(en.Ports) > 0 && !portsMatch(en.Ports, c, pkt) {
		return false
	}
	if len(en.NotPorts) > 0 && (pkt.Port == 0 || portsMatch(en.NotPorts, c, pkt)) {
		return false
	}
	return true
}

// endpointMatches checks the constraints that do not depend on the packet: peers, nets,
// selectors, service accounts and Service membership.
func (en *Entity) endpointMatches(c *class, isSrc bool) bool {
	if en.Peers != nil && !en.peersMatch(c) {
		return false
	}
	if len(en.Nets) > 0 && !addrsIn(c.ips, c.nets, en.Nets) {
		return false
	}
	if len(en.NotNets) > 0 && addrsOverlap(c.ips, c.nets, en.NotNets) {
		return false
	}
	if en.scope != scopeAny && !en.selects(c) {
		return false
	}
	if en.NotSel != nil {
		for i := range c.ids {
			if en.NotSel.Matches(c.ids[i].labels) {
				return false
			}
		}
	}
	if en.Services != nil && c.service(en.Services) == nil {
		return false
	}
	return true
}

// peersMatch applies Kubernetes peer semantics: any one peer; a selector peer matches pods
// only (namespaceSelector {} is every pod, never an outside address); an ipBlock matches
// addresses in its CIDR outside its excepts.
func (en *Entity) peersMatch(c *class) bool {
	for i := range en.Peers {
		p := &en.Peers[i]
		if p.IPBlock != nil {
			if addrsInBlock(c.ips, c.nets, p.IPBlock) {
				return true
			}
			continue
		}
		if c.kind != EndpointWorkload {
			continue
		}
		if p.NS == nil {
			if c.ns != p.ns {
				continue
			}
		} else if !p.NS.Matches(c.nsLabels) {
			continue
		}
		if p.Pods != nil && !p.Pods.Matches(c.labels) {
			continue
		}
		return true
	}
	return false
}

// selects applies a Calico entity's selector fields: one of the endpoint's label identities
// must be in scope (own namespace, every endpoint, or namespaces the namespaceSelector
// matches) and match the selector and service-account match.
func (en *Entity) selects(c *class) bool {
	for i := range c.ids {
		id := &c.ids[i]
		switch en.scope {
		case scopeOwn:
			if id.ns != en.ns {
				continue
			}
		case scopeSelected:
			if id.nsLabels == nil {
				if !en.NSSel.MatchesNamespaceOf(nil) {
					continue
				}
			} else if !en.NSSel.MatchesNamespaceOf(id.nsLabels) {
				continue
			}
		}
		if en.Sel != nil && !en.Sel.Matches(id.labels) {
			continue
		}
		if en.SA != nil && !(id.workload && en.SA.matches(c)) {
			continue
		}
		return true
	}
	return false
}

func (m *SAMatch) matches(c *class) bool {
	if len(m.Names) > 0 {
		found := false
		for _, n := range m.Names {
			if n == c.sa {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return m.Sel == nil || m.Sel.Matches(c.saLabels)
}

// service returns c's membership of the Service, or nil when c does not back it.
func (c *class) service(ref *ServiceRef) *svcMember {
	for i := range c.services {
		if c.services[i].ns == ref.Namespace && c.services[i].name == ref.Name {
			return &c.services[i]
		}
	}
	return nil
}

// servesPort reports whether the packet goes to one of the Service's target ports on c.
func (c *class) servesPort(ref *ServiceRef, pkt *Packet) bool {
	m := c.service(ref)
	if m == nil || pkt.Port == 0 {
		return false
	}
	for _, p := range m.ports {
		if p.Proto == pkt.Proto && p.Port == pkt.Port {
			return true
		}
	}
	return false
}

// portsMatch reports whether the packet's destination port is one of ports; named ports are
// resolved on the destination endpoint c. Ports only match protocols that have them.
func portsMatch(ports []PortMatch, c *class, pkt *Packet) bool {
	if !pkt.Proto.HasPorts() {
		return false
	}
	proto := uint8(pkt.Proto)
	for i := range ports {
		p := &ports[i]
		if p.Proto != 0 && p.Proto != proto {
			continue
		}
		switch {
		case p.Any:
			return true
		case pkt.Port == 0:
			continue
		case p.Name != "":
			if n, ok := c.namedPort(p.Name, proto); ok && n == pkt.Port {
				return true
			}
		case p.Lo <= pkt.Port && pkt.Port <= p.Hi:
			return true
		}
	}
	return false
}
