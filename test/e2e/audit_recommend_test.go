//go:build e2e

package e2e

import (
	"slices"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/flowguard/flowguard/api/v1alpha1"
	"github.com/flowguard/flowguard/audit"
	"github.com/flowguard/flowguard/recommend"
)

// TestAuditScheduleRecommendations runs the auditor as `flowguard serve` wires it over
// examples/shop and its flow log, with schedules that ask for recommendations: every audited
// application namespace's AuditReport carries its recommended policies, the ClusterAuditReport
// counts them, and with writeStagedPolicies the Tier and the StagedNetworkPolicies are in the
// cluster, listed by the real kubectl and applied by the recommender's field manager.
func TestAuditScheduleRecommendations(t *testing.T) {
	// The flow log covers 2025-10-01; two days later nothing in it is new, so every namespace's
	// recommendation is stable (a day of observation, a day without a new connection).
	c, _ := startShopAuditor(t, time.Date(2025, 10, 3, 0, 0, 0, 0, time.UTC))
	ctx := t.Context()

	apps := []string{"monitoring", "ops", "payments", "storefront"}
	inScope := &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "kubernetes.io/metadata.name",
		Operator: metav1.LabelSelectorOpIn, Values: append([]string{"kube-system"}, apps...)}}}
	run := func(t *testing.T, name string, rs *v1alpha1.RecommendationSettings) (v1alpha1.ClusterAuditReport, map[string]*v1alpha1.NamespaceRecommendation) {
		t.Helper()
		sched := &v1alpha1.AuditSchedule{
			ObjectMeta: metav1.ObjectMeta{Name: name, Annotations: map[string]string{v1alpha1.RunNowAnnotation: "1"}},
			Spec: v1alpha1.AuditScheduleSpec{Schedule: "@daily", NamespaceSelector: inScope,
				Lookback: &metav1.Duration{Duration: 72 * time.Hour}, Recommendations: rs},
		}
		if err := c.Client.Create(ctx, sched); err != nil {
			t.Fatal(err)
		}
		st := scheduleStatus(t, c, name, "the requested run", func(s v1alpha1.AuditScheduleStatus) bool { return s.LastRunRequest == "1" })
		if st.LastError != "" {
			t.Fatalf("run failed: %s", st.LastError)
		}
		var cr v1alpha1.ClusterAuditReport
		if err := c.Client.Get(ctx, client.ObjectKey{Name: st.LastReport}, &cr); err != nil {
			t.Fatal(err)
		}
		var reports v1alpha1.AuditReportList
		if err := c.Client.List(ctx, &reports, client.MatchingLabels{v1alpha1.RunLabel: st.LastReport}); err != nil {
			t.Fatal(err)
		}
		got := map[string]*v1alpha1.NamespaceRecommendation{}
		for _, r := range reports.Items {
			got[r.Namespace] = r.Recommendation
		}
		return cr, got
	}
	// check asserts every application namespace has a stable, fully listed recommendation of
	// style whose YAML starts with kind, and kube-system none.
	check := func(t *testing.T, got map[string]*v1alpha1.NamespaceRecommendation, style v1alpha1.RecommendationStyle, apiVersion string, staged bool) {
		t.Helper()
		if r, ok := got["kube-system"]; !ok || r != nil {
			t.Errorf("kube-system: report present %v, recommendation %+v; want a report without one", ok, r)
		}
		for _, ns := range apps {
			r := got[ns]
			if r == nil {
				t.Errorf("%s: no recommendation section", ns)
				continue
			}
			if r.Status != "stable" || r.Style != style || r.PolicyCount == 0 || r.Listed != r.PolicyCount || r.Omitted != 0 || r.Staged != staged {
				t.Errorf("%s: status %s, style %s, %d policies, %d listed, %d omitted, staged %v", ns, r.Status, r.Style,
					r.PolicyCount, r.Listed, r.Omitted, r.Staged)
			}
			if len(r.Policies) == 0 || r.Policies[0] != "apiVersion: "+apiVersion || strings.Count(strings.Join(r.Policies, "\n"), "\n---\n")+1 != int(r.Listed) {
				t.Errorf("%s: policies as YAML lines do not hold %d %s documents:\n%s", ns, r.Listed, apiVersion, strings.Join(r.Policies, "\n"))
			}
		}
	}

	t.Run("writeStagedPolicies without the calico-staged style is refused", func(t *testing.T) {
		bad := &v1alpha1.AuditSchedule{ObjectMeta: metav1.ObjectMeta{Name: "recommend-bad"}, Spec: v1alpha1.AuditScheduleSpec{
			Schedule: "@daily", Recommendations: &v1alpha1.RecommendationSettings{Style: "k8s", WriteStagedPolicies: true}}}
		err := c.Client.Create(ctx, bad)
		if err == nil || !strings.Contains(err.Error(), "writeStagedPolicies needs style calico-staged") {
			t.Errorf("create: %v", err)
		}
	})

	t.Run("Kubernetes NetworkPolicies in the reports, nothing written", func(t *testing.T) {
		cr, got := run(t, "recommend-k8s", &v1alpha1.RecommendationSettings{})
		check(t, got, "k8s", "networking.k8s.io/v1", false)
		sum := cr.Summary.Recommendations
		if sum == nil || sum.Style != "k8s" || sum.Stable != int32(len(apps)) || sum.Learning+sum.Stabilizing != 0 || sum.StagedWritten != 0 || sum.Error != "" {
			t.Errorf("cluster summary of recommendations: %+v", sum)
		}
		out, err := c.Kubectl(ctx, "get", "stagednetworkpolicies.projectcalico.org", "-A", "-l", recommend.LabelManagedBy+"=flowguard", "-o", "name")
		if err != nil || strings.TrimSpace(out) != "" {
			t.Errorf("staged policies written without writeStagedPolicies: %q (%v)", out, err)
		}
	})

	t.Run("calico-staged with writeStagedPolicies applies the Tier and the staged policies", func(t *testing.T) {
		cr, got := run(t, "recommend-staged", &v1alpha1.RecommendationSettings{Style: "calico-staged", WriteStagedPolicies: true})
		check(t, got, "calico-staged", "projectcalico.org/v3", true)
		sum := cr.Summary.Recommendations
		if sum == nil || sum.Stable != int32(len(apps)) || sum.StagedWritten != int32(len(apps)) || sum.Error != "" {
			t.Errorf("cluster summary of recommendations: %+v", sum)
		}

		desc, err := c.Kubectl(ctx, "describe", "auditreport", "-n", "storefront", cr.Name)
		if err != nil {
			t.Fatalf("kubectl describe auditreport: %v\n%s", err, desc)
		}
		for _, want := range []string{"Recommendation:", "Policy Count:", "stable", "    apiVersion: projectcalico.org/v3",
			"    kind: StagedNetworkPolicy", "name: " + recommend.CalicoPolicyName(recommend.DefaultTier, "storefront")} {
			if !strings.Contains(desc, want) {
				t.Errorf("kubectl describe auditreport -n storefront %s lacks %q:\n%s", cr.Name, want, desc)
			}
		}

		out, err := c.Kubectl(ctx, "get", "stagednetworkpolicies.projectcalico.org", "-A")
		if err != nil {
			t.Fatalf("kubectl get stagednetworkpolicies: %v\n%s", err, out)
		}
		var listed []string
		for _, line := range strings.Split(out, "\n")[1:] {
			if f := strings.Fields(line); len(f) >= 2 && strings.HasPrefix(f[1], recommend.DefaultTier+".") {
				listed = append(listed, f[0]+"/"+f[1])
			}
		}
		var want []string
		for _, ns := range apps {
			want = append(want, ns+"/"+recommend.CalicoPolicyName(recommend.DefaultTier, ns))
		}
		slices.Sort(listed)
		if diff := cmpDiff(want, listed); diff != "" {
			t.Errorf("kubectl get stagednetworkpolicies -A (-want +got):\n%s\n%s", diff, out)
		}

		for _, obj := range []struct{ kind, ns, name string }{
			{"Tier", "", recommend.DefaultTier},
			{"StagedNetworkPolicy", "storefront", recommend.CalicoPolicyName(recommend.DefaultTier, "storefront")},
		} {
			u := &unstructured.Unstructured{}
			u.SetGroupVersionKind(schema.GroupVersionKind{Group: "projectcalico.org", Version: "v3", Kind: obj.kind})
			if err := c.Client.Get(ctx, client.ObjectKey{Namespace: obj.ns, Name: obj.name}, u); err != nil {
				t.Fatalf("get %s %s: %v", obj.kind, obj.name, err)
			}
			var managers []string
			for _, m := range u.GetManagedFields() {
				managers = append(managers, m.Manager+" "+string(m.Operation))
			}
			if !slices.Equal(managers, []string{audit.RecommenderFieldManager + " Apply"}) ||
				u.GetLabels()[recommend.LabelManagedBy] != "flowguard" {
				t.Errorf("%s %s: managed fields %v, labels %v", obj.kind, obj.name, managers, u.GetLabels())
			}
			if obj.kind == "StagedNetworkPolicy" && u.GetLabels()[v1alpha1.ScheduleLabel] != "recommend-staged" {
				t.Errorf("%s %s: labels %v lack the schedule", obj.kind, obj.name, u.GetLabels())
			}
		}
	})
}
