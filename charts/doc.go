// Package charts holds the Helm chart of flowguard (charts/flowguard) and the tests that render it
// with the Helm library, so a chart change that breaks a manifest, a security default or the
// flags flowguard accepts fails `make test`.
package charts
