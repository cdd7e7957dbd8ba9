package audit

import (
	"cmp"
	"slices"
	"time"

	"github.com/flowguard/flowguard/api/v1alpha1"
)

// Severity ranks a finding; the values are the rule library's (critical, high, medium, low, info).
type Severity = v1alpha1.Severity

// SeverityRank orders severities: 0 for critical up to 4 for info; unknown severities rank 5.
func SeverityRank(s Severity) int {
	switch s {
	case v1alpha1.SeverityCritical:
		return 0
	case v1alpha1.SeverityHigh:
		return 1
	case v1alpha1.SeverityMedium:
		return 2
	case v1alpha1.SeverityLow:
		return 3
	case v1alpha1.SeverityInfo:
		return 4
	}
	return 5
}

// Severities lists the severities, most severe first.
var severities = [...]Severity{
	v1alpha1.SeverityCritical, v1alpha1.SeverityHigh, v1alpha1.SeverityMedium,
	v1alpha1.SeverityLow, v1alpha1.SeverityInfo,
}

// Finding is one thing one rule found about one object, in the shape every output shares. The
// JSON field order is the order people read a finding in.
type Finding struct {
	Rule     string   `json:"rule"`
	Title    string   `json:"title,omitempty"`
	Severity Severity `json:"severity"`
	Resource Resource `json:"resource"`
	Message  string   `json:"message"`
	Evidence Evidence `json:"evidence"`
	Fix      *Fix     `json:"fix,omitempty"`
}

// Resource names the object a finding is about.
type Resource struct {
	APIVersion string `json:"apiVersion,omitempty"`
	Kind       string `json:"kind"`
	Namespace  string `json:"namespace,omitempty"`
	Name       string `json:"name"`
}

// String is "Kind namespace/name", or "Kind name" for cluster-scoped objects.
func (r Resource) String() string {
	if r.Namespace == "" {
		return r.Kind + " " + r.Name
	}
	return r.Kind + " " + r.Namespace + "/" + r.Name
}

// Evidence is what the rule saw.
type Evidence struct {
	// Flows are the observed flows the finding rests on, most recent first.
	Flows []Flow `json:"flows,omitempty"`
	// FlowsTotal is how many flows the rule reported, which may be more than Flows holds.
	FlowsTotal int `json:"flowsTotal,omitempty"`
	// Facts are the rule's other details, as the rule gave them.
	Facts map[string]any `json:"facts,omitempty"`
}

// Flow is one aggregated observed flow: a source, a destination, a port, what happened to it, how
// many connections it carried (Count) and when.
type Flow struct {
	Source      string    `json:"source"`
	Destination string    `json:"destination"`
	Protocol    string    `json:"protocol,omitempty"`
	Port        int       `json:"port,omitempty"`
	Action      string    `json:"action,omitempty"`
	Count       uint64    `json:"count"`
	FirstSeen   time.Time `json:"firstSeen,omitzero"`
	LastSeen    time.Time `json:"lastSeen,omitzero"`
}

// Fix is what to do about a finding: a sentence and, where the rule computed one, a manifest to
// apply (typically the narrowed policy).
type Fix struct {
	Description string         `json:"description"`
	Policy      map[string]any `json:"policy,omitempty"`
}

// Namespace is the namespace whose owners a finding belongs to: the resource's namespace, or the
// namespace itself for a finding about a Namespace. It is empty for cluster-scoped objects.
func (f Finding) Namespace() string {
	if f.Resource.Namespace != "" {
		return f.Resource.Namespace
	}
	if f.Resource.Kind == "Namespace" && (f.Resource.APIVersion == "" || f.Resource.APIVersion == "v1") {
		return f.Resource.Name
	}
	return ""
}

// compareFindings orders findings most severe first, then by rule, namespace, kind, name and
// message, so that every output is deterministic and caps keep the worst.
func compareFindings(a, b Finding) int {
	return cmp.Or(
		cmp.Compare(SeverityRank(a.Severity), SeverityRank(b.Severity)),
		cmp.Compare(a.Rule, b.Rule),
		cmp.Compare(a.Namespace(), b.Namespace()),
		cmp.Compare(a.Resource.Kind, b.Resource.Kind),
		cmp.Compare(a.Resource.Name, b.Resource.Name),
		cmp.Compare(a.Message, b.Message),
	)
}

// SortFindings sorts findings most severe first, deterministically.
func SortFindings(fs []Finding) { slices.SortStableFunc(fs, compareFindings) }
