// Package charts holds the Helm chart of flowguard (charts/flowguard) and the tests that render it
// with the Helm library, so a chart change that breaks a manifest, a security default, a value's
// schema or the flags flowguard accepts fails `make test`.
//
// The chart must never drift from the kustomize tree: with its default values it renders the
// objects config/default builds, field for field apart from the labels only Helm sets
// (drift_test.go), and its container arguments are parsed by the real serve command.
package charts
