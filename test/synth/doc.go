// Package synth generates synthetic clusters and the Calico flow logs they would produce, for
// benchmarks and cross-checks in other packages. Output is a pure function of the Config
// (seeded): the same Config always yields the same objects and flows.
//
// A cluster has M namespaces (team=team-<k>) with W Deployments each (app=svc-<i>, a named
// port "http" = 8000+i, service account svc-<i>), R replicas per Deployment, and kube-dns in
// kube-system. Policies follow the shape netpol-analyzer was measured with: a default deny
// per namespace and, per workload, a Kubernetes NetworkPolicy using pod and namespace
// selectors, a named port, an ipBlock with except and an endPort range. Workloads form a ring
// inside each namespace (svc-<i> talks to svc-<i+1>) and a chain across namespaces (svc-<i>
// in team-<k> talks to svc-<i> in team-<k+1>); every workload may query kube-dns. Optionally
// some workloads are governed by a Calico NetworkPolicy per namespace instead, and a Calico
// tier "security" holds GlobalNetworkPolicies and a GlobalNetworkSet of known-bad addresses.
//
// Flows are mostly those edges (allowed), plus a share of random pairs and outside
// addresses the policies deny; each flow carries the action the construction implies, which
// netpol's verdicts are checked against.
//
// synth must never read files, the network or the clock: everything comes from the Config.
package synth
