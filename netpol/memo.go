package netpol

import "sync"

// Verdicts are memoised per source class, keyed by destination class and packet, in a
// compact form (what decided each direction; the rest follows from it).

// memoLimit bounds each source class's memo; past it verdicts are computed but not kept, so
// a long-lived engine's memory stays bounded by what it was asked first.
const memoLimit = 1 << 14

// memo is one source class's verdicts.
type memo struct {
	mu sync.RWMutex
	m  map[uint64]compactVerdict
}

type compactHit struct {
	policy *Policy
	rule   int32
	reason Reason
	action Action
	dep    *Dependency
}

type compactVerdict struct{ egress, ingress compactHit }

// memoKey packs the question: destination class, view, protocol and port (for ICMP, which
// has no port, the type and code take the port's place).
func memoKey(v view, dst *class, pkt *Packet) uint64 {
	port := uint64(pkt.Port)
	if !pkt.Proto.HasPorts() {
		port = uint64(uint8(pkt.ICMPType))<<8 | uint64(uint8(pkt.ICMPCode))
		if pkt.ICMPType < 0 {
			port = 1 << 16 // unknown type: distinct from every known one
		}
	}
	return uint64(uint32(dst.id))<<32 | port<<15 | uint64(pkt.Proto)<<1 | uint64(v)
}

func (m *memo) get(k uint64) (compactVerdict, bool) {
	m.mu.RLock()
	v, ok := m.m[k]
	m.mu.RUnlock()
	return v, ok
}

func (m *memo) put(k uint64, v compactVerdict) {
	m.mu.Lock()
	if m.m == nil {
		m.m = map[uint64]compactVerdict{}
	}
	if len(m.m) < memoLimit {
		m.m[k] = v
	}
	m.mu.Unlock()
}

func compact(d Decision) compactHit {
	h := d.Hit
	return compactHit{policy: h.Policy, rule: int32(h.RuleIndex), reason: h.Reason, action: h.Action, dep: d.DependsOn}
}

func (c compactHit) decision() Decision {
	h := Hit{Reason: c.reason, Action: c.action, Policy: c.policy, RuleIndex: int(c.rule)}
	if c.policy != nil {
		h.Tier = c.policy.Tier
	}
	return Decision{Allowed: c.action == ActionAllow, Hit: h, DependsOn: c.dep}
}

func (c compactVerdict) verdict() Verdict {
	v := Verdict{Egress: c.egress.decision(), Ingress: c.ingress.decision()}
	v.Allowed = v.Egress.Allowed && v.Ingress.Allowed
	return v
}
