// Package picture computes what the audit's html page draws: the namespaces and workloads of a
// cluster, and the traffic between them, each edge marked as observed (allowed or denied), allowed
// by the current policies, or both.
//
// # What it must never do
//
// picture never decides policy semantics itself: verdicts come from netpol and observed traffic
// from flows. It bounds its work to what the page can draw, so a large cluster costs no more than
// the picture's node limit allows.
package picture
