// Package flows holds flowguard's model of observed network traffic: flow records from every
// Calico source (flow-log files, Goldmane, HTTP ingest), interned endpoint identities, and the
// time-bucketed traffic graph that aggregates them.
//
// flows knows nothing of policies, rules, admission or reports; netpol and everything above it
// read the graph through the types defined here.
package flows
