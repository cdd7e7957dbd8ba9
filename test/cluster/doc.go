// Package cluster starts a real Kubernetes control plane for end-to-end tests: etcd and
// kube-apiserver from KUBEBUILDER_ASSETS (built by `make envtest`), with every CRD flowguard works
// with installed from config/crd (flowguard's own, Calico's projectcalico.org/v3 kinds and
// cert-manager's). It hands back a rest.Config, a controller-runtime client whose scheme knows all
// those types, and a kubeconfig file so tests can run the real kubectl from the same folder.
//
// It is for tests only: production code must never import it, and it must never fake the API
// server. A missing binary or CRD folder is an error, never a skipped test.
package cluster
