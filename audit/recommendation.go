package audit

import (
	"bytes"
	"fmt"
	"strings"

	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/flowguard/flowguard/api/v1alpha1"
	"github.com/flowguard/flowguard/recommend"
)

// Limits of the recommendation section of an AuditReport: with the violations' budget it keeps
// the object far below etcd's limit.
const (
	DefaultRecommendationByteBudget = 256 << 10
	// MaxRecommendationLines matches the CRD's maxItems on recommendation.policies.
	MaxRecommendationLines = 20000
)

// RecommendationOptions shape the recommendation sections of one run's reports.
type RecommendationOptions struct {
	// ByteBudget caps the JSON size of each namespace's policy lines;
	// DefaultRecommendationByteBudget when zero.
	ByteBudget int
	// Staged are the namespaces whose StagedNetworkPolicy was applied in this run.
	Staged map[string]bool
	// StagedWritten counts the StagedNetworkPolicies applied in this run.
	StagedWritten int
	// OmittedNote says where to read the policies left out of namespace ns; a note pointing at
	// `flowguard recommend` when nil.
	OmittedNote func(ns string, style recommend.Style, omitted, total int) string
}

func defaultRecommendationNote(ns string, style recommend.Style, omitted, total int) string {
	return fmt.Sprintf("%d of %d recommended policies are counted above but not listed, to keep this object small. "+
		"Run `flowguard recommend --flows FLOW-LOGS -f MANIFESTS --namespace %s --style %s` to print them all.",
		omitted, total, ns, style)
}

// AttachRecommendation adds rec to reps: each namespaced AuditReport whose namespace rec covers
// gets its recommendation section (status, exact policy count, the policies as YAML lines up to
// the byte budget), and the ClusterAuditReport counts those namespaces by status. Namespaces rec
// does not cover (skipped system namespaces) get no section.
func AttachRecommendation(reps Reports, rec *recommend.Result, opts RecommendationOptions) error {
	if opts.ByteBudget <= 0 {
		opts.ByteBudget = DefaultRecommendationByteBudget
	}
	if opts.OmittedNote == nil {
		opts.OmittedNote = defaultRecommendationNote
	}
	sum := &v1alpha1.RecommendationsSummary{Style: v1alpha1.RecommendationStyle(rec.Style), StagedWritten: int32(opts.StagedWritten)}
	for _, r := range reps.Namespaced {
		ns := rec.Namespace(r.Namespace)
		if ns == nil {
			continue
		}
		section, err := recommendationSection(ns, rec.Style, opts)
		if err != nil {
			return err
		}
		r.Recommendation = section
		sum.Policies += section.PolicyCount
		switch ns.Status {
		case recommend.StatusLearning:
			sum.Learning++
		case recommend.StatusStabilizing:
			sum.Stabilizing++
		case recommend.StatusStable:
			sum.Stable++
		}
	}
	if reps.Cluster != nil {
		reps.Cluster.Summary.Recommendations = sum
	}
	return nil
}

// recommendationSection lists a namespace's policies, in the order to apply them, as long as
// each whole policy fits the byte and line budgets: a policy is listed whole or not at all.
func recommendationSection(ns *recommend.Namespace, style recommend.Style, opts RecommendationOptions) (*v1alpha1.NamespaceRecommendation, error) {
	out := &v1alpha1.NamespaceRecommendation{
		Status: v1alpha1.RecommendationStatus(ns.Status), Style: v1alpha1.RecommendationStyle(style),
		PolicyCount: int32(len(ns.Objects)), Staged: opts.Staged[ns.Name],
	}
	budget := opts.ByteBudget
	for i, obj := range ns.Objects {
		var buf bytes.Buffer
		if err := recommend.WriteYAML(&buf, []client.Object{obj}, nil); err != nil {
			return nil, fmt.Errorf("recommendation for namespace %s: %w", ns.Name, err)
		}
		lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
		if i > 0 {
			lines = append([]string{"---"}, lines...)
		}
		size := jsonSize(lines)
		if size > budget || len(out.Policies)+len(lines) > MaxRecommendationLines {
			out.Omitted = int32(len(ns.Objects) - i)
			out.OmittedNote = opts.OmittedNote(ns.Name, style, len(ns.Objects)-i, len(ns.Objects))
			break
		}
		budget -= size
		out.Policies = append(out.Policies, lines...)
		out.Listed++
	}
	return out, nil
}
