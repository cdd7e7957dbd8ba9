package app

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

// What the shop's recommendation replaces, and what stays.
//
// The recommendation is per namespace: it supersedes every policy a namespace owns, Kubernetes
// NetworkPolicies and the storefront's staged lockdown alike (a preview of the same namespace's
// isolation). The platform team's Tier and GlobalNetworkPolicy are cluster-wide, owned by no
// namespace, and stay: the recommendation must hold with them in place, as it would be applied
// to the real cluster (their egress guard lets DNS out and passes everything else on to the
// namespaces' policies).
var shopKeptKinds = []string{"Namespace", "Deployment", "StatefulSet", "DaemonSet", "projectcalico.org/Tier", "projectcalico.org/GlobalNetworkPolicy"}

// TestRecommendationFixesTheShop shows what issue-level promise the recommender makes on
// examples/shop: applied in place of the shop's own policies, the recommendation leaves no
// unprotected workload, allow-all rule, rule wider than its traffic or namespace without a
// default deny, and putting it in place (allows first, then default denies, then deleting the
// policies it replaces) breaks no observed flow.
//
// For --style calico-staged the same holds once the staged policies are enforced (turned into
// Calico NetworkPolicies in their tier); while staged, none of them would break an observed
// flow if enforced.
func TestRecommendationFixesTheShop(t *testing.T) {
	banned := []string{"allow-all", "missing-default-deny", "unprotected-workload", "wider-than-observed"}
	shop := readShop(t)
	var kept, replaced []map[string]any
	for _, obj := range shop {
		if slices.Contains(shopKeptKinds, manifestKind(obj)) {
			kept = append(kept, obj)
		} else {
			replaced = append(replaced, obj)
		}
	}

	tests := map[string]struct {
		style string
		// enforce turns the recommendation into what is enforced once applied.
		enforce func([]map[string]any) []map[string]any
		// remaining are the findings left once the recommendation is in place: problems no
		// network policy of a namespace can fix, and the traffic denied in the window.
		remaining []string
	}{
		"Kubernetes NetworkPolicies": {
			style: "k8s", enforce: func(objs []map[string]any) []map[string]any { return objs },
			remaining: []string{
				"denied-traffic Namespace payments",                       // web -> ledger:5432 was denied in the window
				"host-network-bypass DaemonSet ops/node-exporter",         // no NetworkPolicy applies to it
				"shadowed-rule GlobalNetworkPolicy platform.egress-guard", // the platform tier's own problem
				// The platform tier lets DNS out before any namespace policy is asked, so the
				// recommended DNS allowance decides nothing where pods did talk (storefront).
				"unused-rule NetworkPolicy storefront/flowguard-allow-dns",
			},
		},
		"Calico StagedNetworkPolicies once enforced": {
			style: "calico-staged", enforce: enforceStaged,
			remaining: []string{
				"denied-traffic Namespace payments",
				"host-network-bypass DaemonSet ops/node-exporter",
				"shadowed-rule GlobalNetworkPolicy platform.egress-guard",
				"unused-rule NetworkPolicy storefront/namespace-isolation.storefront", // DNS over UDP, as above
				"unused-rule NetworkPolicy storefront/namespace-isolation.storefront", // DNS over TCP, never seen
			},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			recommended := recommendShop(t, tc.style)
			enforced := tc.enforce(recommended)
			dir := t.TempDir()

			// Audit the shop with the recommendation in place of its own policies.
			applied := filepath.Join(dir, "applied")
			writeObjects(t, filepath.Join(applied, "cluster.yaml"), slices.Concat(kept, enforced))
			doc := runAuditJSON(t, "-f", applied, "--flows", shopFlows)
			var left []string
			for _, f := range doc.found() {
				if slices.Contains(banned, strings.Fields(f)[0]) {
					t.Errorf("the applied recommendation still has %s", f)
				} else {
					left = append(left, f)
				}
			}
			if diff := cmp.Diff(tc.remaining, left); diff != "" {
				t.Errorf("findings left with the recommendation applied (-want +got):\n%s", diff)
			}

			// Put it in place over the shop as it is, one object at a time in the order
			// recommend prints them (which must be safe to apply), then delete the old policies.
			change := filepath.Join(dir, "change.yaml")
			writeObjects(t, change, slices.Concat(enforced, deletions(replaced)))
			for _, v := range runCheckJSON(t, "-f", shopDir, "--flows", shopFlows, "--change", change) {
				if v.Rule == "breaking-change" {
					t.Errorf("putting the recommendation in place breaks observed flows: %s", v.Msg)
				}
			}
		})
	}

	t.Run("staged policies previewed over the shop would break nothing", func(t *testing.T) {
		recommended := recommendShop(t, "calico-staged")
		dir := t.TempDir()
		writeObjects(t, filepath.Join(dir, "cluster.yaml"), slices.Concat(shop, recommended))
		doc := runAuditJSON(t, "-f", dir, "--flows", shopFlows, "--rule", "staged-would-break")
		// The shop's own lockdown still would; none of the recommended policies does.
		want := []string{"staged-would-break StagedNetworkPolicy storefront/lockdown-web"}
		if diff := cmp.Diff(want, doc.found()); diff != "" {
			t.Errorf("staged-would-break findings (-want +got):\n%s", diff)
		}
	})
}

// recommendShop runs `flowguard recommend` over the shop and returns its objects.
func recommendShop(t *testing.T, style string) []map[string]any {
	t.Helper()
	var out, errOut bytes.Buffer
	if code := Execute([]string{"recommend", "-f", shopDir, "--flows", shopFlows, "--style", style}, &out, &errOut); code != ExitOK {
		t.Fatalf("flowguard recommend --style %s exited %d: %s", style, code, errOut.String())
	}
	objs := decodeObjects(t, "recommendation", out.Bytes())
	if len(objs) == 0 {
		t.Fatalf("flowguard recommend --style %s wrote nothing: %s", style, errOut.String())
	}
	return objs
}

// readShop reads every manifest of examples/shop.
func readShop(t *testing.T) []map[string]any {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(shopDir, "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("list %s: %v", shopDir, err)
	}
	var objs []map[string]any
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		objs = append(objs, decodeObjects(t, f, b)...)
	}
	return objs
}

func decodeObjects(t *testing.T, what string, b []byte) []map[string]any {
	t.Helper()
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(b), 4096)
	var objs []map[string]any
	for {
		var obj map[string]any
		err := dec.Decode(&obj)
		if errors.Is(err, io.EOF) {
			return objs
		}
		if err != nil {
			t.Fatalf("decode %s: %v", what, err)
		}
		if obj != nil {
			objs = append(objs, obj)
		}
	}
}

func writeObjects(t *testing.T, path string, objs []map[string]any) {
	t.Helper()
	var b bytes.Buffer
	for _, obj := range objs {
		y, err := yaml.Marshal(obj)
		if err != nil {
			t.Fatal(err)
		}
		b.WriteString("---\n")
		b.Write(y)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// manifestKind names an object's kind as the rules do: group-qualified outside the core,
// apps and networking.k8s.io groups.
func manifestKind(obj map[string]any) string {
	kind, _ := obj["kind"].(string)
	if av, _ := obj["apiVersion"].(string); strings.HasPrefix(av, "projectcalico.org/") {
		return "projectcalico.org/" + kind
	}
	return kind
}

// enforceStaged is what enforcing a staged recommendation does: each StagedNetworkPolicy
// becomes the Calico NetworkPolicy it stages, in the same tier.
func enforceStaged(objs []map[string]any) []map[string]any {
	out := make([]map[string]any, 0, len(objs))
	for _, obj := range objs {
		if manifestKind(obj) == "projectcalico.org/StagedNetworkPolicy" {
			obj = cloneObject(obj)
			obj["kind"] = "NetworkPolicy"
			delete(obj["spec"].(map[string]any), "stagedAction")
		}
		out = append(out, obj)
	}
	return out
}

// deletions are the objects, annotated to be deleted by `flowguard check`.
func deletions(objs []map[string]any) []map[string]any {
	out := make([]map[string]any, 0, len(objs))
	for _, obj := range objs {
		obj = cloneObject(obj)
		meta := obj["metadata"].(map[string]any)
		meta["annotations"] = map[string]any{OperationAnnotation: "DELETE"}
		out = append(out, obj)
	}
	return out
}

func cloneObject(obj map[string]any) map[string]any {
	b, _ := json.Marshal(obj)
	var out map[string]any
	_ = json.Unmarshal(b, &out)
	return out
}

type checkedViolation struct {
	Rule, Msg string
	Resource  struct{ Kind, Namespace, Name string }
}

// runCheckJSON runs `flowguard check -o json`, which must allow the change.
func runCheckJSON(t *testing.T, args ...string) []checkedViolation {
	t.Helper()
	var out, errOut bytes.Buffer
	code := Execute(append([]string{"check", "-o", "json"}, args...), &out, &errOut)
	var report struct {
		Violations []checkedViolation `json:"violations"`
		Errors     []string           `json:"errors"`
	}
	if err := json.Unmarshal(out.Bytes(), &report); err != nil {
		t.Fatalf("flowguard check exited %d, output is not JSON: %v\n%s%s", code, err, out.String(), errOut.String())
	}
	if len(report.Errors) > 0 {
		t.Errorf("rule errors: %v", report.Errors)
	}
	if code != ExitOK {
		t.Errorf("flowguard check exited %d, want %d:\n%s", code, ExitOK, out.String())
	}
	return report.Violations
}
