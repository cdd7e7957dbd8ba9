package rego_test

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/flowguard/flowguard/cmd/flowguard/app"
)

// The shop fixture (testdata/shop): namespaces shop (default deny for ingress; frontend ->
// api:8080 -> db:5432 allowed; frontend open to anyone), payments (no policy; gateway, reached
// from the internet on 443, calls shop/frontend:8080 and is denied shop/db:5432) and
// monitoring, and six hours of Calico flow logs of that traffic ending 2025-10-01T15:05:00Z.
// Each case applies one change from testdata/changes with `flowguard check` and lists every
// rule that must speak, "id" at admission and "id (audit)" from the audit of the changed
// object; no other rule may.
func TestBuiltinRulesThroughCheck(t *testing.T) {
	cases := map[string]struct {
		change   string
		wantCode int
		want     []string
		// wantMsg is a fragment of the first listed rule's message.
		wantMsg string
		// wantFix, when set, is the JSON of the first listed rule's details.fix.
		wantFix string
	}{
		"breaking-change: deleting the policy that carries frontend -> api": {
			change: "delete-api-allow-frontend", wantCode: app.ExitFailed, want: []string{"breaking-change"},
			wantMsg: "Deleting NetworkPolicy shop/api-allow-frontend would deny 1 observed flow (120 connections) allowed in the last 24h: shop/frontend-7d9f8b6c5-* -> shop/api-5f6b7c8d9-*:8080/TCP (120 connections, last seen 2025-10-01T15:05:00Z)",
		},
		"breaking-change: relabelling a workload out of the policies that admit it": {
			change: "relabel-frontend", wantCode: app.ExitFailed, want: []string{"breaking-change"},
			wantMsg: "would deny 2 observed flows (150 connections)",
		},
		"breaking-change, unused-rule: a narrow new allow breaks nothing but carries nothing": {
			change: "api-allow-gateway", wantCode: app.ExitOK, want: []string{"unused-rule (audit)"},
			wantMsg: "NetworkPolicy shop/api-allow-gateway: ingress rule spec.ingress[0] (from pods app=gateway in namespaces team=payments on TCP/8080) matched no observed flow in the last 24h, while the pods it applies to received 120 connections.",
		},
		"allow-all and wider-than-observed: every peer on every port where one peer used one port": {
			change: "frontend-open", wantCode: app.ExitOK, want: []string{"allow-all", "wider-than-observed"},
			wantMsg: "NetworkPolicy shop/frontend-open: ingress rule spec.ingress[0] admits every peer on every port",
		},
		"wider-than-observed carries the rule narrowed to the one peer and port seen": {
			change: "frontend-open", wantCode: app.ExitOK, want: []string{"wider-than-observed", "allow-all"},
			wantMsg: "carried only 30 connections from payments/gateway-59d8c7b6a-* on TCP/8080",
			wantFix: `{"from":[{"namespaceSelector":{"matchLabels":{"kubernetes.io/metadata.name":"payments"}},"podSelector":{"matchLabels":{"app":"gateway"}}}],"ports":[{"port":8080,"protocol":"TCP"}]}`,
		},
		"wider-than-observed, allow-all: every peer on every port where only the internet used 443": {
			change: "gateway-open", wantCode: app.ExitOK, want: []string{"wider-than-observed", "allow-all"},
			wantMsg: "NetworkPolicy payments/gateway-open: ingress rule spec.ingress[0] allows every port (no ports are listed), but in the last 24h carried only 240 connections from the public internet (pub) on TCP/443 (last seen 2025-10-01T15:05:00Z)",
			wantFix: `{"from":[{"ipBlock":{"cidr":"0.0.0.0/0","except":["10.0.0.0/8","172.16.0.0/12","192.168.0.0/16"]}}],"ports":[{"port":443,"protocol":"TCP"}]}`,
		},
		"wider-than-observed, allow-all: a Calico rule open to the internet that the internet uses": {
			change: "gateway-ordered", wantCode: app.ExitOK, want: nil,
		},
		"unprotected-workload: a workload in a namespace without policy": {
			change: "ledger", wantCode: app.ExitOK, want: []string{"unprotected-workload"},
			wantMsg: "Deployment payments/ledger is not selected by any network policy for ingress",
		},
		"unprotected-workload: a workload behind its namespace's default deny": {
			change: "shop-worker", wantCode: app.ExitOK, want: nil,
		},
		"missing-default-deny: a namespace without one": {
			change: "payments-namespace", wantCode: app.ExitOK, want: []string{"missing-default-deny (audit)"},
			wantMsg: "Namespace payments has no default-deny for ingress",
		},
		"missing-default-deny, denied-traffic: a namespace with a default deny and denials": {
			change: "shop-namespace", wantCode: app.ExitOK, want: []string{"denied-traffic (audit)"},
			wantMsg: "1 flow (18 connections) denied by policy in namespace shop in the last 24h, possible breakage or probing: payments/gateway-59d8c7b6a-* -> shop/db-6c8d9e7f1-*:5432/TCP (18 connections, last seen 2025-10-01T15:05:00Z)",
		},
		"unused-rule: a second rule no flow used": {
			change: "db-allow-worker", wantCode: app.ExitOK, want: []string{"unused-rule (audit)"},
			wantMsg: "ingress rule spec.ingress[1] (from pods app=api or pods app=frontend on TCP/5432) matched no observed flow",
		},
		"dangling-selector, not unused-rule: a typo in a peer's podSelector": {
			change: "api-allow-typo", wantCode: app.ExitOK, want: []string{"dangling-selector"},
			wantMsg: `spec.ingress[0].from[0].podSelector (app == "frontnd") matches no pods in namespace shop`,
		},
		"host-network-bypass, not unprotected-workload: a host-network DaemonSet outside kube-system": {
			change: "monitoring-agent", wantCode: app.ExitOK, want: []string{"host-network-bypass"},
			wantMsg: "DaemonSet monitoring/probe uses the host network",
		},
		"host-network-bypass: kube-system is exempt": {
			change: "kube-system-agent", wantCode: app.ExitOK, want: nil,
		},
		"shadowed-rule, not unused-rule: an Allow after a Deny that matches everything (which also breaks pub -> gateway)": {
			change: "gateway-shadowed", wantCode: app.ExitFailed, want: []string{"shadowed-rule (audit)", "breaking-change"},
			wantMsg: "Calico NetworkPolicy payments/gateway-rules: ingress rule spec.ingress[1] can never decide: spec.ingress[0] (Deny) matches every packet",
		},
		"breaking-change: an AdminNetworkPolicy Deny runs before the shop's Kubernetes allow": {
			change: "anp-isolate-api", wantCode: app.ExitFailed, want: []string{"breaking-change"},
			wantMsg: "shop/frontend",
		},
		"a ClusterNetworkPolicy Pass hands the shop's traffic to its own policies: nothing breaks": {
			change: "cnp-pass-api", wantCode: app.ExitOK, want: nil,
		},
		"staged-would-break: a staged Deny ahead of the allow for frontend -> api": {
			change: "staged-lockdown", wantCode: app.ExitOK, want: []string{"staged-would-break (audit)"},
			wantMsg: "Calico StagedNetworkPolicy shop/lockdown-api, if enforced, would deny 1 observed flow (120 connections)",
		},
		"staged-would-break: a staged Deny of a peer that never came (whose selector dangles)": {
			change: "staged-harmless", wantCode: app.ExitOK, want: []string{"dangling-selector"},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			code := app.Execute([]string{"check",
				"-f", filepath.Join("testdata", "shop", "cluster"),
				"--flows", filepath.Join("testdata", "shop", "flows.jsonl"),
				"--change", filepath.Join("testdata", "changes", tc.change+".yaml"),
				"-o", "json",
			}, &out, &errOut)
			if code != tc.wantCode {
				t.Fatalf("exit code = %d, want %d\nstdout: %s\nstderr: %s", code, tc.wantCode, out.String(), errOut.String())
			}
			var report struct {
				Allowed    bool `json:"allowed"`
				Violations []struct {
					Rule, Action, Msg string
					Audit             bool
					Resource          struct{ Kind, Namespace, Name string }
					Details           struct {
						Fix json.RawMessage `json:"fix"`
					}
				} `json:"violations"`
				Errors []string `json:"errors"`
			}
			if err := json.Unmarshal(out.Bytes(), &report); err != nil {
				t.Fatalf("output is not JSON: %v\n%s", err, out.String())
			}
			if report.Allowed != (tc.wantCode == app.ExitOK) {
				t.Errorf("allowed = %v with exit code %d", report.Allowed, code)
			}
			if len(report.Errors) > 0 {
				t.Errorf("rule errors: %v", report.Errors)
			}
			var got []string
			var firstMsg, firstFix string
			for _, v := range report.Violations {
				id := v.Rule
				if v.Audit {
					id += " (audit)"
				}
				got = append(got, id)
				if len(tc.want) > 0 && id == tc.want[0] && firstMsg == "" {
					firstMsg, firstFix = v.Msg, string(v.Details.Fix)
				}
				if v.Resource.Kind == "" || v.Resource.Name == "" || v.Action == "" {
					t.Errorf("violation %s lacks its resource or action: %+v", id, v)
				}
			}
			slices.Sort(got)
			want := slices.Clone(tc.want)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Errorf("rules = %q, want %q\n%s", got, want, out.String())
			}
			if !strings.Contains(firstMsg, tc.wantMsg) {
				t.Errorf("%s message = %q, want it to contain %q", tc.want, firstMsg, tc.wantMsg)
			}
			if tc.wantFix != "" {
				var fix bytes.Buffer
				if err := json.Compact(&fix, []byte(firstFix)); err != nil || fix.String() != tc.wantFix {
					t.Errorf("%s fix = %s, want %s", tc.want[0], firstFix, tc.wantFix)
				}
			}
		})
	}
}

func TestCheckWindowEndsAtTheNewestRecordUnlessAtSaysOtherwise(t *testing.T) {
	cases := map[string]struct {
		at       []string
		wantCode int
	}{
		"the newest record ends the window":     {wantCode: app.ExitFailed},
		"a day after the traffic, none is seen": {at: []string{"--at", "2025-10-02T16:00:00Z"}, wantCode: app.ExitOK},
		"inside the traffic, it is seen":        {at: []string{"--at", "2025-10-01T12:00:00Z"}, wantCode: app.ExitFailed},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			args := append([]string{"check", "-f", "testdata/shop/cluster", "--flows", "testdata/shop/flows.jsonl",
				"--change", "testdata/changes/delete-api-allow-frontend.yaml"}, tc.at...)
			var out, errOut bytes.Buffer
			if code := app.Execute(args, &out, &errOut); code != tc.wantCode {
				t.Errorf("exit code = %d, want %d\n%s%s", code, tc.wantCode, out.String(), errOut.String())
			}
		})
	}
}

func TestCheckBadInput(t *testing.T) {
	cases := map[string]struct {
		args    []string
		wantErr string
	}{
		"no change":           {args: []string{"-f", "testdata/shop/cluster"}, wantErr: "--change"},
		"missing change file": {args: []string{"-f", "testdata/shop/cluster", "--change", "testdata/changes/nope.yaml"}, wantErr: "nope.yaml"},
		"bad --at":            {args: []string{"-f", "testdata/shop/cluster", "--change", "testdata/changes/ledger.yaml", "--at", "yesterday"}, wantErr: "--at"},
		"deleting what the cluster lacks": {
			args: []string{"-f", "../examples/shop", "--change", "testdata/changes/delete-api-allow-frontend.yaml"}, wantErr: "does not hold it",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			if code := app.Execute(append([]string{"check"}, tc.args...), &out, &errOut); code != app.ExitBadInput {
				t.Fatalf("exit code = %d, want %d\n%s", code, app.ExitBadInput, errOut.String())
			}
			if !strings.Contains(errOut.String(), tc.wantErr) {
				t.Errorf("stderr = %q, want it to contain %q", errOut.String(), tc.wantErr)
			}
		})
	}
}
