package app

import (
	"path/filepath"
	"testing"
)

var (
	teamLabelRule = filepath.Join("testdata", "regorules", "policy-team-label.yaml")
	teamLabelTest = filepath.Join("testdata", "regorule-tests")
)

// brokenRule is a RegoRule whose module has a syntax error on its line 10, line 17 of the file,
// where the ")" is at column 51 (4 spaces of YAML, then the module's column 47).
const brokenRule = `apiVersion: flowguard.dev/v1alpha1
kind: RegoRule
metadata:
  name: broken
spec:
  module: |
    # METADATA
    # title: Broken
    # custom:
    #   id: broken
    #   severity: low
    #   action: warn
    #   targets: [NetworkPolicy]
    package shop.broken

    violation contains {"msg": msg} if {
    	msg := concat("", [input.object.metadata.name)
    }
`

// sandboxedRule reaches out of the sandbox in a plain .rego module, on its line 9.
const sandboxedRule = `# METADATA
# title: Calls out
# custom:
#   id: calls-out
#   severity: low
#   action: warn
#   targets: [NetworkPolicy]
package shop.calls_out

violation contains {"msg": http.send({"method": "GET", "url": "http://example.com"}).body} if true
`

// TestUserRulesOffline runs the rules a cluster runs, from --rules and from -f, through the
// binary: a rule that fires decides as in the webhook, one that does not compile is exit 2 naming
// its file, line and column.
func TestUserRulesOffline(t *testing.T) {
	dir := t.TempDir()
	broken := writeFile(t, dir, "broken.yaml", brokenRule)
	sandboxed := writeFile(t, dir, "calls-out.rego", sandboxedRule)
	empty := t.TempDir()
	safe := filepath.Join(shopChanges, "safe.yaml")
	tests := map[string]struct {
		args     []string
		wantCode int
		wantOut  []string
		wantErr  []string
	}{
		"check --rules: the RegoRule's deny overrides its METADATA's warn": {
			args:     []string{"check", "-f", shopDir, "--flows", shopFlows, "--change", safe, "--rules", teamLabelRule},
			wantCode: ExitFailed,
			wantOut:  []string{"DENY   UPDATE NetworkPolicy storefront/web-from-anywhere [policy-team-label]: NetworkPolicy web-from-anywhere has no team label", "denied"},
		},
		"check: a RegoRule among -f's objects runs too": {
			args:     []string{"check", "-f", shopDir, "-f", teamLabelRule, "--flows", shopFlows, "--change", safe},
			wantCode: ExitFailed,
			wantOut:  []string{"[policy-team-label]: NetworkPolicy web-from-anywhere has no team label"},
		},
		"check: the safe change passes without the user rule": {
			args:     []string{"check", "-f", shopDir, "--flows", shopFlows, "--change", safe},
			wantCode: ExitOK, wantOut: []string{"allowed"},
		},
		"check: a RegoRule that does not compile names its file, line and column": {
			args:     []string{"check", "-f", shopDir, "--flows", shopFlows, "--change", safe, "--rules", broken},
			wantCode: ExitBadInput,
			wantErr:  []string{broken + `:17:51: RegoRule broken: spec.module: rego_parse_error: unexpected ) token`},
		},
		"check: a module that breaks the sandbox is refused as the webhook refuses it": {
			args:     []string{"check", "-f", shopDir, "--flows", shopFlows, "--change", safe, "--rules", sandboxed},
			wantCode: ExitBadInput,
			wantErr:  []string{sandboxed + ":10:", "flowguard_sandbox_error: http.send is not allowed"},
		},
		"check: a --rules folder without rules": {
			args:     []string{"check", "-f", shopDir, "--flows", shopFlows, "--change", safe, "--rules", empty},
			wantCode: ExitBadInput,
			wantErr:  []string{"read --rules: " + empty + ": no RegoRule manifest or .rego module"},
		},
		"check: one manifest given in -f and --rules is one rule": {
			args:     []string{"check", "-f", shopDir, "-f", teamLabelRule, "--flows", shopFlows, "--change", safe, "--rules", filepath.Dir(teamLabelRule)},
			wantCode: ExitFailed, wantOut: []string{"[policy-team-label]", "denied"},
		},
		"check: two rules of one name": {
			args:     []string{"check", "-f", shopDir, "--flows", shopFlows, "--change", safe, "--rules", teamLabelRule, "--rules", writeFile(t, dir, "copy.yaml", readString(t, teamLabelRule))},
			wantCode: ExitBadInput, wantErr: []string{"RegoRule policy-team-label: also read from " + teamLabelRule + ":1; a name is one rule"},
		},
		"audit --rules --rule: only the user rule's findings": {
			args:     []string{"audit", "-f", shopDir, "--flows", shopFlows, "--rules", teamLabelRule, "--rule", "policy-team-label", "-o", "json"},
			wantCode: ExitOK,
			wantOut:  []string{`"rule": "policy-team-label"`, "NetworkPolicy web-from-anywhere has no team label"},
		},
		"audit --param sets a user rule's parameter": {
			args: []string{"audit", "-f", shopDir, "--flows", shopFlows, "--rules", teamLabelRule, "--rule", "policy-team-label",
				"--param", "policy-team-label.label=owner"},
			wantCode: ExitOK,
			wantOut:  []string{"NetworkPolicy web-from-anywhere has no owner label"},
		},
		"audit --param names a user rule's parameter that is not there": {
			args:     []string{"audit", "-f", shopDir, "--flows", shopFlows, "--rules", teamLabelRule, "--param", "policy-team-label.labl=owner"},
			wantCode: ExitBadInput,
			wantErr:  []string{`rule policy-team-label has no parameter "labl"; did you mean "label"?`},
		},
		"audit: a RegoRule that does not compile": {
			args:     []string{"audit", "-f", shopDir, "--flows", shopFlows, "--rules", broken},
			wantCode: ExitBadInput,
			wantErr:  []string{broken + ":17:51: RegoRule broken: spec.module: rego_parse_error"},
		},
		"rego test --rules: tests of a RegoRule's module": {
			args:     []string{"rego", "test", "--rules", teamLabelRule, teamLabelTest},
			wantCode: ExitOK, wantOut: []string{"PASS: 2/2"},
		},
		"rego test --rules: a RegoRule that does not compile": {
			args:     []string{"rego", "test", "--rules", broken, teamLabelTest},
			wantCode: ExitBadInput,
			wantErr:  []string{broken + ":17:51: RegoRule broken: spec.module: rego_parse_error"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			runBinary(t, tc.args...).expect(t, tc.wantCode, tc.wantOut, tc.wantErr)
		})
	}
}
