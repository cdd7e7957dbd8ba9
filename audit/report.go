package audit

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/flowguard/flowguard/api/v1alpha1"
)

// Size limits that keep every report object far below etcd's 1.5 MiB request limit, whatever the
// number of findings: counts stay exact, listings stop at a count and a byte budget.
const (
	DefaultMaxViolations       = 100
	DefaultViolationByteBudget = 512 << 10
	DefaultNamespaceByteBudget = 256 << 10
	// MaxViolationsLimit matches the CRD's maxItems on violations.
	MaxViolationsLimit = 1000
)

// ReportOptions shape the report objects of one run.
type ReportOptions struct {
	// RunName names every report of the run: the ClusterAuditReport and each namespace's
	// AuditReport. Writing the same run twice therefore overwrites, never duplicates.
	RunName string
	// Schedule is the AuditSchedule's name; empty for a one-off run.
	Schedule string
	// MaxViolations caps the violations listed per object; DefaultMaxViolations when zero,
	// MaxViolationsLimit at most. Negative lists none.
	MaxViolations int
	// ViolationByteBudget caps the JSON size of the violations listed per object.
	ViolationByteBudget int
	// NamespaceByteBudget caps the JSON size of the ClusterAuditReport's namespace list.
	NamespaceByteBudget int
	// Detail caps the size of each listed violation.
	Detail DetailLimits
	// OmittedNote says where to read violations left out of namespace ns ("" for the cluster
	// report); a note pointing at the offline audit and maxViolationsPerReport when nil.
	OmittedNote func(ns string, omitted int) string
}

func (o ReportOptions) withDefaults() ReportOptions {
	switch {
	case o.MaxViolations == 0:
		o.MaxViolations = DefaultMaxViolations
	case o.MaxViolations < 0:
		o.MaxViolations = 0
	case o.MaxViolations > MaxViolationsLimit:
		o.MaxViolations = MaxViolationsLimit
	}
	if o.ViolationByteBudget <= 0 {
		o.ViolationByteBudget = DefaultViolationByteBudget
	}
	if o.NamespaceByteBudget <= 0 {
		o.NamespaceByteBudget = DefaultNamespaceByteBudget
	}
	o.Detail = o.Detail.withDefaults()
	if o.OmittedNote == nil {
		o.OmittedNote = defaultOmittedNote
	}
	return o
}

func defaultOmittedNote(ns string, omitted int) string {
	scope := ""
	if ns != "" {
		scope = " --namespace " + ns
	}
	return fmt.Sprintf("%d violations are counted above but not listed, to keep this object small. "+
		"Run `flowguard audit --kubeconfig KUBECONFIG --flows FLOW-LOGS%s -o json` to list them all, "+
		"or raise the schedule's maxViolationsPerReport (at most %d).", omitted, scope, MaxViolationsLimit)
}

// Reports are the objects one run writes.
type Reports struct {
	Cluster *v1alpha1.ClusterAuditReport
	// Namespaced holds one AuditReport per audited namespace, clean ones included, by name.
	Namespaced []*v1alpha1.AuditReport
}

// BuildReports turns a result into report objects: a ClusterAuditReport with the summary across
// namespaces and the cluster-scoped violations, and an AuditReport per namespace. Counts are
// exact; listings are capped per object (see ReportOptions).
func BuildReports(r Result, opts ReportOptions) Reports {
	opts = opts.withDefaults()
	sum := r.Summarize()
	labels := func() map[string]string {
		l := map[string]string{v1alpha1.RunLabel: labelValue(opts.RunName)}
		if opts.Schedule != "" {
			l[v1alpha1.ScheduleLabel] = labelValue(opts.Schedule)
		}
		return l
	}
	var window *v1alpha1.TimeWindow
	if r.Window != nil {
		window = &v1alpha1.TimeWindow{Start: metav1.NewTime(r.Window.Start), End: metav1.NewTime(r.Window.End)}
	}
	var skipped []string
	for _, s := range r.Skipped {
		skipped = append(skipped, s.Rule+": "+s.Reason)
	}
	base := func(ns string, score, total int, counts v1alpha1.SeverityCounts, findings []Finding) (v1alpha1.ReportSummary, []v1alpha1.Violation) {
		listed, omitted := listViolations(findings, opts)
		rs := v1alpha1.ReportSummary{
			Schedule: opts.Schedule, EvaluatedAt: metav1.NewTime(r.EvaluatedAt), Window: window,
			Score: int32(score), Total: int32(total), BySeverity: counts, ByRule: countByRule(findings),
			Listed: int32(len(listed)), Omitted: int32(omitted), RulesSkipped: skipped,
		}
		if omitted > 0 {
			rs.OmittedNote = opts.OmittedNote(ns, omitted)
		}
		return rs, listed
	}

	byNS := make(map[string][]Finding, len(sum.Namespaces))
	var clusterScoped []Finding
	for _, f := range r.Findings {
		if ns := f.Namespace(); ns != "" {
			byNS[ns] = append(byNS[ns], f)
		} else {
			clusterScoped = append(clusterScoped, f)
		}
	}

	cluster := &v1alpha1.ClusterAuditReport{
		TypeMeta:   metav1.TypeMeta{APIVersion: v1alpha1.GroupVersion.String(), Kind: "ClusterAuditReport"},
		ObjectMeta: metav1.ObjectMeta{Name: opts.RunName, Labels: labels()},
	}
	cs, listed := base("", sum.Score, sum.Total, sum.BySeverity, clusterScoped)
	// The cluster report counts every finding of the run but lists only cluster-scoped ones, so
	// its listed/omitted describe the cluster-scoped share.
	cs.ByRule = sum.ByRule
	cluster.Summary = v1alpha1.ClusterReportSummary{ReportSummary: cs, NamespaceCount: int32(len(sum.Namespaces))}
	cluster.Violations = listed
	budget := opts.NamespaceByteBudget
	for _, ns := range sum.Namespaces {
		if ns.Total == 0 {
			continue
		}
		line := v1alpha1.NamespaceSummary{Namespace: ns.Namespace, Score: int32(ns.Score), Total: int32(ns.Total), BySeverity: ns.BySeverity}
		if size := jsonSize(line); size <= budget {
			budget -= size
			cluster.Summary.Namespaces = append(cluster.Summary.Namespaces, line)
			continue
		}
		cluster.Summary.NamespacesOmitted++
	}

	out := Reports{Cluster: cluster}
	for _, ns := range sortedNamespaces(sum.Namespaces) {
		s, listed := base(ns.Namespace, ns.Score, ns.Total, ns.BySeverity, byNS[ns.Namespace])
		out.Namespaced = append(out.Namespaced, &v1alpha1.AuditReport{
			TypeMeta:   metav1.TypeMeta{APIVersion: v1alpha1.GroupVersion.String(), Kind: "AuditReport"},
			ObjectMeta: metav1.ObjectMeta{Name: opts.RunName, Namespace: ns.Namespace, Labels: labels()},
			Summary:    s,
			Violations: listed,
		})
	}
	return out
}

// listViolations converts findings (already most severe first) until the count or byte budget is
// spent, and returns what it listed and how many it left out.
func listViolations(fs []Finding, opts ReportOptions) ([]v1alpha1.Violation, int) {
	var out []v1alpha1.Violation
	budget := opts.ViolationByteBudget
	for i, f := range fs {
		if len(out) >= opts.MaxViolations {
			return out, len(fs) - i
		}
		v := toViolation(f, opts.Detail)
		size := jsonSize(v)
		if size > budget {
			return out, len(fs) - i
		}
		budget -= size
		out = append(out, v)
	}
	return out, 0
}

func countByRule(fs []Finding) []v1alpha1.RuleCount {
	if len(fs) == 0 {
		return nil
	}
	return Result{Findings: fs}.Summarize().ByRule
}

func sortedNamespaces(nss []NamespaceSummary) []NamespaceSummary {
	out := slices.Clone(nss)
	slices.SortFunc(out, func(a, b NamespaceSummary) int { return strings.Compare(a.Namespace, b.Namespace) })
	return out
}

// jsonSize is the size of v as the API server stores it (JSON; protobuf is not served for CRDs).
func jsonSize(v any) int {
	b, err := json.Marshal(v)
	if err != nil {
		return 0
	}
	return len(b)
}
