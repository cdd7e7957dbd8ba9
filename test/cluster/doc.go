// Package cluster starts a real Kubernetes control plane for end-to-end tests: etcd and
// kube-apiserver from KUBEBUILDER_ASSETS (built by `make envtest`), with every CRD flowguard works
// with installed from config/crd (flowguard's own, Calico's projectcalico.org/v3 kinds and
// cert-manager's). It hands back a rest.Config, a controller-runtime client whose scheme knows all
// those types, and a kubeconfig file so tests can run the real kubectl from the same folder.
//
// A test that wants its own control plane (about five seconds to start):
//
//	//go:build e2e
//
//	func TestSomething(t *testing.T) {
//		c := cluster.StartForTest(t, cluster.Options{})
//		if err := c.Client.Create(t.Context(), obj); err != nil { ... }
//		out, err := c.Kubectl(t.Context(), "get", "tiers.projectcalico.org", "-o", "name")
//	}
//
// Tests that share one start it in TestMain with Start and stop it with Stop.
//
// It is for tests only: production code must never import it, and it must never fake the API
// server. A missing binary or CRD folder is an error, never a skipped test.
package cluster
