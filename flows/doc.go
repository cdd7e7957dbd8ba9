// Package flows holds flowguard's model of observed network traffic: flow records from every
// Calico source (flow-log files, Goldmane, HTTP ingest), interned endpoint identities, and the
// time-bucketed traffic graph that aggregates them.
//
// Records are parsed by a hand-written JSON scanner (Parser) that interns the names, label sets
// and policy traces records repeat, so parsing a line costs no allocation once its values have
// been seen. Readers take plain or gzip files, folders and rotated sets, or follow a live file.
// The Graph aggregates records per (source identity, destination identity, port, protocol,
// action, reporter) in time buckets, answers queries by namespace, workload, label predicate
// and time window, and snapshots to a file (SnapshotSaver keeps one current). Ingest is the
// HTTP handler for NDJSON batches from shippers and Goldmane's emitter; Metrics exports counts
// on a registry the caller passes. Subpackage observed shares the graph between replicas
// through ObservedTraffic objects; subpackage goldmane streams from Goldmane over gRPC.
//
// flows knows nothing of policies, rules, admission or reports; netpol and everything above it
// read the graph through the types defined here, passing their selectors in as predicates.
// It must never let one bad record cost the good ones around it, never hold memory in
// proportion to the number of records rather than identities and edges, and never log per
// record: malformed input is counted by reason, with the first few locations.
package flows
