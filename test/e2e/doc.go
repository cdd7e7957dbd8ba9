// Package e2e holds end-to-end tests that run against a real control plane (etcd and
// kube-apiserver from `make envtest`, started by test/cluster) with the real kubectl. Its test
// files carry the e2e build tag, so `make test-unit` never needs the control plane and
// `make test-e2e` runs them. Tests here must never replace the API server with a fake.
package e2e
