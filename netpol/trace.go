package netpol

import (
	"encoding/json"
	"fmt"
	"strings"
)

// Code is the reason as a stable token for machine output: rule, tier-default, no-policy,
// profile, not-enforced.
func (r Reason) Code() string {
	switch r {
	case ReasonRule:
		return "rule"
	case ReasonTierDefault:
		return "tier-default"
	case ReasonNoPolicy:
		return "no-policy"
	case ReasonProfile:
		return "profile"
	case ReasonNotEnforced:
		return "not-enforced"
	}
	return "unknown"
}

// String describes the hit in one line, for example
// "[tier default] KubernetesNetworkPolicy shop/api-allow rule 0: Allow".
func (h Hit) String() string {
	switch h.Reason {
	case ReasonRule:
		return fmt.Sprintf("[tier %s] %s rule %d: %s", h.Tier, refText(h.Policy.Ref), h.RuleIndex, h.Action)
	case ReasonTierDefault:
		return fmt.Sprintf("[tier %s] no rule matched in the policies selecting this endpoint (last: %s): end-of-tier %s",
			h.Tier, refText(h.Policy.Ref), h.Action)
	case ReasonNoPolicy:
		return fmt.Sprintf("no policy selects this endpoint: %s", h.Action)
	case ReasonProfile:
		return fmt.Sprintf("every tier passed: profile %s", h.Action)
	case ReasonNotEnforced:
		return "no policy is enforced at this endpoint: Allow"
	}
	return "unknown"
}

func refText(r PolicyRef) string {
	if r.Namespace == "" {
		return r.Kind.String() + " " + r.Name
	}
	return r.Kind.String() + " " + r.Namespace + "/" + r.Name
}

// hitJSON is a Hit as JSON.
type hitJSON struct {
	Reason string         `json:"reason"`
	Action string         `json:"action"`
	Tier   string         `json:"tier,omitempty"`
	Policy *policyRefJSON `json:"policy,omitempty"`
	Rule   *int           `json:"rule,omitempty"`
	Text   string         `json:"text"`
}

type policyRefJSON struct {
	Kind      string `json:"kind"`
	Namespace string `json:"namespace,omitempty"`
	Name      string `json:"name"`
}

// MarshalJSON writes the hit with its reason code, action, tier, policy and rule index.
func (h Hit) MarshalJSON() ([]byte, error) {
	out := hitJSON{Reason: h.Reason.Code(), Action: h.Action.String(), Tier: h.Tier, Text: h.String()}
	if h.Policy != nil {
		r := h.Policy.Ref
		out.Policy = &policyRefJSON{Kind: r.Kind.String(), Namespace: r.Namespace, Name: r.Name}
	}
	if h.RuleIndex >= -1 {
		i := h.RuleIndex
		out.Rule = &i
	}
	return json.Marshal(out)
}

// MarshalJSON writes {"allowed", "decidedBy", "trace"}.
func (d Decision) MarshalJSON() ([]byte, error) {
	trace := d.Trace
	if trace == nil {
		trace = []Hit{d.Hit}
	}
	type dependsJSON struct {
		On   string `json:"on"`
		Rule Hit    `json:"rule"`
	}
	var dep *dependsJSON
	if d.DependsOn != nil {
		dep = &dependsJSON{On: d.DependsOn.On, Rule: d.DependsOn.Hit}
	}
	return json.Marshal(struct {
		Allowed   bool         `json:"allowed"`
		DecidedBy Hit          `json:"decidedBy"`
		Trace     []Hit        `json:"trace"`
		DependsOn *dependsJSON `json:"dependsOn,omitempty"`
	}{d.Allowed, d.Hit, trace, dep})
}

// MarshalJSON writes {"allowed", "egress", "ingress"}.
func (v Verdict) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Allowed bool     `json:"allowed"`
		Egress  Decision `json:"egress"`
		Ingress Decision `json:"ingress"`
	}{v.Allowed, v.Egress, v.Ingress})
}

// String writes the verdict as people read it: the outcome, then each direction's trace.
func (v Verdict) String() string {
	var b strings.Builder
	if v.Allowed {
		b.WriteString("ALLOWED\n")
	} else {
		b.WriteString("DENIED\n")
	}
	for _, d := range [...]struct {
		name string
		dec  Decision
	}{{"egress (at the source)", v.Egress}, {"ingress (at the destination)", v.Ingress}} {
		word := "allowed"
		if !d.dec.Allowed {
			word = "denied"
		}
		fmt.Fprintf(&b, "  %s: %s\n", d.name, word)
		trace := d.dec.Trace
		if trace == nil {
			trace = []Hit{d.dec.Hit}
		}
		for _, h := range trace {
			fmt.Fprintf(&b, "    - %s\n", h)
		}
		if dep := d.dec.DependsOn; dep != nil {
			fmt.Fprintf(&b, "    ! depends on %s: %s (%s) is passed over without it\n", dep.On, dep.Hit, dep.Hit.Action)
		}
	}
	return b.String()
}
