// Package rego is flowguard's policy-rule engine: an embedded OPA (Rego v1) evaluator that runs
// the built-in rule library (rego/lib) and user rules (RegoRule resources) over admission
// requests and over the cluster during audits.
//
// # Contract
//
// Every rule is one Rego package with a package-scoped METADATA annotation:
//
//	# METADATA
//	# title: A rule that admits every peer on every port
//	# description: Longer text for reports.
//	# custom:
//	#   id: allow-all                      # unique, lower-case words joined by '-'
//	#   severity: high                     # critical, high, medium, low or info
//	#   action: warn                       # deny, warn or dryrun: the default enforcement action
//	#   targets: [NetworkPolicy, audit]    # admission kinds, and "audit" to run in audits
//	#   subjects: [Namespace]              # kinds evaluated in audit (default: the kinds in targets)
//	#   needsFlows: true                   # skipped while no traffic graph is loaded
//	#   parameters: {egress: false}        # defaults, overridden by configuration
//	package flowguard.lib.allow_all
//
// and a `violation` set of objects {"msg": string, "details": object}; a violation may also name
// the resource it is about with "resource": {"apiVersion", "kind", "namespace", "name"}, which
// otherwise is the object under review.
//
// Kinds are written as Kubernetes names them for the core, apps, batch and networking.k8s.io groups
// ("Pod", "Deployment", "NetworkPolicy") and group-qualified otherwise
// ("projectcalico.org/GlobalNetworkPolicy").
//
// input is the admission request: {"operation", "kind": {"group", "version", "kind"},
// "namespace", "name", "object", "oldObject", "userInfo", "dryRun"}. In an audit, each rule runs
// once per cluster object of its subject kinds, with operation "AUDIT" and that object.
//
// data.flowguard.parameters[<rule id>] holds the rule's parameters: the defaults from its
// METADATA merged with Options.Parameters (or a UserRule's Parameters). Rules also read
// data.flowguard.lookback (the window, e.g. "24h0m0s").
//
// Heavy context comes from seven builtins, documented in docs/rego.md: flowguard.impact,
// flowguard.flows, flowguard.covered, flowguard.default_deny, flowguard.rule_usage,
// flowguard.selectors and flowguard.shadowed. They read State lazily (netpol for semantics, the
// traffic graph for flows), see the cluster after the change under review, and are memoised per
// decision (per audit run), so that a rule pays only for what it asks.
//
// # For the webhook and the auditor
//
// NewEngine compiles the library once; Admit and Audit evaluate prepared queries; SetUserRules
// (or SetUserRuleSet, which carries a RegoRule's overrides and parameters) swaps a recompiled
// set in atomically, leaving out and reporting the rules that fail; CompileUserRule is the
// RegoRule admission check. State.Cluster must return a snapshot that is not modified
// afterwards: the engine caches the netpol engine built for it by pointer; call Warm after
// publishing one. Beyond the agreed API: Result.Errors (rules that failed to evaluate; the
// others' violations stand), a cut-off decision's error is a RuleError wrapping ErrDeadline,
// compile errors are CompileErrors (file, line, column, code, message), AuditScope.Objects
// limits an audit to given objects, and ExistingObject/ApplyChange serve offline checks.
//
// # What it must never do
//
// The engine never reaches the network, the file system or the clock from Rego: modules that
// call http.send, net.lookup_ip_addr, opa.runtime, time.now_ns, rand.*, uuid.* or other
// non-deterministic builtins are refused when compiled. It never compiles on the request path:
// every rule's query is prepared once per rule set, and a rule set is swapped atomically. It knows
// nothing of transports (AdmissionReview, HTTP) or of reports; webhook and audit do.
package rego
