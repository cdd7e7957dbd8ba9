// Package regoeval connects the auditor to the rule engine: it turns rego violations into audit
// findings (flow groups into flows, details.fix into a suggested fix, the rest into facts) and
// runs the engine's audit rules as an audit.Evaluator.
//
// # What it must never do
//
// regoeval never decides what is a finding: it converts what the rules report, dropping nothing
// (a detail it does not know becomes a fact), and it never talks to the API server.
package regoeval
