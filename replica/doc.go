// Package replica runs one flowguard replica in a cluster, as `flowguard serve` does: the
// admission webhook, the informers and the traffic graph its rules read on every replica, and,
// on the elected one, the auditor, flow ingestion and the writers of ObservedTraffic and RegoRule
// status.
//
// It assembles the other packages into a controller-runtime manager and owns the serve-time
// traffic pipeline (leader.go, traffic.go, ingest.go, goldmane.go, metrics.go). It must never
// declare flags (cmd/flowguard does, into Options), decide admission or audit findings itself
// (webhook, rego and audit do), or let the elected replica's work take the admission path down
// with it.
package replica
