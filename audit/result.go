package audit

import (
	"cmp"
	"slices"
	"time"

	"github.com/flowguard/flowguard/api/v1alpha1"
)

// Result is everything one audit found, before it is rendered or written as reports.
type Result struct {
	// EvaluatedAt is the time of the cluster snapshot (offline: the end of the flow window).
	EvaluatedAt time.Time
	// Window is the span of observed traffic the rules judged by; nil when no flows were given.
	Window *Window
	// Namespaces are the audited namespaces, sorted; a namespace without findings is clean, not
	// absent.
	Namespaces []string
	// Findings, most severe first (see SortFindings).
	Findings []Finding
	// Skipped are rules that did not run, with why.
	Skipped []Skipped
}

// Window is a span of time, start inclusive, end exclusive.
type Window struct {
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
}

// Skipped is a rule that did not run.
type Skipped struct {
	Rule   string `json:"rule"`
	Reason string `json:"reason"`
}

// Summary is a result in numbers; every count in it is exact.
type Summary struct {
	EvaluatedAt time.Time               `json:"evaluatedAt"`
	Window      *Window                 `json:"window,omitempty"`
	Score       int                     `json:"score"`
	Total       int                     `json:"total"`
	BySeverity  v1alpha1.SeverityCounts `json:"bySeverity"`
	ByRule      []v1alpha1.RuleCount    `json:"byRule,omitempty"`
	Namespaces  []NamespaceSummary      `json:"namespaces"`
	Cluster     NamespaceSummary        `json:"clusterScoped"`
	Skipped     []Skipped               `json:"rulesSkipped,omitempty"`
}

// NamespaceSummary is one namespace's share of a result; for the cluster-scoped share Namespace
// is empty.
type NamespaceSummary struct {
	Namespace  string                  `json:"namespace,omitempty"`
	Score      int                     `json:"score"`
	Total      int                     `json:"total"`
	BySeverity v1alpha1.SeverityCounts `json:"bySeverity"`
}

type namespaceAcc struct {
	counts v1alpha1.SeverityCounts
	total  int
}

// Score is 100 minus the findings' penalties (critical 25, high 10, medium 3, low 1, info 0),
// floored at 0. It is computed per namespace, where it means something to the namespace's owner;
// a cluster's score is the mean of its namespaces' scores and the cluster-scoped score.
func Score(c v1alpha1.SeverityCounts) int {
	// One critical finding costs a quarter of the score; info findings cost nothing.
	p := 25*int64(c.Critical) + 10*int64(c.High) + 3*int64(c.Medium) + int64(c.Low)
	return int(max(0, 100-p))
}

func addCount(c *v1alpha1.SeverityCounts, s Severity) {
	switch s {
	case v1alpha1.SeverityCritical:
		c.Critical++
	case v1alpha1.SeverityHigh:
		c.High++
	case v1alpha1.SeverityMedium:
		c.Medium++
	case v1alpha1.SeverityLow:
		c.Low++
	default:
		c.Info++
	}
}

// Summarize counts a result's findings by severity, rule and namespace and scores them.
// Namespaces of findings that are not in r.Namespaces are added, so no finding goes uncounted.
func (r Result) Summarize() Summary {
	s := Summary{EvaluatedAt: r.EvaluatedAt, Window: r.Window, Skipped: r.Skipped, Total: len(r.Findings)}
	byNamespace := make(map[string]*namespaceAcc, len(r.Namespaces))
	for _, ns := range r.Namespaces {
		byNamespace[ns] = &namespaceAcc{}
	}
	byRule := map[string]*v1alpha1.RuleCount{}
	var cluster namespaceAcc
	for _, f := range r.Findings {
		addCount(&s.BySeverity, f.Severity)
		rc := byRule[f.Rule]
		if rc == nil {
			rc = &v1alpha1.RuleCount{Rule: f.Rule, Severity: f.Severity}
			byRule[f.Rule] = rc
		}
		rc.Count++
		acc := &cluster
		if ns := f.Namespace(); ns != "" {
			if acc = byNamespace[ns]; acc == nil {
				acc = &namespaceAcc{}
				byNamespace[ns] = acc
			}
		}
		addCount(&acc.counts, f.Severity)
		acc.total++
	}
	for _, rc := range byRule {
		s.ByRule = append(s.ByRule, *rc)
	}
	slices.SortFunc(s.ByRule, func(a, b v1alpha1.RuleCount) int {
		return cmp.Or(cmp.Compare(SeverityRank(a.Severity), SeverityRank(b.Severity)), cmp.Compare(b.Count, a.Count), cmp.Compare(a.Rule, b.Rule))
	})
	scoreSum := Score(cluster.counts)
	for ns, acc := range byNamespace {
		ss := NamespaceSummary{Namespace: ns, Score: Score(acc.counts), Total: acc.total, BySeverity: acc.counts}
		scoreSum += ss.Score
		s.Namespaces = append(s.Namespaces, ss)
	}
	slices.SortFunc(s.Namespaces, compareNamespaceSummaries)
	s.Cluster = NamespaceSummary{Score: Score(cluster.counts), Total: cluster.total, BySeverity: cluster.counts}
	s.Score = scoreSum / (len(s.Namespaces) + 1)
	return s
}

// compareNamespaceSummaries puts the worst namespaces first: lowest score, most findings, then by
// name.
func compareNamespaceSummaries(a, b NamespaceSummary) int {
	return cmp.Or(cmp.Compare(a.Score, b.Score), cmp.Compare(b.Total, a.Total), cmp.Compare(a.Namespace, b.Namespace))
}

// FindingsIn returns the findings that belong to namespace ns ("" for cluster-scoped ones), in
// result order.
func (r Result) FindingsIn(ns string) []Finding {
	var out []Finding
	for _, f := range r.Findings {
		if f.Namespace() == ns {
			out = append(out, f)
		}
	}
	return out
}
