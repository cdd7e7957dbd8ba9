package regoeval

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"time"

	"github.com/flowguard/flowguard/audit"
	"github.com/flowguard/flowguard/rego"
)

// Keys of a violation's details that the findings model reads; every other key is kept as a fact.
//
//   - "flows": the flow groups the rule rests on, as the flowguard.* builtins return them:
//     {"flow": "SRC -> DST:PORT/PROTO", "count", "last_seen"} and optionally "source",
//     "destination", "port", "protocol", "action", "first_seen".
//   - "total": how many flow groups there were, when "flows" lists only the first few.
//   - "fix": the remedy: a manifest to apply (with kind), a policy rule to put in place of the
//     one at details.path (without kind), or a sentence.
const (
	detailFlows = "flows"
	detailTotal = "total"
	detailFix   = "fix"
)

// FromRego converts the engine's audit result into findings (sorted) and skipped rules.
func FromRego(res rego.Result) ([]audit.Finding, []audit.Skipped) {
	fs := make([]audit.Finding, 0, len(res.Violations))
	for _, v := range res.Violations {
		fs = append(fs, FromViolation(v))
	}
	audit.SortFindings(fs)
	var skipped []audit.Skipped
	for _, r := range res.Skipped {
		skipped = append(skipped, audit.Skipped{Rule: r.ID, Reason: "needs observed traffic, and none is loaded"})
	}
	for _, e := range res.Errors {
		s := audit.Skipped{Rule: e.Rule.ID, Reason: "evaluation failed: " + e.Err.Error()}
		if !slices.Contains(skipped, s) {
			skipped = append(skipped, s)
		}
	}
	return fs, skipped
}

// FromViolation converts one violation.
func FromViolation(v rego.Violation) audit.Finding {
	f := audit.Finding{
		Rule: v.Rule.ID, Title: v.Rule.Title, Severity: audit.Severity(v.Rule.Severity), Message: v.Msg,
		Resource: audit.Resource{APIVersion: v.Resource.APIVersion, Kind: v.Resource.Kind, Namespace: v.Resource.Namespace, Name: v.Resource.Name},
	}
	for k, val := range v.Details {
		switch k {
		case detailFlows:
			if groups, ok := val.([]any); ok {
				for _, g := range groups {
					if m, ok := g.(map[string]any); ok {
						f.Evidence.Flows = append(f.Evidence.Flows, flowFromGroup(m))
					}
				}
				continue
			}
		case detailTotal:
			if n, ok := number(val); ok {
				f.Evidence.FlowsTotal = int(n)
				continue
			}
		case detailFix:
			f.Fix = fixFrom(val, v.Details)
			continue
		}
		if f.Evidence.Facts == nil {
			f.Evidence.Facts = map[string]any{}
		}
		f.Evidence.Facts[k] = val
	}
	if f.Evidence.FlowsTotal < len(f.Evidence.Flows) {
		f.Evidence.FlowsTotal = len(f.Evidence.Flows)
	}
	return f
}

// flowText matches the builtins' flow description "SRC -> DST:PORT/PROTO".
var flowText = regexp.MustCompile(`^(.+) -> (.+?)(?::(\d+))?(?:/([A-Za-z0-9]+))?$`)

func flowFromGroup(m map[string]any) audit.Flow {
	var fl audit.Flow
	if s, ok := m["flow"].(string); ok {
		if p := flowText.FindStringSubmatch(s); p != nil {
			fl.Source, fl.Destination, fl.Protocol = p[1], p[2], p[4]
			fl.Port, _ = strconv.Atoi(p[3])
		} else {
			fl.Source = s
		}
	}
	str := func(key string, into *string) {
		if s, ok := m[key].(string); ok && s != "" {
			*into = s
		}
	}
	str("source", &fl.Source)
	str("destination", &fl.Destination)
	str("protocol", &fl.Protocol)
	str("action", &fl.Action)
	if fl.Action == "" {
		fl.Action = actionOf(m)
	}
	if n, ok := number(m["port"]); ok {
		fl.Port = int(n)
	}
	if n, ok := number(m["count"]); ok && n > 0 {
		fl.Count = uint64(n)
	}
	fl.LastSeen = timeOf(m["last_seen"])
	fl.FirstSeen = timeOf(m["first_seen"])
	return fl
}

// actionOf says what happened to a flow group the builtins return without an "action": from
// flowguard.flows, "allow" or "deny" by its counts (both, with each count, when the group has
// both); from flowguard.impact, the verdict before and after the change, with what decides
// after it ("allow, then deny by StagedNetworkPolicy ns/name spec.ingress[0]").
func actionOf(m map[string]any) string {
	allowed, okA := number(m["allowed"])
	denied, okD := number(m["denied"])
	switch {
	case okA && okD && allowed > 0 && denied > 0:
		return fmt.Sprintf("allow %d, deny %d", int64(allowed), int64(denied))
	case okD && denied > 0:
		return "deny"
	case okA && allowed > 0:
		return "allow"
	}
	before, okB := m["before"].(map[string]any)
	after, okF := m["after"].(map[string]any)
	if !okB || !okF {
		return ""
	}
	verdict := func(v map[string]any) string {
		if allowed, _ := v["allowed"].(bool); allowed {
			return "allow"
		}
		// The side that denies names what decided; egress is checked first, as packets leave
		// the source before they reach the destination.
		for _, side := range []string{"egress", "ingress"} {
			if d, ok := v[side].(map[string]any); ok {
				if allowed, _ := d["allowed"].(bool); !allowed {
					if by, _ := d["decided_by"].(string); by != "" {
						return "deny by " + by
					}
				}
			}
		}
		return "deny"
	}
	return verdict(before) + ", then " + verdict(after)
}

// fixFrom reads details.fix: a manifest, a rule to put in place of details.path, or a sentence.
func fixFrom(val any, details map[string]any) *audit.Fix {
	switch x := val.(type) {
	case string:
		return &audit.Fix{Description: x}
	case map[string]any:
		if kind, ok := x["kind"].(string); ok {
			return &audit.Fix{Description: "Apply this " + kind + ".", Policy: x}
		}
		where := "the rule"
		if path, ok := details["path"].(string); ok && path != "" {
			where = "rule " + path
			if dir, ok := details["direction"].(string); ok && dir != "" {
				where = dir + " " + where
			}
		}
		return &audit.Fix{Description: fmt.Sprintf("Replace %s with this one, narrowed to the observed traffic.", where), Policy: x}
	}
	return nil
}

// number reads a JSON number as the engine hands it over (json.Number, float64 or an integer).
func number(v any) (float64, bool) {
	switch n := v.(type) {
	case float64:
		return n, true
	case int:
		return float64(n), true
	case int64:
		return float64(n), true
	case interface{ Float64() (float64, error) }:
		f, err := n.Float64()
		return f, err == nil
	}
	return 0, false
}

func timeOf(v any) time.Time {
	s, ok := v.(string)
	if !ok {
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}
	}
	return t
}
