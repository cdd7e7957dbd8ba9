// Package charts holds the Helm chart of flowguard (charts/flowguard) and the tests that render it
// with the Helm library, so a chart change that breaks a manifest, a security default or the
// flags flowguard accepts fails `make test`.
//
// The chart must never drift from the generated manifests: its CRDs, webhook rules and RBAC are
// held equal to config/ by drift_test.go, and its flags are parsed by the real serve command.
package charts
