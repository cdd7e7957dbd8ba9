package app

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeRego writes files (name -> source) into a fresh directory and returns it.
func writeRego(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, src := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestRegoTest(t *testing.T) {
	const rule = `# METADATA
# title: Pods need an owner
# custom:
#   id: needs-owner
#   severity: low
#   action: warn
#   targets: [Pod]
package acme.needs_owner

import data.flowguard.policy

violation contains {"msg": sprintf("%s has no owner", [policy.describe(input.object)])} if {
	not input.object.metadata.labels.owner
}
`
	pod := `{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "shop", "labels": {}}}`
	cases := map[string]struct {
		files    map[string]string
		args     []string
		wantCode int
		wantOut  []string
		wantErr  string
	}{
		"the built-in library passes": {
			args: []string{"../../../rego/lib"}, wantCode: ExitOK, wantOut: []string{"PASS: "},
		},
		"a user rule's passing test, importing flowguard's helpers": {
			files: map[string]string{"rule.rego": rule, "rule_test.rego": `package acme.needs_owner_test

import data.acme.needs_owner

test_fires if {
	some v in needs_owner.violation with input as {"object": ` + pod + `}
	v.msg == "Pod shop/p has no owner"
}
`},
			wantCode: ExitOK, wantOut: []string{"PASS: 1/1"},
		},
		"a failing test exits 1 and is listed": {
			files: map[string]string{"rule.rego": rule, "rule_test.rego": `package acme.needs_owner_test

import data.acme.needs_owner

test_quiet if {
	count(needs_owner.violation) == 0 with input as {"object": ` + pod + `}
}
`},
			wantCode: ExitFailed, wantOut: []string{"data.acme.needs_owner_test.test_quiet: FAIL", "FAIL: 1/1"},
		},
		"builtins are mocked with with": {
			files: map[string]string{"impact_test.rego": `package acme.impact_test

test_mock if {
	flowguard.impact({}, null, "DELETE").broken_total == 2 with flowguard.impact as {"broken_total": 2}
}
`},
			args: []string{"-v"}, wantCode: ExitOK, wantOut: []string{"data.acme.impact_test.test_mock: PASS"},
		},
		"json output": {
			files: map[string]string{"t_test.rego": "package acme.t\n\ntest_ok if true\n"},
			args:  []string{"--format", "json"}, wantCode: ExitOK, wantOut: []string{`"name": "test_ok"`},
		},
		"a sandbox violation is bad input with the line": {
			files:    map[string]string{"net_test.rego": "package acme.net\n\ntest_net if http.send({\"method\": \"GET\", \"url\": \"https://example.com\"})\n"},
			wantCode: ExitBadInput, wantErr: "net_test.rego:3:13: flowguard_sandbox_error: http.send is not allowed",
		},
		"a syntax error is bad input with the line": {
			files:    map[string]string{"bad_test.rego": "package acme.bad\n\ntest_x if {\n"},
			wantCode: ExitBadInput, wantErr: "bad_test.rego:4: rego_parse_error",
		},
		"no tests is bad input": {
			files:    map[string]string{"rule.rego": rule},
			wantCode: ExitBadInput, wantErr: "no tests found",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			args := append([]string{"rego", "test"}, tc.args...)
			if tc.files != nil {
				args = append(args, writeRego(t, tc.files))
			}
			var out, errOut bytes.Buffer
			code := Execute(args, &out, &errOut)
			if code != tc.wantCode {
				t.Fatalf("exit code = %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tc.wantCode, out.String(), errOut.String())
			}
			for _, want := range tc.wantOut {
				if !strings.Contains(out.String(), want) {
					t.Errorf("stdout does not contain %q:\n%s", want, out.String())
				}
			}
			if !strings.Contains(errOut.String(), tc.wantErr) {
				t.Errorf("stderr = %q, want it to contain %q", errOut.String(), tc.wantErr)
			}
		})
	}
}
