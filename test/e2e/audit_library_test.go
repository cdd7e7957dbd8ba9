//go:build e2e

package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/flowguard/flowguard/api/v1alpha1"
	"github.com/flowguard/flowguard/cmd/flowguard/app"
)

// TestAuditScheduleWithTheRuleLibrary runs the auditor as `flowguard serve` wires it, with every
// part real: examples/shop applied with the real kubectl, the informer-backed State the webhook
// keeps, the built-in rule library, and the shop's flow log as the traffic graph. A run-now
// request writes one report per namespace with the example's findings in it.
func TestAuditScheduleWithTheRuleLibrary(t *testing.T) {
	// The flow log covers 2025-10-01; the audit's clock stands at its end.
	c, shop := startShopAuditor(t, time.Date(2025, 10, 2, 0, 0, 0, 0, time.UTC))
	ctx := t.Context()

	sched := &v1alpha1.AuditSchedule{
		ObjectMeta: metav1.ObjectMeta{Name: "shop", Annotations: map[string]string{v1alpha1.RunNowAnnotation: "1"}},
		Spec: v1alpha1.AuditScheduleSpec{Schedule: "@daily", NamespaceSelector: &metav1.LabelSelector{
			MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "kubernetes.io/metadata.name", Operator: metav1.LabelSelectorOpNotIn,
				Values: []string{"default", "kube-public", "kube-node-lease"}}},
		}},
	}
	if err := c.Client.Create(ctx, sched); err != nil {
		t.Fatal(err)
	}
	st := scheduleStatus(t, c, "shop", "the requested run", func(s v1alpha1.AuditScheduleStatus) bool { return s.LastRunRequest == "1" })
	if st.LastError != "" {
		t.Fatalf("run failed: %s", st.LastError)
	}

	var reports v1alpha1.AuditReportList
	if err := c.Client.List(ctx, &reports, client.MatchingLabels{v1alpha1.RunLabel: st.LastReport}); err != nil {
		t.Fatal(err)
	}
	got := map[string][]string{}
	for _, r := range reports.Items {
		got[r.Namespace] = []string{}
		for _, v := range r.Violations {
			got[r.Namespace] = append(got[r.Namespace], v.Rule+" "+v.Resource.Kind+" "+v.Resource.Name)
		}
		slices.Sort(got[r.Namespace])
	}
	want := map[string][]string{
		"kube-system": {},
		"monitoring":  {},
		"ops":         {"host-network-bypass DaemonSet node-exporter"},
		"payments": {"denied-traffic Namespace payments", "missing-default-deny Namespace payments",
			"unprotected-workload Deployment fraud-check"},
		"storefront": {"allow-all NetworkPolicy web-from-anywhere", "dangling-selector NetworkPolicy cart-from-legacy-checkout",
			"staged-would-break StagedNetworkPolicy lockdown-web", "unused-rule NetworkPolicy cart-metrics", "wider-than-observed NetworkPolicy web-from-anywhere"},
	}
	if diff := cmpDiff(want, got); diff != "" {
		t.Errorf("violations per namespace (-want +got):\n%s", diff)
	}
	var cr v1alpha1.ClusterAuditReport
	if err := c.Client.Get(ctx, client.ObjectKey{Name: st.LastReport}, &cr); err != nil {
		t.Fatal(err)
	}
	if cr.Summary.Total != 10 || len(cr.Violations) != 1 || cr.Violations[0].Rule != "shadowed-rule" || len(cr.Summary.RulesSkipped) != 0 {
		t.Errorf("cluster report: total %d, violations %+v, skipped %v", cr.Summary.Total, cr.Violations, cr.Summary.RulesSkipped)
	}

	t.Run("flowguard audit --kubeconfig finds the same as the auditor", func(t *testing.T) {
		var out, errOut bytes.Buffer
		code := app.Execute([]string{"audit", "--kubeconfig", c.Kubeconfig, "--flows", filepath.Join(shop, "flows.jsonl"),
			"--namespace", "kube-system,monitoring,ops,payments,storefront", "-o", "json"}, &out, &errOut)
		if code != app.ExitOK {
			t.Fatalf("flowguard audit --kubeconfig exited %d: %s", code, errOut.String())
		}
		var doc struct {
			Findings []struct {
				Rule     string `json:"rule"`
				Resource struct{ Kind, Namespace, Name string }
			} `json:"findings"`
		}
		if err := json.Unmarshal(out.Bytes(), &doc); err != nil {
			t.Fatal(err)
		}
		cli := map[string][]string{}
		for ns := range want {
			cli[ns] = []string{}
		}
		for _, f := range doc.Findings {
			ns := f.Resource.Namespace
			if f.Resource.Kind == "Namespace" {
				ns = f.Resource.Name
			}
			if ns == "" {
				ns = "(cluster)"
			}
			cli[ns] = append(cli[ns], f.Rule+" "+f.Resource.Kind+" "+f.Resource.Name)
		}
		for ns := range cli {
			slices.Sort(cli[ns])
		}
		want["(cluster)"] = []string{"shadowed-rule GlobalNetworkPolicy platform.egress-guard"}
		if diff := cmpDiff(want, cli); diff != "" {
			t.Errorf("findings per namespace (-auditor +CLI):\n%s", diff)
		}
	})
}

// namespaceOwner is an audit rule on namespaces; "%s" is its message.
const namespaceOwner = `# METADATA
# title: Namespaces name their owner
# custom:
#   id: namespace-owner
#   severity: low
#   action: dryrun
#   targets: [audit]
#   subjects: [Namespace]
package teams.namespace_owner

violation contains {"msg": "%s", "details": {}} if {
	not input.object.metadata.labels.owner
}
`

// TestLiveAuditRunsTheClusterRegoRules: `flowguard audit --kubeconfig` runs the RegoRules the
// cluster holds, as the cluster's auditor does; one of --rules replaces the cluster's rule of
// its name; a cluster rule that does not compile stops the audit naming it.
func TestLiveAuditRunsTheClusterRegoRules(t *testing.T) {
	c, shop := startShopAuditor(t, time.Date(2025, 10, 2, 0, 0, 0, 0, time.UTC))
	ctx := t.Context()
	flows := filepath.Join(shop, "flows.jsonl")
	rule := &v1alpha1.RegoRule{ObjectMeta: metav1.ObjectMeta{Name: "namespace-owner"},
		Spec: v1alpha1.RegoRuleSpec{Module: fmt.Sprintf(namespaceOwner, "no owner label, from the cluster")}}
	if err := c.Client.Create(ctx, rule); err != nil {
		t.Fatal(err)
	}
	audit := func(args ...string) (int, string, string) {
		var out, errOut bytes.Buffer
		code := app.Execute(append([]string{"audit", "--kubeconfig", c.Kubeconfig, "--flows", flows, "-n", "payments", "--rule", "namespace-owner"}, args...), &out, &errOut)
		return code, out.String(), errOut.String()
	}

	code, out, stderr := audit()
	if code != app.ExitOK || !strings.Contains(out, "namespace-owner") || !strings.Contains(out, "no owner label, from the cluster") {
		t.Errorf("the cluster's RegoRule: exit %d, want its finding on namespace payments\nstdout:\n%s\nstderr:\n%s", code, out, stderr)
	}

	edited := filepath.Join(t.TempDir(), "namespace-owner.yaml")
	manifest := "apiVersion: flowguard.dev/v1alpha1\nkind: RegoRule\nmetadata: {name: namespace-owner}\nspec:\n  module: |\n" +
		indentLines(fmt.Sprintf(namespaceOwner, "no owner label, from the edit"), "    ")
	if err := os.WriteFile(edited, []byte(manifest), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, stderr = audit("--rules", edited)
	if code != app.ExitOK || !strings.Contains(out, "no owner label, from the edit") || strings.Contains(out, "from the cluster") ||
		!strings.Contains(stderr, "RegoRule namespace-owner of --rules replaces the cluster's") {
		t.Errorf("--rules over the cluster's rule: exit %d, want the edit's finding only and a note\nstdout:\n%s\nstderr:\n%s", code, out, stderr)
	}

	broken := &v1alpha1.RegoRule{ObjectMeta: metav1.ObjectMeta{Name: "broken"},
		Spec: v1alpha1.RegoRuleSpec{Module: "package teams.broken\n\nviolation contains {\"msg\": msg} if {\n\tmsg := concat(\"\", [input.object.metadata.name)\n}\n"}}
	if err := c.Client.Create(ctx, broken); err != nil {
		t.Fatal(err)
	}
	code, _, stderr = audit()
	if code != app.ExitBadInput || !strings.Contains(stderr, "RegoRule broken in the cluster: spec.module: line 4, column 47: rego_parse_error") {
		t.Errorf("a broken RegoRule in the cluster: exit %d, want %d naming it\nstderr:\n%s", code, app.ExitBadInput, stderr)
	}
}

func indentLines(s, prefix string) string {
	var b strings.Builder
	for line := range strings.Lines(s) {
		if strings.TrimSpace(line) != "" {
			b.WriteString(prefix)
		}
		b.WriteString(line)
	}
	return b.String()
}
