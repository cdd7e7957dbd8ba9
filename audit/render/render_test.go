package render

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"sigs.k8s.io/yaml"

	"github.com/flowguard/flowguard/audit"
)

// Set UPDATE_GOLDEN=1 to rewrite the golden files from the current output.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if os.Getenv("UPDATE_GOLDEN") != "" {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden file (UPDATE_GOLDEN=1 writes it): %v", err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("%s mismatch (-want +got):\n%s", path, diff)
	}
}

var (
	end   = time.Date(2026, 3, 1, 3, 0, 0, 0, time.UTC)
	start = end.Add(-24 * time.Hour)
)

// shopResult is a small audit with one finding of each kind of detail: flows, facts, a fix with
// a manifest, a cluster-scoped object, a skipped rule and a clean namespace.
func shopResult() audit.Result {
	narrowed := map[string]any{
		"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
		"metadata": map[string]any{"name": "api-ingress", "namespace": "shop"},
		"spec": map[string]any{
			"podSelector": map[string]any{"matchLabels": map[string]any{"app": "api"}},
			"ingress": []any{map[string]any{
				"from":  []any{map[string]any{"podSelector": map[string]any{"matchLabels": map[string]any{"app": "frontend"}}}},
				"ports": []any{map[string]any{"port": 8080, "protocol": "TCP"}},
			}},
		},
	}
	fs := []audit.Finding{
		{Rule: "allow-all", Title: "A rule that admits every peer on every port", Severity: "high",
			Resource: audit.Resource{APIVersion: "networking.k8s.io/v1", Kind: "NetworkPolicy", Namespace: "shop", Name: "api-ingress"},
			Message:  "Ingress rule 0 of NetworkPolicy shop/api-ingress admits every source on every port; only shop/frontend was seen, on TCP/8080.",
			Evidence: audit.Evidence{FlowsTotal: 7, Flows: []audit.Flow{
				{Source: "shop/frontend", Destination: "shop/api", Protocol: "TCP", Port: 8080, Action: "allow", Count: 1290, LastSeen: end.Add(-time.Minute)},
				{Source: "shop/frontend", Destination: "shop/api", Protocol: "TCP", Port: 8081, Action: "allow", Count: 3, LastSeen: end.Add(-time.Hour)},
			}},
			Fix: &audit.Fix{Description: "Replace the rule with one that admits shop/frontend on TCP/8080.", Policy: narrowed}},
		{Rule: "missing-default-deny", Title: "A namespace without a default deny", Severity: "medium",
			Resource: audit.Resource{APIVersion: "v1", Kind: "Namespace", Name: "shop"},
			Message:  "Namespace shop has no default-deny policy for ingress.",
			Fix:      &audit.Fix{Description: "Add a NetworkPolicy that selects every pod and allows nothing."}},
		{Rule: "shadowed-rule", Title: "A rule that can never decide", Severity: "low",
			Resource: audit.Resource{APIVersion: "projectcalico.org/v3", Kind: "GlobalNetworkPolicy", Name: "platform.deny-legacy"},
			Message:  "Egress rule 2 can never decide: rule 0 always decides first.",
			Evidence: audit.Evidence{Facts: map[string]any{"shadowedBy": "platform.deny-legacy egress rule 0", "rule": 2}}},
		{Rule: "denied-traffic", Title: "Traffic denied by policy", Severity: "info",
			Resource: audit.Resource{APIVersion: "projectcalico.org/v3", Kind: "NetworkPolicy", Namespace: "payments", Name: "default.deny"},
			Message:  "12 flows from shop/frontend to payments/ledger on TCP/5432 were denied.",
			Evidence: audit.Evidence{Flows: []audit.Flow{{Source: "shop/frontend", Destination: "payments/ledger", Protocol: "TCP",
				Port: 5432, Action: "deny", Count: 12, LastSeen: end.Add(-2 * time.Hour)}}}},
	}
	audit.SortFindings(fs)
	return audit.Result{
		EvaluatedAt: end, Window: &audit.Window{Start: start, End: end},
		Namespaces: []string{"payments", "quiet", "shop"}, Findings: fs,
		Skipped: []audit.Skipped{{Rule: "staged-would-break", Reason: "no staged policies in scope"}},
	}
}

func shopPicture() *Picture {
	return &Picture{
		Namespaces: []PictureNamespace{
			{Name: "shop", Workloads: []string{"frontend", "api"}},
			{Name: "payments", Workloads: []string{"ledger"}},
			{Name: "quiet", Workloads: []string{"batch"}},
		},
		External: []string{"pub"},
		Edges: []Edge{
			{From: "pub", To: "shop/frontend", Ports: []string{"TCP/443"}, Allowed: true, Observed: true},
			{From: "shop/frontend", To: "shop/api", Ports: []string{"TCP/8080"}, Allowed: true, Observed: true},
			{From: "shop/frontend", To: "payments/ledger", Ports: []string{"TCP/5432"}, Denied: true},
			{From: "quiet/batch", To: "shop/api", Allowed: true},
			{From: "shop/api", To: "payments/ledger", Ports: []string{"TCP/5432"}, Observed: true},
			{From: "shop/api", To: "gone/nowhere", Allowed: true},
		},
	}
}

func TestGolden(t *testing.T) {
	tests := map[string]struct {
		format Format
		input  Input
	}{
		"shop.txt":                {Text, Input{Result: shopResult(), Subject: "examples/shop"}},
		"shop.json":               {JSON, Input{Result: shopResult()}},
		"shop.yaml":               {YAML, Input{Result: shopResult()}},
		"shop.html":               {HTML, Input{Result: shopResult(), Subject: "examples/shop", Picture: shopPicture()}},
		"shop.policyreport.yaml":  {PolicyReport, Input{Result: shopResult(), RunName: "flowguard-shop"}},
		"clean.txt":               {Text, Input{Result: audit.Result{EvaluatedAt: end, Namespaces: []string{"a"}}}},
		"clean.json":              {JSON, Input{Result: audit.Result{EvaluatedAt: end}}},
		"clean.policyreport.yaml": {PolicyReport, Input{Result: audit.Result{EvaluatedAt: end}}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := Write(&buf, tc.format, tc.input); err != nil {
				t.Fatal(err)
			}
			golden(t, name, buf.Bytes())
		})
	}
}

// TestJSONShape pins the fields tools rely on, whatever the golden files say.
func TestJSONShape(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteJSON(&buf, Input{Result: shopResult()}); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Summary  map[string]any   `json:"summary"`
		Findings []map[string]any `json:"findings"`
	}
	if err := json.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"score", "total", "bySeverity", "namespaces"} {
		if _, ok := doc.Summary[k]; !ok {
			t.Errorf("summary lacks %q", k)
		}
	}
	if len(doc.Findings) != 4 {
		t.Fatalf("got %d findings, want 4", len(doc.Findings))
	}
	for _, f := range doc.Findings {
		for _, k := range []string{"rule", "severity", "resource", "message", "evidence"} {
			if _, ok := f[k]; !ok {
				t.Errorf("finding %v lacks %q", f["rule"], k)
			}
		}
		res := f["resource"].(map[string]any)
		if res["kind"] == "" || res["name"] == "" {
			t.Errorf("finding %v: resource %v lacks kind or name", f["rule"], res)
		}
	}
}

// TestPolicyReportSplits shows that a namespace with more results than one report should hold is
// split over several, every result kept and counted once.
func TestPolicyReportSplits(t *testing.T) {
	var fs []audit.Finding
	for i := range 1200 {
		sev := audit.Severity("high")
		if i%4 == 0 {
			sev = "info"
		}
		fs = append(fs, audit.Finding{Rule: "unused-rule", Severity: sev, Message: strings.Repeat("m", 100),
			Resource: audit.Resource{Kind: "NetworkPolicy", Namespace: "big", Name: "p"}})
	}
	var buf bytes.Buffer
	if err := WritePolicyReports(&buf, Input{Result: audit.Result{EvaluatedAt: end, Findings: fs}}); err != nil {
		t.Fatal(err)
	}
	var names []string
	fail, warn := 0, 0
	for _, doc := range strings.Split(buf.String(), "---\n") {
		var rep policyReport
		if err := yaml.Unmarshal([]byte(doc), &rep); err != nil {
			t.Fatal(err)
		}
		names = append(names, rep.Kind+" "+rep.Metadata.Namespace+"/"+rep.Metadata.Name)
		if rep.Summary.Fail+rep.Summary.Warn != len(rep.Results) || len(rep.Results) > prMaxResults {
			t.Errorf("%s: summary %+v for %d results", rep.Metadata.Name, rep.Summary, len(rep.Results))
		}
		fail += rep.Summary.Fail
		warn += rep.Summary.Warn
	}
	want := []string{"ClusterPolicyReport /flowguard-audit", "PolicyReport big/flowguard-audit",
		"PolicyReport big/flowguard-audit-2", "PolicyReport big/flowguard-audit-3"}
	if diff := cmp.Diff(want, names); diff != "" {
		t.Errorf("reports mismatch (-want +got):\n%s", diff)
	}
	if fail != 900 || warn != 300 {
		t.Errorf("fail %d warn %d, want 900 and 300", fail, warn)
	}
}

func TestParseFormat(t *testing.T) {
	for _, f := range Formats() {
		if got, err := ParseFormat(string(f)); err != nil || got != f {
			t.Errorf("ParseFormat(%q) = %q, %v", f, got, err)
		}
	}
	if _, err := ParseFormat("csv"); err == nil || !strings.Contains(err.Error(), "text, json, yaml, html, policyreport") {
		t.Errorf("ParseFormat(csv) error = %v, want the list of formats", err)
	}
}
