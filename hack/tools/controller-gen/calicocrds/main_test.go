package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const namespacedCRD = `---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: tiers.projectcalico.org
spec:
  group: projectcalico.org
  names:
    kind: Tier
    plural: tiers
  scope: Namespaced
  versions: []
`

func TestSetClusterScope(t *testing.T) {
	tests := map[string]struct {
		in      string
		want    string
		wantErr string
	}{
		"namespaced spec becomes cluster": {
			in:   namespacedCRD,
			want: strings.Replace(namespacedCRD, "scope: Namespaced", "scope: Cluster", 1),
		},
		"no scope line is an error rather than a silent namespaced CRD": {
			in:      strings.Replace(namespacedCRD, "  scope: Namespaced\n", "", 1),
			wantErr: "found 0",
		},
		"a nested scope property is not the spec's scope": {
			in:      strings.Replace(namespacedCRD, "  scope: Namespaced\n", "    scope: Namespaced\n", 1),
			wantErr: "found 0",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := setClusterScope([]byte(tc.in))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error = %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tc.want {
				t.Errorf("got\n%s\nwant\n%s", got, tc.want)
			}
		})
	}
}

func TestKeepKinds(t *testing.T) {
	tests := map[string]struct {
		kinds         []string
		clusterScoped map[string]bool
		wantFiles     []string
		wantScope     string
	}{
		"wanted cluster-scoped kind is kept and scoped": {
			kinds:         []string{"Tier"},
			clusterScoped: map[string]bool{"Tier": true},
			wantFiles:     []string{"projectcalico.org_tiers.yaml"},
			wantScope:     "scope: Cluster",
		},
		"wanted namespaced kind keeps its scope": {
			kinds:     []string{"Tier"},
			wantFiles: []string{"projectcalico.org_tiers.yaml"},
			wantScope: "scope: Namespaced",
		},
		"unwanted kind is dropped": {
			kinds: []string{"NetworkPolicy"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			in := filepath.Join(t.TempDir(), "projectcalico.org_tiers.yaml")
			if err := os.WriteFile(in, []byte(namespacedCRD), 0o644); err != nil {
				t.Fatal(err)
			}
			out := t.TempDir()
			if _, err := keepKinds([]string{in}, out, tc.kinds, tc.clusterScoped, "# heading\n"); err != nil {
				t.Fatal(err)
			}
			entries, err := os.ReadDir(out)
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, e := range entries {
				names = append(names, e.Name())
			}
			if strings.Join(names, ",") != strings.Join(tc.wantFiles, ",") {
				t.Fatalf("files = %v, want %v", names, tc.wantFiles)
			}
			if len(names) == 0 {
				return
			}
			data, err := os.ReadFile(filepath.Join(out, names[0]))
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(string(data), "# heading\n---\n") || !strings.Contains(string(data), tc.wantScope) {
				t.Errorf("output lacks heading or %q:\n%s", tc.wantScope, data)
			}
		})
	}
}

func TestMissingKinds(t *testing.T) {
	tests := map[string]struct {
		want, got []string
		missing   string
	}{
		"all present":    {want: []string{"Tier", "NetworkSet"}, got: []string{"NetworkSet", "Tier"}},
		"one misspelled": {want: []string{"Tier", "NetworkSets"}, got: []string{"Tier"}, missing: "NetworkSets"},
		"none produced":  {want: []string{"Tier"}, missing: "Tier"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := strings.Join(missingKinds(tc.want, tc.got), ","); got != tc.missing {
				t.Errorf("missing = %q, want %q", got, tc.missing)
			}
		})
	}
}
