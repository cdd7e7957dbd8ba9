// Command admission is `make bench-admission`: flowguard's webhook measured from outside, the
// way the API server calls it. It starts the local control plane (test/cluster), applies a
// cluster state (examples/shop, or test/synth's 10,000 pods and 2,000 policies through the API
// server) and its flow log, runs the built `flowguard serve` as the chart runs it (its flags,
// GOGC and GOMEMLIMIT), and drives the webhook endpoint with vegeta over keep-alive TLS at fixed
// rates and at saturation, with a mix of AdmissionReviews. Every answer is checked; the table
// gives achieved rate, latency, errors and the server process's CPU time per review. With
// -gatekeeper the same reviews go to OPA Gatekeeper (one ConstraintTemplate and constraint on
// NetworkPolicies) in the same run, alternating with flowguard step by step.
package main
