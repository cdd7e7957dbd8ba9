package rego

import (
	"errors"
	"fmt"
	"strings"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Action is a rule's enforcement action.
type Action string

// Enforcement actions.
const (
	// ActionDeny refuses the request with the violation's message.
	ActionDeny Action = "deny"
	// ActionWarn admits the request with an admission warning.
	ActionWarn Action = "warn"
	// ActionDryRun admits the request and only records the violation.
	ActionDryRun Action = "dryrun"
)

func (a Action) valid() bool { return a == ActionDeny || a == ActionWarn || a == ActionDryRun }

// Severity ranks a finding.
type Severity string

// Severities, most severe first.
const (
	SeverityCritical Severity = "critical"
	SeverityHigh     Severity = "high"
	SeverityMedium   Severity = "medium"
	SeverityLow      Severity = "low"
	SeverityInfo     Severity = "info"
)

func (s Severity) valid() bool {
	switch s {
	case SeverityCritical, SeverityHigh, SeverityMedium, SeverityLow, SeverityInfo:
		return true
	}
	return false
}

// TargetAudit in Rule.Targets means the rule also runs in audits.
const TargetAudit = "audit"

// Rule is one compiled rule's metadata, from its METADATA annotation.
type Rule struct {
	ID, Title, Description string
	Severity               Severity
	// Targets are the admission kinds the rule reviews ("NetworkPolicy",
	// "projectcalico.org/GlobalNetworkPolicy", "Namespace", "Pod", "Deployment", ...) and
	// TargetAudit when it also runs in audits.
	Targets []string
	// Subjects are the kinds the rule is evaluated against in an audit, once per object.
	Subjects []string
	Action   Action
	// Builtin is true for rules shipped with flowguard, false for user RegoRules.
	Builtin bool
	// NeedsFlows rules are skipped (and listed in Result.Skipped) while State.Traffic is nil.
	NeedsFlows bool
	// Parameters are the effective parameters: METADATA defaults merged with configuration.
	Parameters map[string]any
	// Package is the Rego package path, e.g. "data.flowguard.lib.allow_all".
	Package string
}

// Audits reports whether the rule runs in audits.
func (r Rule) Audits() bool { return contains(r.Targets, TargetAudit) }

// Violation is one thing a rule found.
type Violation struct {
	Rule     Rule
	Msg      string
	Details  map[string]any
	Resource ResourceRef
}

// ResourceRef names the object a violation is about.
type ResourceRef struct {
	APIVersion, Kind, Namespace, Name string
}

func (r ResourceRef) String() string {
	kind := r.Kind
	if g := groupOf(r.APIVersion); g != "" && !isCoreGroup(g) {
		kind = g + "/" + kind
	}
	if r.Namespace == "" {
		return kind + " " + r.Name
	}
	return kind + " " + r.Namespace + "/" + r.Name
}

// AdmissionRequest is what the webhook hands the engine, already decoded from the AdmissionReview.
type AdmissionRequest struct {
	UID string
	// Operation is CREATE, UPDATE or DELETE.
	Operation         string
	Kind              metav1.GroupVersionKind
	Namespace, Name   string
	Object, OldObject map[string]any // nil where absent
	UserInfo          authenticationv1.UserInfo
	DryRun            bool
	// ObjectJSON and OldObjectJSON, when set, are the JSON that Object and OldObject were
	// decoded from: the typed objects the change is applied with are decoded from them instead of
	// re-encoding the maps.
	ObjectJSON, OldObjectJSON []byte
}

// AuditScope narrows an audit.
type AuditScope struct {
	Namespaces []string // empty: all
	Rules      []string // rule ids; empty: all
	// Objects, when set, limits the audit to these objects (matched by group, kind, namespace
	// and name), e.g. the objects of a change under review.
	Objects []ResourceRef
}

func (s AuditScope) includes(ref ResourceRef) bool {
	if len(s.Objects) == 0 {
		return true
	}
	for _, o := range s.Objects {
		if groupOf(o.APIVersion) == groupOf(ref.APIVersion) && o.Kind == ref.Kind && o.Namespace == ref.Namespace && o.Name == ref.Name {
			return true
		}
	}
	return false
}

// Options configure an Engine.
type Options struct {
	// Parameters per rule id, merged over each rule's METADATA defaults.
	Parameters map[string]map[string]any
	// Deadline bounds one decision (every rule it runs); default 500ms.
	Deadline time.Duration
	// Lookback is the window of observed traffic the builtins consider; default 24h.
	Lookback time.Duration
}

// Defaults for Options.
const (
	DefaultDeadline = 500 * time.Millisecond
	DefaultLookback = 24 * time.Hour
)

func (o Options) withDefaults() Options {
	if o.Deadline <= 0 {
		o.Deadline = DefaultDeadline
	}
	if o.Lookback <= 0 {
		o.Lookback = DefaultLookback
	}
	return o
}

// Result of one decision. Rules that need flows are skipped, and listed in Skipped, while
// State.Traffic() is nil.
type Result struct {
	Violations []Violation
	Skipped    []Rule
	// Errors are rules that failed to evaluate (a builtin error, a conflict in the rule); the
	// other rules' violations are still reported.
	Errors []RuleError
}

// Denied reports whether any violation's action is deny.
func (r Result) Denied() bool {
	for _, v := range r.Violations {
		if v.Rule.Action == ActionDeny {
			return true
		}
	}
	return false
}

// RuleError is a rule that failed to evaluate.
type RuleError struct {
	Rule Rule
	Err  error
}

func (e RuleError) Error() string { return fmt.Sprintf("rule %s: %v", e.Rule.ID, e.Err) }
func (e RuleError) Unwrap() error { return e.Err }

// ErrDeadline is wrapped by the error of a decision cut off by its deadline.
var ErrDeadline = errors.New("rule evaluation deadline exceeded")

// CompileError is one problem in a rule module, at a place in its source.
type CompileError struct {
	File         string
	Line, Column int
	// Code is OPA's error code (rego_parse_error, rego_type_error, ...), or
	// "flowguard_sandbox_error" and "flowguard_metadata_error" for flowguard's own checks.
	Code    string
	Message string
}

func (e CompileError) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
		if e.Column > 0 {
			fmt.Fprintf(&b, ":%d", e.Column)
		}
	}
	fmt.Fprintf(&b, ": %s: %s", e.Code, e.Message)
	return b.String()
}

// InModule is the error without its file, as the author of a module embedded in a manifest
// reads it: "line 3, column 5: code: message".
func (e CompileError) InModule() string {
	switch {
	case e.Line > 0 && e.Column > 0:
		return fmt.Sprintf("line %d, column %d: %s: %s", e.Line, e.Column, e.Code, e.Message)
	case e.Line > 0:
		return fmt.Sprintf("line %d: %s: %s", e.Line, e.Code, e.Message)
	}
	return e.Code + ": " + e.Message
}

// CompileErrors are every problem found in a rule set, in file and line order.
type CompileErrors []CompileError

func (e CompileErrors) Error() string {
	msgs := make([]string, len(e))
	for i, ce := range e {
		msgs[i] = ce.Error()
	}
	return strings.Join(msgs, "; ")
}

// shortDuration prints d without zero minutes and seconds: "24h", "1h30m", "90s" as "1m30s".
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
