package goldmane

import (
	"fmt"
	"strconv"

	"github.com/flowguard/flowguard/flows"
	pb "github.com/flowguard/flowguard/flows/goldmane/proto"
)

// policyKinds maps Goldmane's policy kinds to the short kinds of Calico's newer policy-hit
// naming, which the flow-log parser also produces.
var policyKinds = map[pb.PolicyKind]string{
	pb.PolicyKind_CalicoNetworkPolicy:           flows.KindNetworkPolicy,
	pb.PolicyKind_GlobalNetworkPolicy:           flows.KindGlobalNetworkPolicy,
	pb.PolicyKind_StagedNetworkPolicy:           flows.KindStagedNetworkPolicy,
	pb.PolicyKind_StagedGlobalNetworkPolicy:     flows.KindStagedGlobalNetworkPolicy,
	pb.PolicyKind_StagedKubernetesNetworkPolicy: flows.KindStagedKubernetesNetworkPolicy,
	pb.PolicyKind_NetworkPolicy:                 flows.KindKubernetesNetworkPolicy,
	pb.PolicyKind_AdminNetworkPolicy:            flows.KindAdminNetworkPolicy,
	pb.PolicyKind_BaselineAdminNetworkPolicy:    flows.KindBaselineAdminNetworkPolicy,
	pb.PolicyKind_ClusterNetworkPolicy:          flows.KindClusterNetworkPolicy,
	pb.PolicyKind_Profile:                       flows.KindProfile,
}

// trace converts one list of policy hits, sharing the result with earlier identical lists.
func (c *Converter) trace(field string, hits []*pb.PolicyHit) ([]flows.PolicyHit, error) {
	if len(hits) == 0 {
		return nil, nil
	}
	c.buf = c.buf[:0]
	for _, h := range hits {
		c.buf = appendHitKey(c.buf, h)
		if h != nil && h.Trigger != nil {
			c.buf = appendHitKey(c.buf, h.Trigger)
		}
		c.buf = append(c.buf, 1)
	}
	if t, ok := c.hits[string(c.buf)]; ok {
		return t, nil
	}
	out := make([]flows.PolicyHit, len(hits))
	for i, h := range hits {
		hit, pe := convertHit(h)
		if pe != nil {
			path := field + "[" + strconv.Itoa(i) + "]"
			if pe.Field != "" {
				path += "." + pe.Field
			}
			pe.Field = path
			return nil, pe
		}
		out[i] = hit
	}
	// Goldmane sends hits in trace order already; sort as flow logs are, by index.
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j].Index < out[j-1].Index; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	if c.hits == nil || len(c.hits) >= c.limit() {
		c.hits = make(map[string][]flows.PolicyHit, 256)
	}
	c.hits[string(c.buf)] = out
	return out, nil
}

// appendHitKey appends every field of h that convertHit reads, so equal keys convert alike.
func appendHitKey(b []byte, h *pb.PolicyHit) []byte {
	if h == nil {
		return append(b, 2)
	}
	b = strconv.AppendInt(b, int64(h.Kind), 10)
	b = append(b, 0)
	b = append(b, h.Namespace...)
	b = append(b, 0)
	b = append(b, h.Name...)
	b = append(b, 0)
	b = append(b, h.Tier...)
	b = append(b, 0)
	b = strconv.AppendInt(b, int64(h.Action), 10)
	b = append(b, 0)
	b = strconv.AppendInt(b, h.PolicyIndex, 10)
	b = append(b, 0)
	b = strconv.AppendInt(b, h.RuleIndex, 10)
	return append(b, 0)
}

// convertHit converts one hit. An end-of-tier hit names its tier's default action; the policy
// it reports, as in flow logs, is the trigger: the first policy of the tier that selected the
// flow.
//
// A refused hit yields a ParseError whose Field is relative to the hit.
func convertHit(h *pb.PolicyHit) (flows.PolicyHit, *flows.ParseError) {
	if h == nil {
		return flows.PolicyHit{}, hitError(flows.ReasonMissing, "", "empty policy hit")
	}
	out := flows.PolicyHit{Tier: h.Tier}
	switch h.Action {
	case pb.Action_Allow:
		out.Action = flows.HitAllow
	case pb.Action_Deny:
		out.Action = flows.HitDeny
	case pb.Action_Pass:
		out.Action = flows.HitPass
	default:
		return flows.PolicyHit{}, hitError(flows.ReasonValue, "action", "unknown policy action "+h.Action.String())
	}
	if h.PolicyIndex < 0 || h.PolicyIndex > maxRuleIndex {
		return flows.PolicyHit{}, hitError(flows.ReasonValue, "policy_index", fmt.Sprintf("policy index %d out of range", h.PolicyIndex))
	}
	out.Index = int(h.PolicyIndex)
	named := h
	if h.Kind == pb.PolicyKind_EndOfTier {
		if h.Trigger == nil {
			return flows.PolicyHit{}, hitError(flows.ReasonMissing, "trigger", "end-of-tier hit has no trigger")
		}
		named = h.Trigger
		out.RuleIndex = -1
	} else {
		if h.RuleIndex < -2 || h.RuleIndex > maxRuleIndex {
			return flows.PolicyHit{}, hitError(flows.ReasonValue, "rule_index", fmt.Sprintf("rule index %d out of range", h.RuleIndex))
		}
		out.RuleIndex = int(h.RuleIndex)
	}
	kind, ok := policyKinds[named.Kind]
	if !ok {
		field := "kind"
		if named != h {
			field = "trigger.kind"
		}
		return flows.PolicyHit{}, hitError(flows.ReasonValue, field, "unknown policy kind "+named.Kind.String())
	}
	out.Kind = kind
	out.Namespace = named.Namespace
	out.Name = named.Name
	if out.Name == "" {
		return flows.PolicyHit{}, hitError(flows.ReasonMissing, "name", "policy hit has no name")
	}
	if kind == flows.KindProfile {
		// Goldmane reports profiles without a tier; flow logs put them in the pseudo-tier.
		out.Tier = flows.ProfileTier
	}
	return out, nil
}

func hitError(reason flows.Reason, field, msg string) *flows.ParseError {
	return &flows.ParseError{Reason: reason, Field: field, Msg: msg}
}
