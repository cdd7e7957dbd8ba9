package webhook

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	clocktesting "k8s.io/utils/clock/testing"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/flowguard/flowguard/api/v1alpha1"
)

// The leader records on each RegoRule its effective metadata and whether it compiled, once per
// generation.
func TestRuleStatusWriter(t *testing.T) {
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	sandboxBreak := strings.Replace(teamLabelModule, "not input.object.metadata.labels.team",
		`http.send({"method": "GET", "url": "http://example.com"})`, 1)
	compiled := func(gen int64) metav1.Condition {
		return metav1.Condition{Type: v1alpha1.RegoRuleConditionCompiled, Status: metav1.ConditionTrue, Reason: "Compiled",
			Message: "The rule is in force", ObservedGeneration: gen, LastTransitionTime: metav1.NewTime(now)}
	}
	tests := map[string]struct {
		generation  int64
		spec        v1alpha1.RegoRuleSpec
		status      v1alpha1.RegoRuleStatus
		want        v1alpha1.RegoRuleStatus
		wantMessage []string // the Compiled condition's message, when it is false
		wantUpdates int
	}{
		"a good rule takes its METADATA": {
			generation: 1,
			spec:       v1alpha1.RegoRuleSpec{Module: teamLabelModule},
			want: v1alpha1.RegoRuleStatus{ObservedGeneration: 1, ID: "team-label", Action: "warn", Severity: "low",
				Targets: []string{"Deployment"}, Conditions: []metav1.Condition{compiled(1)}},
			wantUpdates: 1,
		},
		"the spec's overrides win": {
			generation: 2,
			spec: v1alpha1.RegoRuleSpec{Module: teamLabelModule, EnforcementAction: "deny", Severity: "high",
				Targets: []string{"Deployment", "audit"}},
			want: v1alpha1.RegoRuleStatus{ObservedGeneration: 2, ID: "team-label", Action: "deny", Severity: "high",
				Targets: []string{"Deployment", "audit"}, Conditions: []metav1.Condition{compiled(2)}},
			wantUpdates: 1,
		},
		"a rule that breaks the sandbox is not in force, and the message names the line": {
			generation: 1,
			spec:       v1alpha1.RegoRuleSpec{Module: sandboxBreak},
			// Line 12 of the module as stored: teamLabelModule starts with a blank line.
			wantMessage: []string{"team-label:12:2: flowguard_sandbox_error: http.send is not allowed"},
			wantUpdates: 1,
		},
		"a new generation is compiled again": {
			generation: 3,
			spec:       v1alpha1.RegoRuleSpec{Module: teamLabelModule},
			status: v1alpha1.RegoRuleStatus{ObservedGeneration: 2, ID: "old", Action: "deny",
				Conditions: []metav1.Condition{compiled(2)}},
			want: v1alpha1.RegoRuleStatus{ObservedGeneration: 3, ID: "team-label", Action: "warn", Severity: "low",
				Targets: []string{"Deployment"}, Conditions: []metav1.Condition{compiled(3)}},
			wantUpdates: 1,
		},
		"an unchanged generation is not rewritten": {
			generation: 4,
			spec:       v1alpha1.RegoRuleSpec{Module: sandboxBreak},
			status: v1alpha1.RegoRuleStatus{ObservedGeneration: 4, ID: "team-label",
				Conditions: []metav1.Condition{compiled(4)}},
			want: v1alpha1.RegoRuleStatus{ObservedGeneration: 4, ID: "team-label",
				Conditions: []metav1.Condition{compiled(4)}},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			scheme, err := NewScheme()
			if err != nil {
				t.Fatal(err)
			}
			rr := &v1alpha1.RegoRule{
				ObjectMeta: metav1.ObjectMeta{Name: "team-label", Generation: tc.generation},
				Spec:       tc.spec, Status: tc.status,
			}
			updates := 0
			c := fake.NewClientBuilder().WithScheme(scheme).WithStatusSubresource(&v1alpha1.RegoRule{}).WithObjects(rr).
				WithInterceptorFuncs(interceptor.Funcs{
					SubResourceUpdate: func(ctx context.Context, c client.Client, sub string, obj client.Object, opts ...client.SubResourceUpdateOption) error {
						updates++
						return c.SubResource(sub).Update(ctx, obj, opts...)
					},
				}).Build()
			w := NewRuleStatusWriter(c, clocktesting.NewFakeClock(now))
			ctx := context.Background()
			// The second reconcile sees the status the first wrote and leaves it alone.
			for range 2 {
				if _, err := w.Reconcile(ctx, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(rr)}); err != nil {
					t.Fatal(err)
				}
			}
			var got v1alpha1.RegoRule
			if err := c.Get(ctx, client.ObjectKeyFromObject(rr), &got); err != nil {
				t.Fatal(err)
			}
			if updates != tc.wantUpdates {
				t.Errorf("status updates = %d, want %d", updates, tc.wantUpdates)
			}
			if tc.wantMessage != nil {
				cond := meta.FindStatusCondition(got.Status.Conditions, v1alpha1.RegoRuleConditionCompiled)
				if cond == nil || cond.Status != metav1.ConditionFalse || cond.Reason != "CompileError" {
					t.Fatalf("Compiled = %+v, want False/CompileError", cond)
				}
				for _, m := range tc.wantMessage {
					if !strings.Contains(cond.Message, m) {
						t.Errorf("message = %q, want it to contain %q", cond.Message, m)
					}
				}
				if got.Status.ObservedGeneration != tc.generation || got.Status.ID != "" {
					t.Errorf("status = %+v, want observedGeneration %d and no id", got.Status, tc.generation)
				}
				return
			}
			// The fake client round-trips times at second precision, as the API server does.
			for i := range got.Status.Conditions {
				got.Status.Conditions[i].LastTransitionTime = metav1.NewTime(got.Status.Conditions[i].LastTransitionTime.UTC())
			}
			if !reflect.DeepEqual(got.Status, tc.want) {
				t.Errorf("status = %+v\nwant %+v", got.Status, tc.want)
			}
		})
	}
}
