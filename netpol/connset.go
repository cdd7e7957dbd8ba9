package netpol

import (
	"fmt"
	"slices"
	"strings"

	"github.com/flowguard/flowguard/flows"
)

// portRange is an inclusive range of ports.
type portRange struct{ lo, hi uint16 }

// portProtos are the protocols with ports, in the order connection sets print them.
var portProtos = [...]flows.Protocol{flows.ProtoTCP, flows.ProtoUDP, flows.ProtoSCTP}

func portProtoIndex(p flows.Protocol) int {
	switch p {
	case flows.ProtoTCP:
		return 0
	case flows.ProtoUDP:
		return 1
	case flows.ProtoSCTP:
		return 2
	}
	return -1
}

// ConnSet is a set of connections by protocol and destination port: port ranges (1-65535)
// for TCP, UDP and SCTP, and whole protocols for the others. ICMP types are not
// distinguished: a rule constrained to ICMP types adds nothing to a set.
type ConnSet struct {
	ports [3][]portRange // sorted, disjoint, not adjacent
	other [4]uint64      // bit per protocol number; never 6, 17 or 132
}

// allOther has every protocol without ports.
var allOther = func() (b [4]uint64) {
	for i := range b {
		b[i] = ^uint64(0)
	}
	for _, p := range portProtos {
		b[p/64] &^= 1 << (p % 64)
	}
	return b
}()

// AllConnections returns the set of every connection.
func AllConnections() ConnSet {
	var c ConnSet
	for i := range c.ports {
		c.ports[i] = []portRange{{1, 65535}}
	}
	c.other = allOther
	return c
}

// IsEmpty reports whether the set has no connection.
func (c ConnSet) IsEmpty() bool {
	return len(c.ports[0]) == 0 && len(c.ports[1]) == 0 && len(c.ports[2]) == 0 && c.other == [4]uint64{}
}

// IsAll reports whether the set has every connection.
func (c ConnSet) IsAll() bool { return c.Equal(AllConnections()) }

// Equal reports whether two sets are the same.
func (c ConnSet) Equal(o ConnSet) bool {
	return c.other == o.other && slices.Equal(c.ports[0], o.ports[0]) &&
		slices.Equal(c.ports[1], o.ports[1]) && slices.Equal(c.ports[2], o.ports[2])
}

// Contains reports whether the set has the connection.
func (c ConnSet) Contains(proto flows.Protocol, port uint16) bool {
	i := portProtoIndex(proto)
	if i < 0 {
		return c.other[proto/64]&(1<<(proto%64)) != 0
	}
	for _, r := range c.ports[i] {
		if r.lo <= port && port <= r.hi {
			return true
		}
	}
	return false
}

// Union returns c ∪ o.
func (c ConnSet) Union(o ConnSet) ConnSet {
	var out ConnSet
	for i := range c.ports {
		out.ports[i] = normalise(append(slices.Clone(c.ports[i]), o.ports[i]...))
	}
	for i := range c.other {
		out.other[i] = c.other[i] | o.other[i]
	}
	return out
}

// Intersect returns c ∩ o.
func (c ConnSet) Intersect(o ConnSet) ConnSet {
	var out ConnSet
	for i := range c.ports {
		out.ports[i] = intersectRanges(c.ports[i], o.ports[i])
	}
	for i := range c.other {
		out.other[i] = c.other[i] & o.other[i]
	}
	return out
}

// Subtract returns c \ o.
func (c ConnSet) Subtract(o ConnSet) ConnSet {
	var out ConnSet
	for i := range c.ports {
		out.ports[i] = intersectRanges(c.ports[i], complementRanges(o.ports[i]))
	}
	for i := range c.other {
		out.other[i] = c.other[i] &^ o.other[i]
	}
	return out
}

// addPorts adds a port range of a protocol with ports.
func (c *ConnSet) addPorts(proto flows.Protocol, lo, hi uint16) {
	if i := portProtoIndex(proto); i >= 0 && lo <= hi {
		c.ports[i] = normalise(append(c.ports[i], portRange{max(lo, 1), hi}))
	}
}

// addProtocol adds every connection of a protocol.
func (c *ConnSet) addProtocol(proto flows.Protocol) {
	if i := portProtoIndex(proto); i >= 0 {
		c.ports[i] = []portRange{{1, 65535}}
		return
	}
	c.other[proto/64] |= 1 << (proto % 64)
}

func normalise(rs []portRange) []portRange {
	if len(rs) == 0 {
		return nil
	}
	slices.SortFunc(rs, func(a, b portRange) int { return int(a.lo) - int(b.lo) })
	out := rs[:1]
	for _, r := range rs[1:] {
		last := &out[len(out)-1]
		if uint32(r.lo) <= uint32(last.hi)+1 {
			last.hi = max(last.hi, r.hi)
			continue
		}
		out = append(out, r)
	}
	return out
}

func intersectRanges(a, b []portRange) []portRange {
	var out []portRange
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		lo, hi := max(a[i].lo, b[j].lo), min(a[i].hi, b[j].hi)
		if lo <= hi {
			out = append(out, portRange{lo, hi})
		}
		if a[i].hi < b[j].hi {
			i++
		} else {
			j++
		}
	}
	return out
}

func complementRanges(rs []portRange) []portRange {
	var out []portRange
	next := uint32(1)
	for _, r := range rs {
		if uint32(r.lo) > next {
			out = append(out, portRange{uint16(next), r.lo - 1})
		}
		next = uint32(r.hi) + 1
	}
	if next <= 65535 {
		out = append(out, portRange{uint16(next), 65535})
	}
	return out
}

// String renders the set as connectivity maps write it: "All Connections", or protocols with
// their ports ("TCP 80,8000-8080,UDP 53,ICMP"); "No Connections" when empty.
func (c ConnSet) String() string {
	if c.IsAll() {
		return "All Connections"
	}
	if c.IsEmpty() {
		return "No Connections"
	}
	var parts []string
	for i, p := range portProtos {
		rs := c.ports[i]
		if len(rs) == 0 {
			continue
		}
		name := strings.ToUpper(p.String())
		if len(rs) == 1 && rs[0] == (portRange{1, 65535}) {
			parts = append(parts, name+" 1-65535")
			continue
		}
		for j, r := range rs {
			s := fmt.Sprint(r.lo)
			if r.hi != r.lo {
				s = fmt.Sprintf("%d-%d", r.lo, r.hi)
			}
			if j == 0 {
				s = name + " " + s
			}
			parts = append(parts, s)
		}
	}
	if c.other == allOther {
		parts = append(parts, "all other protocols")
	} else {
		for p := range 256 {
			if c.other[p/64]&(1<<(p%64)) != 0 {
				parts = append(parts, protoName(flows.Protocol(p)))
			}
		}
	}
	return strings.Join(parts, ",")
}

func protoName(p flows.Protocol) string {
	if name, ok := p.PolicyName(); ok {
		return name
	}
	return fmt.Sprintf("protocol %d", p)
}
