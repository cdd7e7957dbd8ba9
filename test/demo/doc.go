// Package demo is flowguard's live demo: a real control plane (test/cluster) with flowguard's,
// Calico's and cert-manager's CRDs, the example shop applied, `flowguard serve` running as its
// own process with the shop's day of flow logs as its source, and the webhook configuration
// calling it over TLS; then the story, told with the real kubectl and its real output, each step
// checked against the outcome it must show.
//
// `make demo` runs it through hack/demo, which keeps the control plane running for exploring
// until `make demo-down`; the e2e test beside this file runs the same steps and fails on any
// outcome that differs. Like test/cluster it is for development only: production code never
// imports it.
package demo
