package charts

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	admissionv1 "k8s.io/api/admissionregistration/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

// configDir is the kustomize tree the chart must stay equivalent to.
const configDir = "../config"

// documents reads the YAML documents of a file, each with its kind.
func documents(t *testing.T, path string) []manifest {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []manifest
	for doc := range strings.SplitSeq(string(data), "\n---") {
		var meta struct {
			Kind string `json:"kind"`
		}
		if err := yaml.Unmarshal([]byte(doc), &meta); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if meta.Kind != "" {
			out = append(out, manifest{Kind: meta.Kind, Raw: []byte(doc)})
		}
	}
	return out
}

func decodeAll[T any](t *testing.T, ms []manifest, kind string) []T {
	t.Helper()
	var out []T
	for _, m := range ms {
		if m.Kind != kind {
			continue
		}
		var obj T
		if err := yaml.UnmarshalStrict(m.Raw, &obj); err != nil {
			t.Fatalf("%s: %v", kind, err)
		}
		out = append(out, obj)
	}
	return out
}

// TestChartWebhooksMatchConfig holds the chart's webhooks to config/webhook's: the same kinds,
// operations, matchConditions and selectors reach flowguard whichever way it is installed.
// Only the release's names and the CA differ.
func TestChartWebhooksMatchConfig(t *testing.T) {
	ms, err := render(t, nil)
	if err != nil {
		t.Fatalf("render: %v", err)
	}
	var chart admissionv1.ValidatingWebhookConfiguration
	find(t, ms, "ValidatingWebhookConfiguration", &chart)
	configured := decodeAll[admissionv1.ValidatingWebhookConfiguration](t, documents(t, filepath.Join(configDir, "webhook", "manifests.yaml")), "ValidatingWebhookConfiguration")
	if len(configured) != 1 {
		t.Fatalf("config/webhook holds %d webhook configurations, want 1", len(configured))
	}
	// comparable keeps what decides which requests reach flowguard and how the API server
	// treats its answers.
	comparable := func(whs []admissionv1.ValidatingWebhook) map[string]admissionv1.ValidatingWebhook {
		out := map[string]admissionv1.ValidatingWebhook{}
		for _, wh := range whs {
			wh.ClientConfig = admissionv1.WebhookClientConfig{}
			for i := range wh.MatchConditions {
				wh.MatchConditions[i].Expression = strings.Join(strings.Fields(wh.MatchConditions[i].Expression), " ")
			}
			for _, sel := range []*metav1.LabelSelector{wh.NamespaceSelector, wh.ObjectSelector} {
				if sel == nil {
					continue
				}
				for i := range sel.MatchExpressions {
					sel.MatchExpressions[i].Values = slices.Sorted(slices.Values(sel.MatchExpressions[i].Values))
				}
			}
			out[wh.Name] = wh
		}
		return out
	}
	if diff := cmp.Diff(comparable(configured[0].Webhooks), comparable(chart.Webhooks)); diff != "" {
		t.Errorf("the chart's webhooks differ from config/webhook's (-config +chart):\n%s", diff)
	}
	for _, wh := range chart.Webhooks {
		if wh.ClientConfig.Service == nil || wh.ClientConfig.Service.Path == nil || *wh.ClientConfig.Service.Path != "/validate" {
			t.Errorf("%s: does not call /validate on the service: %+v", wh.Name, wh.ClientConfig)
		}
	}
}

// grant is one verb on one resource of one API group.
type grant struct{ group, resource, verb string }

func grants(rules []rbacv1.PolicyRule) map[grant]bool {
	out := map[grant]bool{}
	for _, r := range rules {
		for _, g := range r.APIGroups {
			for _, res := range r.Resources {
				for _, v := range r.Verbs {
					out[grant{g, res, v}] = true
				}
			}
		}
	}
	return out
}

// TestChartRBACMatchesConfig holds the chart's RBAC to config/rbac (generated from the code's
// +kubebuilder:rbac markers) and config/default's leader election Role: everything the binary
// needs is granted, cluster-wide or in the release namespace as there, and nothing more.
func TestChartRBACMatchesConfig(t *testing.T) {
	ms, err := render(t, nil)
	if err != nil {
		t.Fatalf("render: %v", err)
	}
	var chartCluster rbacv1.ClusterRole
	find(t, ms, "ClusterRole", &chartCluster)
	var chartRole rbacv1.Role
	find(t, ms, "Role", &chartRole)

	generated := documents(t, filepath.Join(configDir, "rbac", "role.yaml"))
	configCluster := map[grant]bool{}
	for _, cr := range decodeAll[rbacv1.ClusterRole](t, generated, "ClusterRole") {
		for g := range grants(cr.Rules) {
			configCluster[g] = true
		}
	}
	configNamespaced := map[grant]bool{}
	roles := decodeAll[rbacv1.Role](t, generated, "Role")
	roles = append(roles, decodeAll[rbacv1.Role](t, documents(t, filepath.Join(configDir, "default", "leader_election_role.yaml")), "Role")...)
	for _, r := range roles {
		for g := range grants(r.Rules) {
			configNamespaced[g] = true
		}
	}

	chartClusterGrants, chartRoleGrants := grants(chartCluster.Rules), grants(chartRole.Rules)
	var missing, extra []string
	for g := range configCluster {
		if !chartClusterGrants[g] {
			missing = append(missing, fmt.Sprintf("cluster-wide %v", g))
		}
	}
	for g := range configNamespaced {
		if !chartRoleGrants[g] && !chartClusterGrants[g] {
			missing = append(missing, fmt.Sprintf("in the release namespace %v", g))
		}
	}
	for g := range chartClusterGrants {
		if !configCluster[g] {
			extra = append(extra, fmt.Sprintf("cluster-wide %v", g))
		}
	}
	for g := range chartRoleGrants {
		if !configNamespaced[g] {
			extra = append(extra, fmt.Sprintf("in the release namespace %v", g))
		}
	}
	slices.Sort(missing)
	slices.Sort(extra)
	for _, m := range missing {
		t.Errorf("config grants, the chart does not: %s", m)
	}
	for _, e := range extra {
		t.Errorf("the chart grants, config does not (least privilege): %s", e)
	}
}

// TestChartCRDsMatchConfig holds the chart's crds/ to config/crd/bases, which `make manifests`
// generates: after a change to api/, copy them (cp config/crd/bases/flowguard.dev_*.yaml
// charts/flowguard/crds/).
func TestChartCRDsMatchConfig(t *testing.T) {
	generated, err := filepath.Glob(filepath.Join(configDir, "crd", "bases", "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, p := range generated {
		if filepath.Base(p) != "kustomization.yaml" {
			want = append(want, filepath.Base(p))
		}
	}
	shipped, err := filepath.Glob(filepath.Join(chartDir, "crds", "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range shipped {
		got = append(got, filepath.Base(p))
	}
	if !slices.Equal(got, want) {
		t.Fatalf("charts/flowguard/crds holds %v, config/crd/bases %v", got, want)
	}
	for _, name := range want {
		a, err := os.ReadFile(filepath.Join(configDir, "crd", "bases", name))
		if err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(filepath.Join(chartDir, "crds", name))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(a, b) {
			t.Errorf("charts/flowguard/crds/%s differs from config/crd/bases/%s: copy it again", name, name)
		}
	}
}
