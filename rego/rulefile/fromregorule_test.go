package rulefile

import (
	"reflect"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"

	"github.com/flowguard/flowguard/api/v1alpha1"
	"github.com/flowguard/flowguard/rego"
)

// A RegoRule's spec becomes the engine's UserRule, its overrides and parameters intact.
func TestFromRegoRule(t *testing.T) {
	tests := map[string]struct {
		spec    v1alpha1.RegoRuleSpec
		want    rego.UserRule
		wantErr string
	}{
		"the module alone": {
			spec: v1alpha1.RegoRuleSpec{Module: "package teams.x"},
			want: rego.UserRule{Name: "r", Source: "package teams.x"},
		},
		"overrides and parameters": {
			spec: v1alpha1.RegoRuleSpec{Module: "m", EnforcementAction: "dryrun", Severity: "low", Targets: []string{"Deployment"},
				Parameters: &k8sruntime.RawExtension{Raw: []byte(`{"label": "team", "min": 2}`)}},
			want: rego.UserRule{Name: "r", Source: "m", Action: rego.ActionDryRun, Severity: "low", Targets: []string{"Deployment"},
				Parameters: map[string]any{"label": "team", "min": float64(2)}},
		},
		"parameters that are not an object": {
			spec:    v1alpha1.RegoRuleSpec{Module: "m", Parameters: &k8sruntime.RawExtension{Raw: []byte(`[1]`)}},
			wantErr: "RegoRule r: spec.parameters:",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := FromRegoRule(&v1alpha1.RegoRule{ObjectMeta: metav1.ObjectMeta{Name: "r"}, Spec: tc.spec})
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("FromRegoRule = %+v, want %+v", got, tc.want)
			}
		})
	}
}
