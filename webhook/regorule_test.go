package webhook

import (
	"context"
	"strings"
	"testing"

	admissionv1 "k8s.io/api/admission/v1"
)

func regoRule(module string) string {
	indented := "    " + strings.ReplaceAll(strings.TrimSpace(module), "\n", "\n    ")
	return `
apiVersion: flowguard.dev/v1alpha1
kind: RegoRule
metadata: {name: team-label}
spec:
  enforcementAction: dryrun
  module: |
` + indented + "\n"
}

const teamLabelModule = `
# METADATA
# title: Workloads name their team
# custom:
#   id: team-label
#   severity: low
#   action: warn
#   targets: [Deployment]
package teams.team_label

violation contains {"msg": "workload has no team label", "details": {}} if {
	not input.object.metadata.labels.team
}`

// RegoRules are compiled by the real engine when applied.
func TestCompileRegoRule(t *testing.T) {
	tests := map[string]struct {
		module string
		want   []string
	}{
		"a rule that compiles is admitted": {module: teamLabelModule},
		"a parse error names its line, column and text": {
			module: strings.Replace(teamLabelModule, "not input.object.metadata.labels.team", `msg := concat("", [input.object.metadata.name)`, 1),
			want:   []string{`spec.module: Invalid value: "\tmsg := concat(\"\", [input.object.metadata.name)": line 11, column 47: rego_parse_error: unexpected ) token`},
		},
		"a rule that breaks the sandbox is refused": {
			module: strings.Replace(teamLabelModule, "not input.object.metadata.labels.team", `http.send({"method": "GET", "url": "http://example.com"})`, 1),
			want:   []string{"spec.module: Invalid value:", "line 11, column 2: flowguard_sandbox_error: http.send is not allowed"},
		},
		"metadata the contract requires": {
			module: strings.Replace(teamLabelModule, "# title: Workloads name their team\n", "", 1),
			want:   []string{"spec.module: Invalid value:", "METADATA has no title"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			d := &ruleDecider{graphLoaded: true}
			h, _ := newTestHandler(t, d, DefaultConfig("flowguard-system"))
			resp := h.Handle(context.Background(), newRequest(t, gvkRegoRule, admissionv1.Create, regoRule(tc.module), ""))
			if len(tc.want) == 0 {
				assertResponse(t, resp, true, 200, nil, nil)
				return
			}
			assertResponse(t, resp, false, 422, tc.want, nil)
			if !strings.HasPrefix(resp.Result.Message, `RegoRule.flowguard.dev "team-label" is invalid: `) {
				t.Errorf("message = %q", resp.Result.Message)
			}
			if len(d.called()) != 0 {
				t.Error("a RegoRule is not a subject of the rules")
			}
		})
	}
}
