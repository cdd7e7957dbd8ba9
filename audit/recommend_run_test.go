package audit

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/flowguard/flowguard/api/v1alpha1"
	"github.com/flowguard/flowguard/recommend"
)

// TestAuditorRecommendations: what a run asks of the recommender, and what the reports say when
// it cannot answer. A failed recommendation never fails the audit.
func TestAuditorRecommendations(t *testing.T) {
	scope := Scope{Namespaces: []string{"kube-system", "shop"}, Lookback: 72 * time.Hour}
	cases := map[string]struct {
		settings  *v1alpha1.RecommendationSettings
		scope     Scope
		recommend Recommender
		wantOpts  *recommend.Options
		want      *v1alpha1.RecommendationsSummary
		wantShop  *v1alpha1.NamespaceRecommendation
	}{
		"off when the schedule does not ask": {
			scope: scope,
		},
		"the lookback window, the style and tier, and no system namespaces are asked for": {
			settings: &v1alpha1.RecommendationSettings{Style: "calico-staged", Tier: "iso"}, scope: scope,
			recommend: func(context.Context, recommend.Options) (*recommend.Result, error) {
				return recommendation(recNamespace("shop", recommend.StatusLearning)), nil
			},
			wantOpts: &recommend.Options{Style: recommend.StyleCalicoStaged, Tier: "iso", At: evaluatedAt,
				Since: evaluatedAt.Add(-72 * time.Hour), Namespaces: []string{"shop"}},
			want:     &v1alpha1.RecommendationsSummary{Style: "k8s", Learning: 1},
			wantShop: &v1alpha1.NamespaceRecommendation{Status: "learning", Style: "k8s"},
		},
		"an empty style is the Kubernetes style": {
			settings: &v1alpha1.RecommendationSettings{}, scope: scope,
			recommend: func(context.Context, recommend.Options) (*recommend.Result, error) {
				return recommendation(), nil
			},
			wantOpts: &recommend.Options{Style: recommend.StyleKubernetes, At: evaluatedAt,
				Since: evaluatedAt.Add(-72 * time.Hour), Namespaces: []string{"shop"}},
			want: &v1alpha1.RecommendationsSummary{Style: "k8s"},
		},
		"a recommender error is reported, not fatal": {
			settings: &v1alpha1.RecommendationSettings{}, scope: scope,
			recommend: func(context.Context, recommend.Options) (*recommend.Result, error) {
				return nil, errors.New("no observed traffic is loaded yet")
			},
			wantOpts: &recommend.Options{Style: recommend.StyleKubernetes, At: evaluatedAt,
				Since: evaluatedAt.Add(-72 * time.Hour), Namespaces: []string{"shop"}},
			want: &v1alpha1.RecommendationsSummary{Style: "k8s", Error: "recommend policies: no observed traffic is loaded yet"},
		},
		"no recommender configured": {
			settings: &v1alpha1.RecommendationSettings{}, scope: scope,
			want: &v1alpha1.RecommendationsSummary{Style: "k8s", Error: "this auditor has no recommender"},
		},
		"only system namespaces in scope: nothing asked, nothing counted": {
			settings: &v1alpha1.RecommendationSettings{}, scope: Scope{Namespaces: []string{"kube-system"}, Lookback: time.Hour},
			recommend: func(context.Context, recommend.Options) (*recommend.Result, error) {
				t.Error("recommender called without a namespace to recommend for")
				return nil, nil
			},
			want: &v1alpha1.RecommendationsSummary{Style: "k8s"},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			var asked *recommend.Options
			var rec Recommender
			if tc.recommend != nil {
				rec = func(ctx context.Context, o recommend.Options) (*recommend.Result, error) {
					asked = &o
					return tc.recommend(ctx, o)
				}
			}
			a := &Auditor{deps: Dependencies{Recommend: rec}}
			sched := &v1alpha1.AuditSchedule{Spec: v1alpha1.AuditScheduleSpec{Recommendations: tc.settings}}
			reps := BuildReports(Result{EvaluatedAt: evaluatedAt, Namespaces: tc.scope.Namespaces}, ReportOptions{RunName: "run"})
			a.recommendations(t.Context(), sched, tc.scope, evaluatedAt, reps)
			if diff := cmp.Diff(tc.wantOpts, asked); diff != "" {
				t.Errorf("options asked for (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.want, reps.Cluster.Summary.Recommendations); diff != "" {
				t.Errorf("cluster summary (-want +got):\n%s", diff)
			}
			for _, r := range reps.Namespaced {
				want := tc.wantShop
				if r.Namespace != "shop" {
					want = nil
				}
				if diff := cmp.Diff(want, r.Recommendation); diff != "" {
					t.Errorf("%s (-want +got):\n%s", r.Namespace, diff)
				}
			}
		})
	}
}
