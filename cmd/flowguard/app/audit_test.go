package app

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/flowguard/flowguard/netpol"
	"github.com/flowguard/flowguard/rego"
)

var (
	shopDir   = filepath.Join("..", "..", "..", "examples", "shop")
	shopFlows = filepath.Join(shopDir, "flows.jsonl")
)

// auditJSON is the part of `flowguard audit -o json` the tests read.
type auditJSON struct {
	Summary struct {
		Total        int `json:"total"`
		RulesSkipped []struct {
			Rule string `json:"rule"`
		} `json:"rulesSkipped"`
	} `json:"summary"`
	Findings []struct {
		Rule     string `json:"rule"`
		Severity string `json:"severity"`
		Resource struct {
			Kind, Namespace, Name string
		} `json:"resource"`
		Message  string `json:"message"`
		Evidence struct {
			Flows []struct {
				Count int `json:"count"`
			} `json:"flows"`
		} `json:"evidence"`
	} `json:"findings"`
}

func runAuditJSON(t *testing.T, args ...string) auditJSON {
	t.Helper()
	var out, errOut bytes.Buffer
	if code := Execute(append([]string{"audit", "-o", "json"}, args...), &out, &errOut); code != ExitOK {
		t.Fatalf("flowguard audit exited %d: %s", code, errOut.String())
	}
	var doc auditJSON
	if err := json.Unmarshal(out.Bytes(), &doc); err != nil {
		t.Fatalf("parse audit json: %v\n%s", err, out.String())
	}
	return doc
}

func (d auditJSON) found() []string {
	var got []string
	for _, f := range d.Findings {
		r := f.Resource
		name := r.Name
		if r.Namespace != "" {
			name = r.Namespace + "/" + r.Name
		}
		got = append(got, f.Rule+" "+r.Kind+" "+name)
	}
	slices.Sort(got)
	return got
}

// TestAuditExampleShop pins what the shop example is for: every built-in audit rule fires, each
// on the problem the example plants for it and nowhere else.
func TestAuditExampleShop(t *testing.T) {
	doc := runAuditJSON(t, "-f", shopDir, "--flows", shopFlows)
	want := []string{
		"allow-all NetworkPolicy storefront/web-from-anywhere",                 // ingress: [{}]
		"dangling-selector NetworkPolicy storefront/cart-from-legacy-checkout", // app=legacy-checkout is gone (so unused-rule leaves it)
		"denied-traffic Namespace payments",                                    // web -> ledger:5432, denied
		"host-network-bypass DaemonSet ops/node-exporter",                      // hostNetwork: true
		"missing-default-deny Namespace payments",                              // no default deny
		"shadowed-rule GlobalNetworkPolicy platform.egress-guard",              // Deny after a Pass of everything
		"staged-would-break StagedNetworkPolicy storefront/lockdown-web",       // would deny pub -> web
		"unprotected-workload Deployment payments/fraud-check",                 // no policy selects it
		"unused-rule NetworkPolicy storefront/cart-metrics",                    // nothing scrapes cart
		"wider-than-observed NetworkPolicy storefront/web-from-anywhere",       // every port, only 8080 used
	}
	if diff := cmp.Diff(want, doc.found()); diff != "" {
		t.Errorf("findings mismatch (-want +got):\n%s", diff)
	}
	if len(doc.Summary.RulesSkipped) > 0 {
		t.Errorf("rules skipped: %+v", doc.Summary.RulesSkipped)
	}

	// Every built-in rule that runs in audits must be at work in the example.
	eng, err := rego.NewEngine(rego.NewStaticState(netpol.NewCluster(), nil, time.Time{}), rego.Options{})
	if err != nil {
		t.Fatal(err)
	}
	fired := map[string]bool{}
	for _, f := range doc.Findings {
		fired[f.Rule] = true
	}
	for _, r := range eng.Rules() {
		if r.Builtin && r.Audits() && !fired[r.ID] {
			t.Errorf("built-in audit rule %s does not fire in examples/shop", r.ID)
		}
	}
}

func TestAuditCommand(t *testing.T) {
	tests := map[string]struct {
		args     []string
		wantCode int
		wantOut  []string
		wantErr  string
	}{
		"text output opens with the summary and groups findings by severity": {
			args: []string{"-f", shopDir, "--flows", shopFlows}, wantCode: ExitOK,
			wantOut: []string{"flowguard audit of " + shopDir, "Score: ", "NAMESPACE", "HIGH (1)", "MEDIUM (", "LOW ("},
		},
		"text output shows the wider-than-observed rule narrowed to the internet on 8080": {
			args: []string{"-f", shopDir, "--flows", shopFlows}, wantCode: ExitOK,
			wantOut: []string{`    Fix:
      Replace ingress rule spec.ingress[0] with this one, narrowed to the observed traffic.
        from:
        - ipBlock:
            cidr: 0.0.0.0/0
            except:
            - 10.0.0.0/8
            - 172.16.0.0/12
            - 192.168.0.0/16
        ports:
        - port: 8080
          protocol: TCP
`},
		},
		"html is one page with the traffic picture": {
			args: []string{"-f", shopDir, "--flows", shopFlows, "-o", "html"}, wantCode: ExitOK,
			wantOut: []string{"<!DOCTYPE html>", "<svg", "storefront/web -&gt; storefront/cart", "allowed, never observed"},
		},
		"policyreport output is wgpolicyk8s.io reports": {
			args: []string{"-f", shopDir, "--flows", shopFlows, "-o", "policyreport"}, wantCode: ExitOK,
			wantOut: []string{"apiVersion: wgpolicyk8s.io/v1alpha2", "kind: ClusterPolicyReport", "kind: PolicyReport", "namespace: storefront"},
		},
		"yaml output has the summary and the findings": {
			args: []string{"-f", shopDir, "--flows", shopFlows, "-o", "yaml"}, wantCode: ExitOK,
			wantOut: []string{"summary:\n", "findings:\n- rule: allow-all\n"},
		},
		"--fail-on fails when a finding is that severe": {
			args: []string{"-f", shopDir, "--flows", shopFlows, "--fail-on", "high"}, wantCode: ExitFailed,
		},
		"--fail-on passes when none is": {
			args: []string{"-f", shopDir, "--flows", shopFlows, "--fail-on", "critical"}, wantCode: ExitOK,
		},
		"no manifests is bad input": {
			args: []string{"--flows", shopFlows}, wantCode: ExitBadInput, wantErr: "-f: at least one",
		},
		"an unknown format is bad input": {
			args: []string{"-f", shopDir, "-o", "csv"}, wantCode: ExitBadInput, wantErr: `unknown output format "csv"`,
		},
		"a bad --at is bad input": {
			args: []string{"-f", shopDir, "--at", "yesterday"}, wantCode: ExitBadInput, wantErr: `--at "yesterday"`,
		},
		"a bad --param is bad input": {
			args: []string{"-f", shopDir, "--param", "egress=true"}, wantCode: ExitBadInput, wantErr: "want RULE.NAME=VALUE",
		},
		"a bad --fail-on is bad input": {
			args: []string{"-f", shopDir, "--fail-on", "severe"}, wantCode: ExitBadInput, wantErr: `--fail-on "severe"`,
		},
		"a missing manifest folder is bad input": {
			args: []string{"-f", "does-not-exist"}, wantCode: ExitBadInput, wantErr: "read cluster state",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			code := Execute(append([]string{"audit"}, tc.args...), &out, &errOut)
			if code != tc.wantCode {
				t.Fatalf("exit code = %d, want %d (stderr %q)", code, tc.wantCode, errOut.String())
			}
			for _, w := range tc.wantOut {
				if !strings.Contains(out.String(), w) {
					t.Errorf("stdout lacks %q:\n%s", w, truncateForLog(out.String()))
				}
			}
			if !strings.Contains(errOut.String(), tc.wantErr) {
				t.Errorf("stderr = %q, want it to contain %q", errOut.String(), tc.wantErr)
			}
		})
	}
}

func TestAuditScope(t *testing.T) {
	tests := map[string]struct {
		args []string
		want []string
	}{
		"--namespace keeps that namespace and cluster-scoped objects": {
			args: []string{"--namespace", "payments"},
			want: []string{
				"denied-traffic Namespace payments",
				"missing-default-deny Namespace payments",
				"shadowed-rule GlobalNetworkPolicy platform.egress-guard",
				"unprotected-workload Deployment payments/fraud-check",
			},
		},
		"--rule runs only those rules": {
			args: []string{"--rule", "allow-all,host-network-bypass"},
			want: []string{"allow-all NetworkPolicy storefront/web-from-anywhere", "host-network-bypass DaemonSet ops/node-exporter"},
		},
		"--param overrides a rule's parameter": {
			args: []string{"--rule", "missing-default-deny", "--param", `missing-default-deny.exempt_namespaces=["payments","kube-system"]`},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			doc := runAuditJSON(t, append([]string{"-f", shopDir, "--flows", shopFlows}, tc.args...)...)
			if diff := cmp.Diff(tc.want, doc.found()); diff != "" {
				t.Errorf("findings mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// TestAuditWithoutFlows shows that without flows the rules that need them are skipped and say so,
// and the others still run.
func TestAuditWithoutFlows(t *testing.T) {
	doc := runAuditJSON(t, "-f", shopDir, "--at", "2025-10-02T00:00:00Z")
	var skipped []string
	for _, s := range doc.Summary.RulesSkipped {
		skipped = append(skipped, s.Rule)
	}
	slices.Sort(skipped)
	if want := []string{"denied-traffic", "staged-would-break", "unused-rule", "wider-than-observed"}; !slices.Equal(skipped, want) {
		t.Errorf("skipped = %v, want %v", skipped, want)
	}
	if doc.Summary.Total != 6 {
		t.Errorf("findings without flows = %d, want 6: %v", doc.Summary.Total, doc.found())
	}
}

func truncateForLog(s string) string {
	if len(s) > 2000 {
		return s[:2000] + "..."
	}
	return s
}

// TestAuditNamespaceWithoutItsObject: manifests kept per application rarely hold their
// Namespace; the namespace still exists on any cluster that runs them, so the audit judges it
// and -n names it.
func TestAuditNamespaceWithoutItsObject(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "app.yaml", `apiVersion: apps/v1
kind: Deployment
metadata: {name: api, namespace: team-a}
spec:
  selector: {matchLabels: {app: api}}
  template:
    metadata: {labels: {app: api}}
    spec: {containers: [{name: api, image: registry.example/api:1.0}]}
`)
	doc := runAuditJSON(t, "-f", dir, "--allow-no-flows", "-n", "team-a")
	want := []string{"missing-default-deny Namespace team-a", "unprotected-workload Deployment team-a/api"}
	if diff := cmp.Diff(want, doc.found()); diff != "" {
		t.Errorf("findings mismatch (-want +got):\n%s", diff)
	}
}
