package netpol

import (
	"net/netip"

	"github.com/flowguard/flowguard/flows"
)

// An endpoint's addresses are either exact (a pod's or host's IPs, a flow's address) or, when
// only a range is known (a network set, "pub"/"pvt"), a list of prefixes standing for some
// unknown address inside them. A range endpoint is inside a set of nets only when all of it
// is, and outside only when none of it overlaps: an unknown address is never guessed in.

// addrsIn reports whether the endpoint lies in nets: one of its exact addresses does, or every
// one of its ranges is contained in one of nets.
func addrsIn(ips []netip.Addr, ranges, nets []netip.Prefix) bool {
	if len(ips) > 0 {
		for _, ip := range ips {
			if inAny(ip, nets) {
				return true
			}
		}
		return false
	}
	if len(ranges) == 0 {
		return false
	}
	for _, r := range ranges {
		if !containedInAny(r, nets) {
			return false
		}
	}
	return true
}

// addrsOverlap reports whether any of the endpoint's addresses or ranges may lie in nets.
func addrsOverlap(ips []netip.Addr, ranges, nets []netip.Prefix) bool {
	for _, ip := range ips {
		if inAny(ip, nets) {
			return true
		}
	}
	if len(ips) > 0 {
		return false
	}
	for _, r := range ranges {
		for _, n := range nets {
			if r.Overlaps(n) {
				return true
			}
		}
	}
	return false
}

// addrsInBlock reports whether the endpoint is in cidr and outside every except: one exact
// address is, or every range is inside cidr and overlaps no except.
func addrsInBlock(ips []netip.Addr, ranges []netip.Prefix, b *IPBlock) bool {
	if len(ips) > 0 {
		for _, ip := range ips {
			if b.CIDR.Contains(ip) && !inAny(ip, b.Except) {
				return true
			}
		}
		return false
	}
	if len(ranges) == 0 {
		return false
	}
	for _, r := range ranges {
		if !contains(b.CIDR, r) {
			return false
		}
		for _, ex := range b.Except {
			if r.Overlaps(ex) {
				return false
			}
		}
	}
	return true
}

func inAny(ip netip.Addr, nets []netip.Prefix) bool {
	ip = ip.Unmap()
	for _, n := range nets {
		if n.Contains(ip) {
			return true
		}
	}
	return false
}

func containedInAny(r netip.Prefix, nets []netip.Prefix) bool {
	for _, n := range nets {
		if contains(n, r) {
			return true
		}
	}
	return false
}

// contains reports whether prefix outer contains all of inner.
func contains(outer, inner netip.Prefix) bool {
	return outer.Bits() <= inner.Bits() && outer.Contains(inner.Addr())
}

// Private and public address space as Calico's flow logs name it ("pvt" is RFC 1918, "pub"
// the rest of IPv4).
var (
	privateNets = flows.PrivateNets()
	publicNets  = complement4(privateNets)
)

// complement4 returns the IPv4 prefixes not covered by nets (which must be disjoint).
func complement4(nets []netip.Prefix) []netip.Prefix {
	var out []netip.Prefix
	var walk func(p netip.Prefix)
	walk = func(p netip.Prefix) {
		covered, overlaps := false, false
		for _, n := range nets {
			if contains(n, p) {
				covered = true
			}
			if n.Overlaps(p) {
				overlaps = true
			}
		}
		switch {
		case covered:
		case !overlaps:
			out = append(out, p)
		default:
			lo, hi := splitPrefix(p)
			walk(lo)
			walk(hi)
		}
	}
	walk(netip.MustParsePrefix("0.0.0.0/0"))
	return out
}

// splitPrefix halves a prefix.
func splitPrefix(p netip.Prefix) (netip.Prefix, netip.Prefix) {
	bits := p.Bits() + 1
	lo := netip.PrefixFrom(p.Addr(), bits)
	a := p.Addr().As16()
	idx := (bits - 1) / 8
	if p.Addr().Is4() {
		idx += 12
	}
	a[idx] |= 0x80 >> ((bits - 1) % 8)
	hiAddr := netip.AddrFrom16(a)
	if p.Addr().Is4() {
		hiAddr = hiAddr.Unmap()
	}
	return lo, netip.PrefixFrom(hiAddr, bits)
}
