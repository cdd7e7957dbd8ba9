package rego

import (
	"fmt"
	"regexp"

	"github.com/open-policy-agent/opa/v1/ast"
)

const metadataErrorCode = "flowguard_metadata_error"

var ruleIDPattern = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)

// ruleFromModule reads a rule's metadata from the package-scoped METADATA annotation of a parsed
// module and checks that the module defines a violation rule. Every problem is reported, each at
// the line it concerns.
func ruleFromModule(file string, m *ast.Module) (Rule, CompileErrors) {
	var errs CompileErrors
	fail := func(loc *ast.Location, format string, args ...any) {
		ce := CompileError{File: file, Code: metadataErrorCode, Message: fmt.Sprintf(format, args...)}
		if loc != nil {
			ce.Line, ce.Column = loc.Row, loc.Col
		}
		errs = append(errs, ce)
	}

	r := Rule{Package: m.Package.Path.String()}
	var ann *ast.Annotations
	for _, a := range m.Annotations {
		if a.Scope == "package" {
			ann = a
			break
		}
	}
	if ann == nil {
		fail(m.Package.Location, "package %s has no METADATA annotation: a rule needs title and custom.id, custom.severity, custom.action, custom.targets", r.Package)
		return r, errs
	}
	loc := ann.Location
	r.Title, r.Description = ann.Title, ann.Description
	if r.Title == "" {
		fail(loc, "METADATA has no title")
	}

	custom := ann.Custom
	str := func(key string) string {
		v, ok := custom[key]
		if !ok {
			return ""
		}
		s, ok := v.(string)
		if !ok {
			fail(loc, "custom.%s must be a string, not %T", key, v)
		}
		return s
	}
	strs := func(key string) []string {
		v, ok := custom[key]
		if !ok {
			return nil
		}
		list, ok := v.([]any)
		if !ok {
			fail(loc, "custom.%s must be a list of strings, not %T", key, v)
			return nil
		}
		out := make([]string, 0, len(list))
		for i, x := range list {
			s, ok := x.(string)
			if !ok || s == "" {
				fail(loc, "custom.%s[%d] must be a non-empty string", key, i)
				continue
			}
			out = append(out, s)
		}
		return out
	}

	r.ID = str("id")
	switch {
	case r.ID == "":
		fail(loc, "custom.id is missing")
	case !ruleIDPattern.MatchString(r.ID):
		fail(loc, "custom.id %q must be lower-case letters, digits and '-'", r.ID)
	}
	r.Severity = Severity(str("severity"))
	if !r.Severity.valid() {
		fail(loc, "custom.severity %q must be one of critical, high, medium, low, info", r.Severity)
	}
	r.Action = Action(str("action"))
	if !r.Action.valid() {
		fail(loc, "custom.action %q must be one of deny, warn, dryrun", r.Action)
	}
	r.Targets = strs("targets")
	if len(r.Targets) == 0 {
		fail(loc, "custom.targets must list the admission kinds the rule reviews and/or %q", TargetAudit)
	}
	r.Subjects = strs("subjects")
	if len(r.Subjects) == 0 {
		for _, t := range r.Targets {
			if t != TargetAudit {
				r.Subjects = append(r.Subjects, t)
			}
		}
	}
	if r.Audits() && len(r.Subjects) == 0 {
		fail(loc, "custom.subjects must name the kinds an audit evaluates the rule against")
	}
	if v, ok := custom["needsFlows"]; ok {
		b, isBool := v.(bool)
		if !isBool {
			fail(loc, "custom.needsFlows must be a boolean, not %T", v)
		}
		r.NeedsFlows = b
	}
	if v, ok := custom["parameters"]; ok {
		p, isObj := v.(map[string]any)
		if !isObj {
			fail(loc, "custom.parameters must be an object, not %T", v)
		}
		r.Parameters = p
	}

	if !definesViolation(m) {
		fail(m.Package.Location, "package %s defines no violation rule: a rule reports with `violation contains {\"msg\": ..., \"details\": {...}}`", r.Package)
	}
	return r, errs
}

// definesViolation reports whether m has a rule whose head is `violation`.
func definesViolation(m *ast.Module) bool {
	for _, rule := range m.Rules {
		if rule.Head.Ref().Equal(ast.Ref{ast.VarTerm("violation")}) {
			return true
		}
	}
	return false
}
