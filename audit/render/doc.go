// Package render prints an audit.Result for people and tools: text for a terminal (a summary
// table, then findings grouped by severity), json and yaml (top-level summary and findings), html
// (one self-contained page with a picture of namespaces, workloads and their allowed and observed
// traffic), and policyreport (wgpolicyk8s.io/v1alpha2 PolicyReports and a ClusterPolicyReport, so
// existing report viewers show the findings).
//
// # What it must never do
//
// render only formats: it never evaluates rules, reads files or talks to a cluster, and its
// output depends on nothing but its input (no clock, no map order), so that golden files hold.
// The html page loads nothing from the network.
package render
