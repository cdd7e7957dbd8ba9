package cluster

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// ModulePath is the path of the flowguard module, whose root holds config/crd.
const ModulePath = "github.com/flowguard/flowguard"

// ModuleRoot returns the folder of flowguard's go.mod, searching upwards from the working
// directory (a test's working directory is its package folder).
func ModuleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("find module root: %w", err)
	}
	return moduleRootFrom(dir)
}

func moduleRootFrom(dir string) (string, error) {
	for start := dir; ; {
		data, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && modulePath(data) == ModulePath {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("find module root: no go.mod of %s at or above %s", ModulePath, start)
		}
		dir = parent
	}
}

// DefaultCRDDirs returns the CRD folders under root/config/crd: flowguard's generated CRDs
// (bases), Calico's (calico), cert-manager's (cert-manager) and the Kubernetes admin policy
// kinds' (network-policy-api).
func DefaultCRDDirs(root string) []string {
	return []string{
		filepath.Join(root, "config", "crd", "bases"),
		filepath.Join(root, "config", "crd", "calico"),
		filepath.Join(root, "config", "crd", "cert-manager"),
		filepath.Join(root, "config", "crd", "network-policy-api"),
	}
}

// modulePath returns the path on the module line of a go.mod file.
func modulePath(gomod []byte) string {
	lines := bufio.NewScanner(bytes.NewReader(gomod))
	for lines.Scan() {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(lines.Text()), "module"); ok {
			if fields := strings.Fields(rest); len(fields) == 1 {
				return strings.Trim(fields[0], "\"`")
			}
		}
	}
	return ""
}
