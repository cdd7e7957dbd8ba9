package rego

import (
	"net/netip"
	"slices"

	"github.com/flowguard/flowguard/flows"
)

// addrBlock is an address range with holes: a Kubernetes ipBlock, or a Calico net with the
// notNets that apply to it.
type addrBlock struct {
	cidr   netip.Prefix
	except []netip.Prefix
}

var (
	anyIPv4 = netip.MustParsePrefix("0.0.0.0/0")
	anyIPv6 = netip.MustParsePrefix("::/0")
)

// networkBlocks is the address space a flow log's aggregated network stands for when it kept
// no address: "pub" is IPv4 outside RFC 1918, "pvt" the RFC 1918 blocks (IPv4, as Calico
// defines them, and as recommend writes them).
func networkBlocks(name string) []addrBlock {
	rfc1918 := flows.PrivateNets()
	switch name {
	case "pub":
		return []addrBlock{{cidr: anyIPv4, except: rfc1918}}
	case "pvt":
		out := make([]addrBlock, len(rfc1918))
		for i, p := range rfc1918 {
			out[i] = addrBlock{cidr: p}
		}
		return out
	}
	return nil
}

// k8sRuleBlocks reads the addresses a Kubernetes rule's from/to list admits: every address
// when the list is absent or empty, otherwise its ipBlocks (selector peers admit no outside
// address).
func k8sRuleBlocks(peers any) []addrBlock {
	list, _ := peers.([]any)
	if len(list) == 0 {
		return []addrBlock{{cidr: anyIPv4}, {cidr: anyIPv6}}
	}
	var out []addrBlock
	for _, p := range list {
		ip, _ := p.(map[string]any)["ipBlock"].(map[string]any)
		cidr, err := netip.ParsePrefix(str(ip["cidr"]))
		if err != nil {
			continue
		}
		b := addrBlock{cidr: cidr.Masked()}
		except, _ := ip["except"].([]any)
		for _, e := range except {
			if pe, err := netip.ParsePrefix(str(e)); err == nil {
				b.except = append(b.except, pe.Masked())
			}
		}
		out = append(out, b)
	}
	return out
}

// cutToRule intersects the blocks a peer stands for with those a rule admits, so that a
// narrowed rule never admits an address the original did not.
func cutToRule(want, rule []addrBlock) []addrBlock {
	var out []addrBlock
	for _, w := range want {
		for _, r := range rule {
			if b, ok := intersect(w, r); ok && !slices.ContainsFunc(out, b.equal) {
				out = append(out, b)
			}
		}
	}
	return out
}

// intersect is a ∩ b. Prefixes either nest or are disjoint, so the result is the longer prefix
// less the holes of either that fall inside it; a hole that covers it leaves nothing.
func intersect(a, b addrBlock) (addrBlock, bool) {
	var c netip.Prefix
	switch {
	case a.cidr.Bits() <= b.cidr.Bits() && a.cidr.Contains(b.cidr.Addr()):
		c = b.cidr
	case b.cidr.Bits() <= a.cidr.Bits() && b.cidr.Contains(a.cidr.Addr()):
		c = a.cidr
	default:
		return addrBlock{}, false
	}
	out := addrBlock{cidr: c}
	for _, e := range slices.Concat(a.except, b.except) {
		switch {
		case e.Bits() <= c.Bits() && e.Contains(c.Addr()):
			return addrBlock{}, false
		case e.Bits() > c.Bits() && c.Contains(e.Addr()) && !slices.Contains(out.except, e):
			out.except = append(out.except, e)
		}
	}
	return out, true
}

func (b addrBlock) equal(o addrBlock) bool {
	return b.cidr == o.cidr && slices.Equal(b.except, o.except)
}

// k8s renders the block as a Kubernetes ipBlock.
func (b addrBlock) k8s() map[string]any {
	m := map[string]any{"cidr": b.cidr.String()}
	if len(b.except) > 0 {
		m["except"] = prefixList(b.except)
	}
	return m
}

// cutCalicoPeer narrows a Calico source/destination (a copy of the rule's own) to the blocks a
// peer stands for: its nets become their intersection with the rule's nets (every address when
// it has none), and the blocks' holes join its notNets. The rule's other fields stay, since
// Calico requires all of them to match. When nothing is left, the peer is kept as it was.
func cutCalicoPeer(peer map[string]any, want []addrBlock) {
	nets, _ := peer["nets"].([]any)
	var rule []addrBlock
	for _, n := range nets {
		if p, err := netip.ParsePrefix(str(n)); err == nil {
			rule = append(rule, addrBlock{cidr: p.Masked()})
		}
	}
	if len(nets) == 0 {
		rule = []addrBlock{{cidr: anyIPv4}, {cidr: anyIPv6}}
	}
	cut := cutToRule(want, rule)
	if len(cut) == 0 {
		return
	}
	var cidrs, holes []netip.Prefix
	for _, b := range cut {
		cidrs = append(cidrs, b.cidr)
		for _, e := range b.except {
			if !slices.Contains(holes, e) {
				holes = append(holes, e)
			}
		}
	}
	peer["nets"] = prefixList(cidrs)
	notNets, _ := peer["notNets"].([]any)
	for _, h := range prefixList(holes) {
		if !slices.Contains(notNets, h) {
			notNets = append(slices.Clip(notNets), h)
		}
	}
	if len(notNets) > 0 {
		peer["notNets"] = notNets
	}
}

func prefixList(ps []netip.Prefix) []any {
	out := make([]any, len(ps))
	for i, p := range ps {
		out[i] = p.String()
	}
	return out
}
