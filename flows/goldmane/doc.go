// Package goldmane ingests flows from Calico Open Source's Goldmane (v3.30 and later): a gRPC
// client of the Flows API over mutual TLS that backfills with Flows.List, then follows
// Flows.Stream, reconnects with backoff, and delivers each flow exactly once as a flows.Record.
//
// Goldmane keeps about an hour of flows in 15-second windows and streams each window once it is
// complete. The client lists everything that ended before a window-aligned cut-off, streams from
// that cut-off on, and remembers per flow key the end of the last window it delivered: a
// reconnect resumes the stream from the newest window seen, and whatever the server sends again
// (a replayed window, flows Felix re-sends to a restarted Goldmane) is dropped as a duplicate.
// Across restarts of the client, Stats().Watermark passed back as Options.Since gives
// at-most-once delivery.
//
// The stubs in the proto subpackage carry Calico v3.31.0's field numbers; they are
// wire-compatible with Goldmane v3.30 to v3.32 for everything this client sends and reads (see
// that package's documentation for the v3.32 PolicyMatch change).
//
// Malformed flows (unknown enum values, labels that are not key=value, impossible ports or
// counters) are counted by reason in a flows.Tally, logged once per reason, and skipped; they
// never stop the stream.
//
// This package must never write to Goldmane, hold more than one page of a List in memory, keep
// per-key state for flows older than the server itself can still return, or sleep on the wall
// clock where an injected clock is given.
package goldmane
