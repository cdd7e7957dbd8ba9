package netpol

import (
	"net/netip"
	"slices"
	"strings"
)

// AddrRange is an inclusive range of addresses of one family.
type AddrRange struct{ From, To netip.Addr }

// String writes the range as a CIDR when it is one, else "from-to".
func (r AddrRange) String() string {
	if ps := r.prefixes(); len(ps) == 1 {
		return ps[0].String()
	}
	return r.From.String() + "-" + r.To.String()
}

// prefixes splits the range into the fewest CIDRs that cover it exactly.
func (r AddrRange) prefixes() []netip.Prefix {
	var out []netip.Prefix
	lo := r.From
	for lo.IsValid() && lo.Compare(r.To) <= 0 {
		bits := lo.BitLen()
		// Widen while the prefix still starts at lo and ends within the range.
		for bits > 0 {
			p := netip.PrefixFrom(lo, bits-1).Masked()
			if p.Addr() != lo || lastAddr(p).Compare(r.To) > 0 {
				break
			}
			bits--
		}
		p := netip.PrefixFrom(lo, bits)
		out = append(out, p)
		last := lastAddr(p)
		if last == r.To {
			break
		}
		lo = last.Next()
	}
	return out
}

// lastAddr returns the last address of a prefix.
func lastAddr(p netip.Prefix) netip.Addr {
	a := p.Masked().Addr()
	b := a.AsSlice()
	for i := p.Bits(); i < len(b)*8; i++ {
		b[i/8] |= 0x80 >> (i % 8)
	}
	out, _ := netip.AddrFromSlice(b)
	return out
}

// universe returns the whole address space of a family.
func universe(v6 bool) AddrRange {
	if v6 {
		return AddrRange{netip.IPv6Unspecified(), lastAddr(netip.MustParsePrefix("::/0"))}
	}
	return AddrRange{netip.IPv4Unspecified(), netip.AddrFrom4([4]byte{255, 255, 255, 255})}
}

// atoms splits a family's address space at every boundary of the prefixes given, so that each
// atom lies wholly inside or wholly outside each of them.
func atoms(space AddrRange, cuts []netip.Prefix) []AddrRange {
	is4 := space.From.Is4()
	var bounds []netip.Addr // first addresses of atoms
	bounds = append(bounds, space.From)
	for _, p := range cuts {
		if p.Addr().Is4() == is4 {
			bounds = appendBounds(bounds, p)
		}
	}
	slices.SortFunc(bounds, netip.Addr.Compare)
	bounds = slices.Compact(bounds)
	out := make([]AddrRange, 0, len(bounds))
	for i, b := range bounds {
		to := space.To
		if i+1 < len(bounds) {
			to = bounds[i+1].Prev()
		}
		out = append(out, AddrRange{b, to})
	}
	return out
}

// appendBounds appends the first address of p and the first address after it, where the
// address space is cut at p.
func appendBounds(bounds []netip.Addr, p netip.Prefix) []netip.Addr {
	bounds = append(bounds, p.Masked().Addr())
	if n := lastAddr(p).Next(); n.IsValid() && n.Is4() == p.Addr().Is4() {
		bounds = append(bounds, n)
	}
	return bounds
}

// mergeRanges joins adjacent ranges; input must be sorted.
func mergeRanges(rs []AddrRange) []AddrRange {
	var out []AddrRange
	for _, r := range rs {
		if n := len(out); n > 0 && out[n-1].To.Next() == r.From {
			out[n-1].To = r.To
			continue
		}
		out = append(out, r)
	}
	return out
}

func joinRanges(rs []AddrRange) string {
	parts := make([]string, len(rs))
	for i, r := range rs {
		parts[i] = r.String()
	}
	return strings.Join(parts, ",")
}
