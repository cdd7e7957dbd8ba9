package audit

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/flowguard/flowguard/api/v1alpha1"
	"github.com/flowguard/flowguard/recommend"
)

// policy is a NetworkPolicy as recommend writes them: typed, labelled, selecting by labels.
func policy(ns, name string) *networkingv1.NetworkPolicy {
	return &networkingv1.NetworkPolicy{
		TypeMeta: metav1.TypeMeta{APIVersion: "networking.k8s.io/v1", Kind: "NetworkPolicy"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: map[string]string{recommend.LabelManagedBy: "flowguard"},
			Annotations: map[string]string{recommend.AnnotationStatus: "stable"}},
		Spec: networkingv1.NetworkPolicySpec{
			PodSelector: metav1.LabelSelector{MatchLabels: map[string]string{"app": name}},
			PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress},
		},
	}
}

// policyLines is policy(ns, name) as the report lists it, written out by hand so that a change
// of the rendering shows here.
func policyLines(ns, name string) []string {
	return []string{
		"apiVersion: networking.k8s.io/v1",
		"kind: NetworkPolicy",
		"metadata:",
		"  annotations:",
		"    flowguard.dev/recommendation-status: stable",
		"  labels:",
		"    app.kubernetes.io/managed-by: flowguard",
		"  name: " + name,
		"  namespace: " + ns,
		"spec:",
		"  podSelector:",
		"    matchLabels:",
		"      app: " + name,
		"  policyTypes:",
		"  - Ingress",
	}
}

func recommendation(nss ...recommend.Namespace) *recommend.Result {
	return &recommend.Result{Style: recommend.StyleKubernetes, Namespaces: nss}
}

func recNamespace(name string, status recommend.Status, policies ...string) recommend.Namespace {
	n := recommend.Namespace{Name: name, Status: status}
	for _, p := range policies {
		n.Objects = append(n.Objects, client.Object(policy(name, p)))
	}
	return n
}

func TestAttachRecommendation(t *testing.T) {
	twoPolicies := recommendation(recNamespace("shop", recommend.StatusStable, "api", "web"))
	firstOnly := jsonSize(policyLines("shop", "api"))
	cases := map[string]struct {
		rec        *recommend.Result
		opts       RecommendationOptions
		namespaces []string
		want       map[string]*v1alpha1.NamespaceRecommendation
		summary    v1alpha1.RecommendationsSummary
	}{
		"every policy fits and is listed whole, documents separated": {
			rec: twoPolicies, namespaces: []string{"shop"},
			want: map[string]*v1alpha1.NamespaceRecommendation{"shop": {
				Status: "stable", Style: "k8s", PolicyCount: 2, Listed: 2,
				Policies: append(append(policyLines("shop", "api"), "---"), policyLines("shop", "web")...),
			}},
			summary: v1alpha1.RecommendationsSummary{Style: "k8s", Stable: 1, Policies: 2},
		},
		"the byte budget stops at a whole policy and says where to read the rest": {
			rec: twoPolicies, namespaces: []string{"shop"}, opts: RecommendationOptions{ByteBudget: firstOnly},
			want: map[string]*v1alpha1.NamespaceRecommendation{"shop": {
				Status: "stable", Style: "k8s", PolicyCount: 2, Listed: 1, Omitted: 1,
				OmittedNote: "1 of 2 recommended policies are counted above but not listed, to keep this object small. " +
					"Run `flowguard recommend --flows FLOW-LOGS -f MANIFESTS --namespace shop --style k8s` to print them all.",
				Policies: policyLines("shop", "api"),
			}},
			summary: v1alpha1.RecommendationsSummary{Style: "k8s", Stable: 1, Policies: 2},
		},
		"a budget smaller than one policy lists none but counts all": {
			rec: twoPolicies, namespaces: []string{"shop"}, opts: RecommendationOptions{ByteBudget: firstOnly - 1,
				OmittedNote: func(ns string, _ recommend.Style, omitted, total int) string { return ns }},
			want: map[string]*v1alpha1.NamespaceRecommendation{"shop": {
				Status: "stable", Style: "k8s", PolicyCount: 2, Omitted: 2, OmittedNote: "shop",
			}},
			summary: v1alpha1.RecommendationsSummary{Style: "k8s", Stable: 1, Policies: 2},
		},
		"namespaces are counted by status; uncovered ones get no section": {
			rec: recommendation(
				recNamespace("learning", recommend.StatusLearning),
				recNamespace("settling", recommend.StatusStabilizing, "api"),
				recNamespace("shop", recommend.StatusStable, "api"),
				recNamespace("unaudited", recommend.StatusStable, "api"),
			),
			namespaces: []string{"kube-system", "learning", "settling", "shop"},
			opts:       RecommendationOptions{Staged: map[string]bool{"shop": true}, StagedWritten: 1},
			want: map[string]*v1alpha1.NamespaceRecommendation{
				"kube-system": nil,
				"learning":    {Status: "learning", Style: "k8s"},
				"settling":    {Status: "stabilizing", Style: "k8s", PolicyCount: 1, Listed: 1, Policies: policyLines("settling", "api")},
				"shop":        {Status: "stable", Style: "k8s", PolicyCount: 1, Listed: 1, Staged: true, Policies: policyLines("shop", "api")},
			},
			summary: v1alpha1.RecommendationsSummary{Style: "k8s", Learning: 1, Stabilizing: 1, Stable: 1, Policies: 2, StagedWritten: 1},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			reps := BuildReports(Result{EvaluatedAt: evaluatedAt, Namespaces: tc.namespaces}, ReportOptions{RunName: "run"})
			if err := AttachRecommendation(reps, tc.rec, tc.opts); err != nil {
				t.Fatal(err)
			}
			got := map[string]*v1alpha1.NamespaceRecommendation{}
			for _, r := range reps.Namespaced {
				got[r.Namespace] = r.Recommendation
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("recommendation sections (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(&tc.summary, reps.Cluster.Summary.Recommendations); diff != "" {
				t.Errorf("cluster summary (-want +got):\n%s", diff)
			}
			for _, r := range reps.Namespaced {
				if rec := r.Recommendation; rec != nil && jsonSize(rec.Policies) > max(tc.opts.ByteBudget, 0) && tc.opts.ByteBudget > 0 {
					t.Errorf("namespace %s lists %d bytes of policies, over the budget of %d", r.Namespace, jsonSize(rec.Policies), tc.opts.ByteBudget)
				}
			}
		})
	}
}

// TestAttachRecommendationLineCap: however small each policy, the listing stops at the CRD's
// maxItems on lines, and the count stays exact.
func TestAttachRecommendationLineCap(t *testing.T) {
	n := MaxRecommendationLines/len(policyLines("shop", "p")) + 10
	var names []string
	for i := range n {
		names = append(names, "p"+strings.Repeat("x", i%3))
	}
	reps := BuildReports(Result{EvaluatedAt: evaluatedAt, Namespaces: []string{"shop"}}, ReportOptions{RunName: "run"})
	if err := AttachRecommendation(reps, recommendation(recNamespace("shop", recommend.StatusStable, names...)),
		RecommendationOptions{ByteBudget: 1 << 30}); err != nil {
		t.Fatal(err)
	}
	rec := reps.Namespaced[0].Recommendation
	if len(rec.Policies) > MaxRecommendationLines || rec.PolicyCount != int32(n) || rec.Listed+rec.Omitted != int32(n) || rec.Omitted == 0 {
		t.Errorf("lines %d (max %d), count %d of %d, listed %d, omitted %d",
			len(rec.Policies), MaxRecommendationLines, rec.PolicyCount, n, rec.Listed, rec.Omitted)
	}
}

func TestRecommendedNamespaces(t *testing.T) {
	cases := map[string]struct {
		in, want []string
	}{
		"system namespaces are left out":     {in: []string{"calico-system", "kube-system", "shop", "tigera-operator"}, want: []string{"shop"}},
		"only system namespaces leaves none": {in: []string{"kube-public"}, want: nil},
		"a prefix must start the name":       {in: []string{"my-kube-app"}, want: []string{"my-kube-app"}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, recommendedNamespaces(tc.in)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}
