// Package webhook is flowguard's validating admission webhook: one admission.Handler for every
// kind whose change can alter which traffic flows (Kubernetes and Calico policies, network sets,
// tiers, namespace labels, workloads and their labels) and for user RegoRules.
//
// A request goes through a chain of small checks, each adding field errors and warnings that are
// merged into one answer so that every problem is reported at once:
//
//  1. routing: kinds and operations that cannot change traffic (a pod update that leaves its
//     labels alone, a pod owned by a controller) are admitted before anything is decoded in full;
//  2. exemptions: exempt namespaces (flowguard's own and kube-system by default) and objects
//     labelled with the exemption label skip the rules;
//  3. structural checks the CRD schema cannot express: Calico selectors, ports without a protocol
//     that has ports, global() outside a namespaceSelector, unknown actions; RegoRule compilation;
//  4. the rules: the request is handed to the rego engine and each violation is mapped through its
//     enforcement action (deny refuses, warn admits with an admission warning, dryrun admits and
//     records the violation in metrics, logs and an audit annotation).
//
// # What it must never do
//
// It must never stall the API server or crash: every decision has a deadline, the traffic graph
// may be missing, and a panic is turned into a response. Each of these degraded modes admits with
// a warning unless configuration asks to fail closed. It never imports audit and never writes to
// the cluster beyond RegoRule status (RuleStatusWriter, on the leader only), and declares no flags, loggers or other package-level state: configuration arrives as a
// Config value and logs go through the logger carried by the request context.
package webhook
