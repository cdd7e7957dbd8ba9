package cluster

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// AssetsEnv names the environment variable that points at the folder holding etcd,
// kube-apiserver and kubectl; `make test-e2e` sets it.
const AssetsEnv = "KUBEBUILDER_ASSETS"

// Binaries that must be present in the assets folder.
var requiredBinaries = []string{"etcd", "kube-apiserver", "kubectl"}

// Options configure a control plane. The zero value starts one from $KUBEBUILDER_ASSETS with every
// CRD under the module's config/crd installed.
type Options struct {
	// AssetsDir holds etcd, kube-apiserver and kubectl. Empty means $KUBEBUILDER_ASSETS.
	AssetsDir string
	// CRDDirs are folders of CRD manifests to install; every one must exist. Nil means
	// DefaultCRDDirs of the module root.
	CRDDirs []string
	// Scheme is the client's scheme. Nil means NewScheme().
	Scheme *runtime.Scheme
	// Webhooks are admission webhook configurations to install, pointing at a server the test
	// runs (envtest fills in LocalServingHost, LocalServingPort and LocalServingCertDir).
	Webhooks envtest.WebhookInstallOptions
}

// Cluster is a running control plane.
type Cluster struct {
	// Config reaches the API server as a member of system:masters.
	Config *rest.Config
	// Client uses Scheme.
	Client client.Client
	// Scheme knows core Kubernetes, apiextensions, flowguard, Calico and cert-manager types.
	Scheme *runtime.Scheme
	// Kubeconfig is the path of a kubeconfig file for Config's user.
	Kubeconfig string
	// AssetsDir holds the binaries the control plane runs, and kubectl.
	AssetsDir string
	// CRDs are the CustomResourceDefinitions installed, all established.
	CRDs []*apiextensionsv1.CustomResourceDefinition
	// Environment is the underlying envtest environment, for what this package does not wrap
	// (e.g. Environment.WebhookInstallOptions after Start).
	Environment *envtest.Environment

	workDir string
}

// Start starts etcd and kube-apiserver, installs the CRDs and waits until they are served. Stop
// must be called when done. Tests that share one control plane start it in TestMain.
func Start(opts Options) (*Cluster, error) {
	assets, err := assetsDir(opts.AssetsDir)
	if err != nil {
		return nil, err
	}
	crdDirs := opts.CRDDirs
	if crdDirs == nil {
		root, err := ModuleRoot()
		if err != nil {
			return nil, err
		}
		crdDirs = DefaultCRDDirs(root)
	}
	scheme := opts.Scheme
	if scheme == nil {
		if scheme, err = NewScheme(); err != nil {
			return nil, err
		}
	}
	workDir, err := os.MkdirTemp("", "flowguard-cluster-")
	if err != nil {
		return nil, fmt.Errorf("create cluster work folder: %w", err)
	}

	env := &envtest.Environment{
		BinaryAssetsDirectory: assets,
		Scheme:                scheme,
		CRDInstallOptions:     envtest.CRDInstallOptions{Paths: crdDirs},
		ErrorIfCRDPathMissing: true,
		WebhookInstallOptions: opts.Webhooks,
	}
	c := &Cluster{Scheme: scheme, AssetsDir: assets, Environment: env, workDir: workDir}
	if c.Config, err = env.Start(); err != nil {
		return nil, errors.Join(fmt.Errorf("start control plane from %s with CRDs from %v: %w", assets, crdDirs, err), c.Stop())
	}
	c.CRDs = env.CRDs
	if c.Client, err = client.New(c.Config, client.Options{Scheme: scheme}); err != nil {
		return nil, errors.Join(fmt.Errorf("create client: %w", err), c.Stop())
	}
	c.Kubeconfig = filepath.Join(workDir, "kubeconfig")
	if err := os.WriteFile(c.Kubeconfig, env.KubeConfig, 0o600); err != nil {
		return nil, errors.Join(fmt.Errorf("write kubeconfig: %w", err), c.Stop())
	}
	return c, nil
}

// Stop stops the control plane and removes its files. It is safe to call more than once.
func (c *Cluster) Stop() error {
	var errs []error
	if c.Environment != nil {
		if err := c.Environment.Stop(); err != nil {
			errs = append(errs, fmt.Errorf("stop control plane: %w", err))
		}
		c.Environment = nil
	}
	if c.workDir != "" {
		if err := os.RemoveAll(c.workDir); err != nil {
			errs = append(errs, fmt.Errorf("remove cluster work folder: %w", err))
		}
		c.workDir = ""
	}
	return errors.Join(errs...)
}

// StartForTest starts a control plane for one test and stops it when the test ends. It fails the
// test if the control plane cannot start.
func StartForTest(t testing.TB, opts Options) *Cluster {
	t.Helper()
	c, err := Start(opts)
	if err != nil {
		t.Fatalf("start control plane: %v", err)
	}
	t.Cleanup(func() {
		if err := c.Stop(); err != nil {
			t.Errorf("stop control plane: %v", err)
		}
	})
	return c
}

// assetsDir resolves the binaries folder and checks that every binary is there.
func assetsDir(dir string) (string, error) {
	if dir == "" {
		dir = os.Getenv(AssetsEnv)
	}
	if dir == "" {
		return "", fmt.Errorf("no control plane binaries: set %s or Options.AssetsDir (make envtest builds them)", AssetsEnv)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("resolve control plane binaries folder %q: %w", dir, err)
	}
	for _, name := range requiredBinaries {
		info, err := os.Stat(filepath.Join(abs, name))
		if err != nil {
			return "", fmt.Errorf("control plane binary %s in %s (make envtest builds it): %w", name, abs, err)
		}
		if info.IsDir() || info.Mode().Perm()&0o111 == 0 {
			return "", fmt.Errorf("control plane binary %s in %s is not an executable file", name, abs)
		}
	}
	return abs, nil
}
