package cluster

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/runtime/schema"
)

func TestModulePath(t *testing.T) {
	tests := map[string]struct {
		gomod string
		want  string
	}{
		"plain":                     {gomod: "module github.com/flowguard/flowguard\n\ngo 1.26.0\n", want: ModulePath},
		"quoted":                    {gomod: "module \"github.com/flowguard/flowguard\"\n", want: ModulePath},
		"comment before the line":   {gomod: "// tools\nmodule example.com/tools\n", want: "example.com/tools"},
		"tools module of flowguard": {gomod: "module github.com/flowguard/flowguard/hack/tools/etcd\n", want: ModulePath + "/hack/tools/etcd"},
		"no module line":            {gomod: "go 1.26.0\n", want: ""},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := modulePath([]byte(tc.gomod)); got != tc.want {
				t.Errorf("modulePath = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestModuleRootFrom(t *testing.T) {
	root := t.TempDir()
	write(t, filepath.Join(root, "go.mod"), "module "+ModulePath+"\n")
	write(t, filepath.Join(root, "hack", "tools", "k8s", "go.mod"), "module "+ModulePath+"/hack/tools/k8s\n")
	mkdir(t, filepath.Join(root, "test", "e2e"))
	other := t.TempDir()
	write(t, filepath.Join(other, "go.mod"), "module example.com/other\n")

	tests := map[string]struct {
		from    string
		want    string
		wantErr bool
	}{
		"from the root":                          {from: root, want: root},
		"from a test package":                    {from: filepath.Join(root, "test", "e2e"), want: root},
		"past a nested tools module":             {from: filepath.Join(root, "hack", "tools", "k8s"), want: root},
		"another module is never taken for ours": {from: other, wantErr: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := moduleRootFrom(tc.from)
			if tc.wantErr {
				if err == nil {
					t.Fatalf("moduleRootFrom(%s) = %s, want an error", tc.from, got)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Errorf("moduleRootFrom = %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

func TestAssetsDir(t *testing.T) {
	complete := t.TempDir()
	for _, name := range requiredBinaries {
		writeMode(t, filepath.Join(complete, name), "#!/bin/sh\n", 0o755)
	}
	noKubectl := t.TempDir()
	writeMode(t, filepath.Join(noKubectl, "etcd"), "", 0o755)
	writeMode(t, filepath.Join(noKubectl, "kube-apiserver"), "", 0o755)
	notExecutable := t.TempDir()
	for _, name := range requiredBinaries {
		writeMode(t, filepath.Join(notExecutable, name), "", 0o644)
	}

	tests := map[string]struct {
		dir     string
		env     string
		wantErr string
	}{
		"explicit folder":                   {dir: complete},
		"from KUBEBUILDER_ASSETS":           {env: complete},
		"nothing set says how to fix it":    {wantErr: "make envtest"},
		"a missing binary is named":         {dir: noKubectl, wantErr: "kubectl"},
		"a binary that cannot run is named": {dir: notExecutable, wantErr: "not an executable"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Setenv(AssetsEnv, tc.env)
			got, err := assetsDir(tc.dir)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("assetsDir error = %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || got != complete {
				t.Errorf("assetsDir = %q, %v; want %q", got, err, complete)
			}
		})
	}
}

func TestNewSchemeKnowsEveryKindTestsCreate(t *testing.T) {
	scheme, err := NewScheme()
	if err != nil {
		t.Fatal(err)
	}
	for _, gvk := range []schema.GroupVersionKind{
		{Version: "v1", Kind: "Namespace"},
		{Group: "networking.k8s.io", Version: "v1", Kind: "NetworkPolicy"},
		{Group: "apiextensions.k8s.io", Version: "v1", Kind: "CustomResourceDefinition"},
		{Group: "flowguard.dev", Version: "v1alpha1", Kind: "AuditSchedule"},
		{Group: "projectcalico.org", Version: "v3", Kind: "Tier"},
		{Group: "projectcalico.org", Version: "v3", Kind: "StagedKubernetesNetworkPolicy"},
		{Group: "cert-manager.io", Version: "v1", Kind: "Certificate"},
		{Group: "cert-manager.io", Version: "v1", Kind: "Issuer"},
		{Group: "policy.networking.k8s.io", Version: "v1alpha1", Kind: "AdminNetworkPolicy"},
		{Group: "policy.networking.k8s.io", Version: "v1alpha2", Kind: "ClusterNetworkPolicy"},
	} {
		if !scheme.Recognizes(gvk) {
			t.Errorf("scheme does not recognize %s", gvk)
		}
	}
}

func write(t *testing.T, path, content string) { writeMode(t, path, content, 0o644) }

func writeMode(t *testing.T, path, content string, mode os.FileMode) {
	t.Helper()
	mkdir(t, filepath.Dir(path))
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
}

func mkdir(t *testing.T, dir string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
}
