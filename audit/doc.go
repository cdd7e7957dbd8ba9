// Package audit turns what the rule engine finds about a cluster into compliance reports: a
// findings model (Finding, Result, Summary with exact counts and scores), report objects
// (ClusterAuditReport and one AuditReport per namespace, capped in size, never silently), and
// the Auditor, a leader-elected manager Runnable that runs AuditSchedules on their cron and on
// demand, writes and prunes their reports, and exposes duration and findings metrics. A schedule
// that asks for recommendations also gets, per namespace, the least-privilege policies package
// recommend learns from the same traffic window (AttachRecommendation), and, when it asks for
// staged policies, the auditor applies the stable namespaces' Calico StagedNetworkPolicies.
//
// Subpackages: regoeval runs the rule engine as an Evaluator (and converts its violations into
// findings), render prints a Result for people and tools (text, json, yaml, html,
// policyreport), and picture computes the traffic picture the html page draws.
//
// # What it must never do
//
// audit never decides policy semantics or evaluates rules itself: findings come from an
// Evaluator (the rule engine, through regoeval), over the State the caller keeps (informer caches
// and the traffic graph), so an audit never LISTs the API server for its snapshot. It never
// imports webhook. It never writes an object it cannot bound in size: every count is exact, and
// every listing says how much it left out and where to find it. The only policies it writes are
// staged ones (which enforce nothing), under its own field manager, and only when a schedule asks.
package audit
