package app

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestStdinEverywhere: every flag that reads manifests reads them from standard input as "-",
// as kubectl's -f - does, and only one flag can.
func TestStdinEverywhere(t *testing.T) {
	var cluster strings.Builder
	for _, f := range []string{"namespaces.yaml", "payments-policies.yaml", "platform-policies.yaml", "staged-policies.yaml", "storefront-policies.yaml", "workloads.yaml"} {
		cluster.WriteString(readString(t, filepath.Join(shopDir, f)) + "\n---\n")
	}
	withRule := cluster.String() + readString(t, teamLabelRule)
	safe := filepath.Join(shopChanges, "safe.yaml")
	tests := map[string]struct {
		stdin    string
		args     []string
		wantCode int
		wantOut  []string
		wantErr  []string
	}{
		"check --change -": {
			stdin: readString(t, shopBreaking), args: []string{"check", "-f", shopDir, "--flows", shopFlows, "--change", "-"},
			wantCode: ExitFailed, wantOut: []string{"DENY   DELETE NetworkPolicy storefront/web-from-anywhere [breaking-change]"},
		},
		"check --change - with nothing on it": {
			args:     []string{"check", "-f", shopDir, "--flows", shopFlows, "--change", "-"},
			wantCode: ExitBadInput, wantErr: []string{"--change -: no object to check"},
		},
		"check -f - runs the RegoRules it holds": {
			stdin: withRule, args: []string{"check", "-f", "-", "--flows", shopFlows, "--change", safe},
			wantCode: ExitFailed, wantOut: []string{"[policy-team-label]: NetworkPolicy web-from-anywhere has no team label"},
		},
		"check --rules -": {
			stdin: readString(t, teamLabelRule), args: []string{"check", "-f", shopDir, "--flows", shopFlows, "--change", safe, "--rules", "-"},
			wantCode: ExitFailed, wantOut: []string{"[policy-team-label]"},
		},
		"two flags cannot both read standard input": {
			stdin: cluster.String(), args: []string{"check", "-f", "-", "--flows", shopFlows, "--change", "-"},
			wantCode: ExitBadInput, wantErr: []string{"--change and -f: only one of them can read standard input (-)"},
		},
		"audit -f -": {
			stdin: cluster.String(), args: []string{"audit", "-f", "-", "--flows", shopFlows, "-o", "github"},
			wantCode: ExitOK, wantOut: []string{"::error title=allow-all::NetworkPolicy storefront/web-from-anywhere"},
		},
		"recommend -f -": {
			stdin: cluster.String(), args: []string{"recommend", "-f", "-", "--flows", shopFlows, "-n", "payments"},
			wantCode: ExitOK, wantOut: []string{"kind: NetworkPolicy", "namespace: payments"},
		},
		"connectivity -f -": {
			stdin: cluster.String(), args: []string{"connectivity", "-f", "-"},
			wantCode: ExitOK, wantOut: []string{"storefront/web[Deployment] => storefront/cart[Deployment] : TCP 8081"},
		},
		"explain -f -": {
			stdin: cluster.String(), args: []string{"explain", "-f", "-", "--from", "storefront/web", "--to", "payments/ledger", "--port", "5432"},
			wantCode: ExitOK, wantOut: []string{"ingress (at the destination)"},
		},
		"rego test --rules -": {
			stdin: readString(t, teamLabelRule), args: []string{"rego", "test", "--rules", "-", teamLabelTest},
			wantCode: ExitOK, wantOut: []string{"PASS: 2/2"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			runBinaryIn(t, tc.stdin, tc.args...).expect(t, tc.wantCode, tc.wantOut, tc.wantErr)
		})
	}
}
