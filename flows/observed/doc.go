// Package observed shares the traffic graph between flowguard's replicas through
// ObservedTraffic objects: the elected replica writes the graph's edges into namespaced shards,
// and every replica reads them back through an informer into its own graph. All replicas thus
// agree on learned traffic within a sync interval plus informer latency, and what was learned
// survives the restart of every pod.
//
// Bounds, both configurable: no object's JSON exceeds MaxObjectBytes (512 KiB by default; a
// namespace's edges are hashed into as many shards as that takes), and the writer performs at
// most WritesPerSecond creates, updates and deletes (5/s by default), skipping shards whose
// content digest is unchanged. Hourly buckets are written for the last FineWindow (24 h) and
// merged per UTC day before that, which keeps a week of history at about 30 buckets per edge.
// Measured: an edge between workloads with seven labels costs about 440 bytes with its share of
// the endpoint table, plus about 30 per bucket, so a week of hourly-then-daily buckets (30 per
// edge) puts some 390 edges in a 512 KiB object. Replicas lag the writer by at most one
// interval (30 s) plus the time to write the changed shards (changed/WritesPerSecond) plus
// informer latency: 130 changed shards (50,000 busy edges) take 26 s at 5 writes/s.
//
// This package must never write anything but ObservedTraffic objects carrying its managed-by
// label, and never apply shards to a graph while that graph's replica is the writer (its own
// writes would replace records that arrived since).
package observed
