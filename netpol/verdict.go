package netpol

import (
	"github.com/flowguard/flowguard/flows"
)

// Reason says what kind of step decided a direction.
type Reason uint8

const (
	// ReasonRule: a rule matched (Allow, Deny; in a trace also Log and Pass).
	ReasonRule Reason = iota + 1
	// ReasonTierDefault: a policy of the tier selected the endpoint and no rule matched, so
	// the tier's default action applied.
	ReasonTierDefault
	// ReasonNoPolicy: no policy selects the endpoint for this direction; the profile allows.
	ReasonNoPolicy
	// ReasonProfile: every tier that selected the endpoint passed; the profile decided.
	ReasonProfile
	// ReasonNotEnforced: the endpoint is not one policies apply at (an address outside the
	// cluster, a network set); nothing is enforced on this side.
	ReasonNotEnforced
)

// String describes the reason in words.
func (r Reason) String() string {
	switch r {
	case ReasonRule:
		return "rule matched"
	case ReasonTierDefault:
		return "end-of-tier default action"
	case ReasonNoPolicy:
		return "no policy selects this endpoint"
	case ReasonProfile:
		return "profile"
	case ReasonNotEnforced:
		return "no policy is enforced at this endpoint"
	}
	return "unknown"
}

// Hit is one step of an evaluation: a rule that matched, a tier's default, or the profile.
type Hit struct {
	Reason Reason
	Action Action
	// Tier is empty for ReasonNoPolicy, ReasonProfile and ReasonNotEnforced.
	Tier string
	// Policy is the policy whose rule matched; for ReasonTierDefault the last policy of the
	// tier that selected the endpoint. Nil otherwise.
	Policy *Policy
	// RuleIndex is the rule's index in the policy's ingress or egress list; -1 for a tier
	// default, as in Calico's flow logs; -2 when there is no rule.
	RuleIndex int
}

// Decision is the outcome of one direction.
type Decision struct {
	Allowed bool
	// DependsOn, when set, is the first rule evaluated before the deciding step that the
	// dataplane's view of the packet cannot decide (an HTTP match; an ICMP type or source port
	// the question does not give): had it matched, the outcome could differ.
	DependsOn *Dependency
	// Hit is what decided.
	Hit Hit
	// Trace is every step in order, Log and Pass hits included; only Explain fills it.
	Trace []Hit
}

// Dependency is a rule a decision passed over without knowing whether it matches.
type Dependency struct {
	Hit Hit    // the rule, as it would have hit
	On  string // what deciding it needs
}

// Depends reports whether either direction depends on a rule it could not decide.
func (v Verdict) Depends() bool { return v.Egress.DependsOn != nil || v.Ingress.DependsOn != nil }

// Verdict is the outcome for a connection: allowed only if both egress at the source and
// ingress at the destination allow it.
type Verdict struct {
	Allowed bool
	Egress  Decision
	Ingress Decision
}

// Packet is what a verdict is asked about beyond the two endpoints.
type Packet struct {
	Proto flows.Protocol
	// Port is the destination port; 0 when unknown or the protocol has none. A rule that
	// constrains ports never matches an unknown port.
	Port uint16
	// ICMPType and ICMPCode are -1 when unknown; a rule that constrains them does not match
	// an unknown type, and a verdict it could have changed says it depends on it.
	ICMPType, ICMPCode int16
	// SrcPort is the source port; 0 when unknown (flows aggregate it away), in which case a
	// rule constraining source ports does not match and a verdict it could have changed says
	// it depends on it.
	SrcPort uint16
}

// TCP, UDP and SCTP build a Packet to a port.
func TCP(port uint16) Packet {
	return Packet{Proto: flows.ProtoTCP, Port: port, ICMPType: -1, ICMPCode: -1}
}
func UDP(port uint16) Packet {
	return Packet{Proto: flows.ProtoUDP, Port: port, ICMPType: -1, ICMPCode: -1}
}
func SCTP(port uint16) Packet {
	return Packet{Proto: flows.ProtoSCTP, Port: port, ICMPType: -1, ICMPCode: -1}
}

// PacketOf builds a Packet for a protocol and destination port, with ICMP type unknown.
func PacketOf(proto flows.Protocol, port uint16) Packet {
	return Packet{Proto: proto, Port: port, ICMPType: -1, ICMPCode: -1}
}

// Verdict decides whether src may reach dst with pkt under the enforced policies. Verdicts
// are memoised per (source class, destination class, packet).
func (e *Engine) Verdict(src, dst *Endpoint, pkt Packet) Verdict {
	return e.verdict(viewEnforced, e.classOf(src), e.classOf(dst), pkt)
}

// PendingVerdict is Verdict with the staged policies enforced, as Calico's pending_policies
// report: what would happen if every staged policy were applied.
func (e *Engine) PendingVerdict(src, dst *Endpoint, pkt Packet) Verdict {
	return e.verdict(viewPending, e.classOf(src), e.classOf(dst), pkt)
}

// Explain is Verdict with the full trace of both directions, never memoised.
func (e *Engine) Explain(src, dst *Endpoint, pkt Packet) Verdict {
	return e.explain(viewEnforced, src, dst, pkt)
}

// ExplainPending is Explain with the staged policies enforced.
func (e *Engine) ExplainPending(src, dst *Endpoint, pkt Packet) Verdict {
	return e.explain(viewPending, src, dst, pkt)
}

func (e *Engine) explain(v view, src, dst *Endpoint, pkt Packet) Verdict {
	s, d := e.classOf(src), e.classOf(dst)
	// Traces are short: room for a few hits each, in one allocation.
	hits := make([]Hit, 0, 4)
	eg, in := hits[:0:2], hits[2:2:4]
	out := Verdict{
		Egress:  e.decide(v, Egress, s, d, &pkt, &eg),
		Ingress: e.decide(v, Ingress, s, d, &pkt, &in),
	}
	out.Egress.Trace, out.Ingress.Trace = eg, in
	out.Allowed = out.Egress.Allowed && out.Ingress.Allowed
	return out
}

func (e *Engine) verdict(v view, s, d *class, pkt Packet) Verdict {
	if pkt.SrcPort != 0 {
		// Source ports are not in the memo's key: such questions are rare and evaluated fresh.
		eg, in := e.decide(v, Egress, s, d, &pkt, nil), e.decide(v, Ingress, s, d, &pkt, nil)
		return Verdict{Allowed: eg.Allowed && in.Allowed, Egress: eg, Ingress: in}
	}
	k := memoKey(v, d, &pkt)
	if out, ok := s.memo.get(k); ok {
		return out.verdict()
	}
	eg := e.decide(v, Egress, s, d, &pkt, nil)
	in := e.decide(v, Ingress, s, d, &pkt, nil)
	s.memo.put(k, compactVerdict{egress: compact(eg), ingress: compact(in)})
	return Verdict{Allowed: eg.Allowed && in.Allowed, Egress: eg, Ingress: in}
}

// decide evaluates one direction as Felix does: tiers in order; in each tier that has a
// policy selecting the endpoint, policies and rules in order; Allow and Deny end it, Log is
// noted, Pass moves to the next tier; a tier without a match ends in its default action; the
// profile decides last.
func (e *Engine) decide(v view, dir Direction, src, dst *class, pkt *Packet, trace *[]Hit) Decision {
	self := dst
	if dir == Egress {
		self = src
	}
	note := func(h Hit) {
		if trace != nil {
			*trace = append(*trace, h)
		}
	}
	if !self.enforced() {
		h := Hit{Reason: ReasonNotEnforced, Action: ActionAllow, RuleIndex: -2}
		note(h)
		return Decision{Allowed: true, Hit: h}
	}
	pols := e.applicable(self, v, dir)
	if len(pols) == 0 {
		h := e.profile(self, ReasonNoPolicy)
		note(h)
		return Decision{Allowed: h.Action == ActionAllow, Hit: h}
	}
	tiers := e.policies(v).tiers
	var dep *Dependency
	for i := 0; i < len(pols); {
		tier := pols[i].Tier
		j := i
		for j < len(pols) && pols[j].Tier == tier {
			j++
		}
		passed := false
	tierLoop:
		for _, p := range pols[i:j] {
			for ri := range p.Rules[dir] {
				r := &p.Rules[dir][ri]
				if !r.matches(src, dst, pkt) {
					if dep == nil && r.Action != ActionLog {
						if on := r.undecided(src, dst, pkt); on != "" {
							dep = &Dependency{Hit: Hit{Reason: ReasonRule, Action: r.Action, Tier: tier, Policy: p, RuleIndex: r.Index}, On: on}
						}
					}
					continue
				}
				h := Hit{Reason: ReasonRule, Action: r.Action, Tier: tier, Policy: p, RuleIndex: r.Index}
				note(h)
				switch r.Action {
				case ActionAllow, ActionDeny:
					return Decision{Allowed: r.Action == ActionAllow, Hit: h, DependsOn: dep}
				case ActionPass:
					passed = true
					break tierLoop
				}
			}
		}
		if !passed {
			h := Hit{Reason: ReasonTierDefault, Action: tiers[tier].DefaultAction, Tier: tier, Policy: pols[j-1], RuleIndex: -1}
			note(h)
			if h.Action == ActionDeny {
				return Decision{Allowed: false, Hit: h, DependsOn: dep}
			}
		}
		i = j
	}
	h := e.profile(self, ReasonProfile)
	note(h)
	return Decision{Allowed: h.Action == ActionAllow, Hit: h, DependsOn: dep}
}

// profile is the last word: Kubernetes namespaces' profiles allow; a host endpoint allows only
// if it names a profile (Calico's default for host endpoints is deny).
func (e *Engine) profile(self *class, r Reason) Hit {
	h := Hit{Reason: r, Action: ActionAllow, RuleIndex: -2}
	if self.kind == EndpointHost && len(self.host.Profiles) == 0 {
		h.Action = ActionDeny
	}
	return h
}
