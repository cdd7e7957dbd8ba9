package audit

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"sigs.k8s.io/yaml"

	"github.com/flowguard/flowguard/api/v1alpha1"
)

// DetailLimits cap the size of one violation in a report object, so that a rule reporting ten
// thousand flows or a very long suggested policy cannot crowd out the others.
type DetailLimits struct {
	MaxFlows       int // flows listed as evidence; default 10
	MaxFacts       int // facts listed as evidence; default 20
	MaxFactLen     int // bytes per fact; default 512
	MaxMessageLen  int // bytes of a message or fix description; default 2048 (the CRD's maxLength)
	MaxPolicyLines int // lines of a suggested manifest; default 400 (the CRD's maxItems)
}

func (l DetailLimits) withDefaults() DetailLimits {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&l.MaxFlows, 10)
	def(&l.MaxFacts, 20)
	def(&l.MaxFactLen, 512)
	def(&l.MaxMessageLen, 2048)
	def(&l.MaxPolicyLines, 400)
	return l
}

// toViolation converts a finding to its report form, within limits.
func toViolation(f Finding, l DetailLimits) v1alpha1.Violation {
	v := v1alpha1.Violation{
		Message:  truncate(f.Message, l.MaxMessageLen),
		Resource: v1alpha1.ResourceRef(f.Resource),
		Rule:     f.Rule,
		Severity: f.Severity,
	}
	if f.Fix != nil {
		fix := &v1alpha1.SuggestedFix{Description: truncate(f.Fix.Description, l.MaxMessageLen)}
		if f.Fix.Policy != nil {
			lines := PolicyLines(f.Fix.Policy)
			if len(lines) <= l.MaxPolicyLines {
				fix.Policy = lines
			} else {
				fix.Description = truncate(fix.Description+fmt.Sprintf(
					" (The suggested manifest, %d lines, is too long to list here; `flowguard recommend` prints it.)",
					len(lines)), l.MaxMessageLen)
			}
		}
		v.SuggestedFix = fix
	}
	ev := f.Evidence
	if len(ev.Flows) > 0 || len(ev.Facts) > 0 || ev.FlowsTotal > 0 {
		e := &v1alpha1.Evidence{}
		for i, fl := range ev.Flows {
			if i == l.MaxFlows {
				break
			}
			e.Flows = append(e.Flows, FlowLine(fl))
		}
		e.FlowsOmitted = int32(max(ev.FlowsTotal, len(ev.Flows)) - len(e.Flows))
		for i, k := range slices.Sorted(maps.Keys(ev.Facts)) {
			if i == l.MaxFacts {
				break
			}
			if e.Facts == nil {
				e.Facts = map[string]string{}
			}
			e.Facts[k] = truncate(FactText(ev.Facts[k]), l.MaxFactLen)
		}
		v.SupportingEvidence = e
	}
	return v
}

// FlowLine is one flow on one line, with the number of connections it aggregates:
// "shop/frontend -> shop/api TCP/8080 allow, 1234 connections, last seen 2026-01-02T03:04:05Z".
func FlowLine(f Flow) string {
	var b strings.Builder
	b.WriteString(f.Source)
	b.WriteString(" -> ")
	b.WriteString(f.Destination)
	if p := PortText(f.Protocol, f.Port); p != "" {
		b.WriteByte(' ')
		b.WriteString(p)
	}
	if f.Action != "" {
		b.WriteByte(' ')
		b.WriteString(f.Action)
	}
	fmt.Fprintf(&b, ", %d connection%s", f.Count, plural(f.Count))
	if !f.LastSeen.IsZero() {
		b.WriteString(", last seen ")
		b.WriteString(f.LastSeen.UTC().Format(time.RFC3339))
	}
	return b.String()
}

// PortText is "TCP/8080", "TCP" when the port is unknown, or "" when neither is.
func PortText(proto string, port int) string {
	switch {
	case port > 0 && proto != "":
		return proto + "/" + strconv.Itoa(port)
	case port > 0:
		return strconv.Itoa(port)
	}
	return proto
}

func plural(n uint64) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// FactText renders one evidence fact as text people read: strings and numbers as they are, a
// list as its items joined by commas, an object as "key: value" pairs (keys in order, "_" read
// as a space) joined by semicolons, nested values the same way. Only a value of no JSON shape
// falls back to its JSON.
func FactText(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case nil:
		return ""
	case bool:
		return strconv.FormatBool(x)
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case int, int64, uint64, json.Number:
		return fmt.Sprint(x)
	case []string:
		return strings.Join(x, ", ")
	case []any:
		items := make([]string, len(x))
		for i, item := range x {
			items[i] = FactText(item)
		}
		return strings.Join(items, ", ")
	case map[string]any:
		pairs := make([]string, 0, len(x))
		for _, k := range slices.Sorted(maps.Keys(x)) {
			pairs = append(pairs, strings.ReplaceAll(k, "_", " ")+": "+FactText(x[k]))
		}
		return strings.Join(pairs, "; ")
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// PolicyLines renders a manifest as YAML lines.
func PolicyLines(obj map[string]any) []string {
	b, err := yaml.Marshal(obj)
	if err != nil {
		return []string{"# " + err.Error()}
	}
	return strings.Split(strings.TrimRight(string(b), "\n"), "\n")
}

// truncate cuts s to at most n bytes on a rune boundary, marking the cut with an ellipsis.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	const mark = "…"
	cut := n - len(mark)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + mark
}
