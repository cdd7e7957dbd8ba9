package app

import (
	"strings"

	"github.com/flowguard/flowguard/audit"
	"github.com/flowguard/flowguard/cmd/flowguard/ciformat"
	"github.com/flowguard/flowguard/rego"
)

// ciReport starts the CI formats' model with the rules that ran; kinds says which object kinds a
// rule judges (each such object gets a JUnit test case).
func ciReport(rules []rego.Rule, kinds func(rego.Rule) []string) ciformat.Report {
	out := ciformat.Report{Tool: "flowguard", Version: version, InfoURI: "https://github.com/flowguard/flowguard"}
	for _, rule := range rules {
		out.Rules = append(out.Rules, ciformat.Rule{
			ID: rule.ID, Title: rule.Title, Description: rule.Description, Severity: string(rule.Severity), Kinds: kinds(rule),
		})
	}
	return out
}

// auditCIReport turns an audit into the CI formats' model: the audit rules that ran, every
// object read from -f, and each finding at its object's document; a finding about an object no
// file holds (one read from a cluster, a namespace only named by the objects in it) is located
// by the object's kind and name alone.
func auditCIReport(res audit.Result, rules []rego.Rule, objects []changeObject) ciformat.Report {
	out := ciReport(rules, func(r rego.Rule) []string { return r.Subjects })
	byName := map[string]ciformat.Object{}
	for _, ch := range objects {
		o := ciObject(ch.obj, ch.file, ch.line)
		out.Objects = append(out.Objects, o)
		byName[o.Kind+" "+o.Name] = o
	}
	for _, f := range res.Findings {
		name := f.Resource.Name
		if f.Resource.Namespace != "" {
			name = f.Resource.Namespace + "/" + name
		}
		kind := ciKind(f.Resource.APIVersion, f.Resource.Kind)
		o, ok := byName[kind+" "+name]
		if !ok {
			o = ciformat.Object{Kind: kind, Name: name}
		}
		out.Findings = append(out.Findings, ciformat.Finding{Rule: f.Rule, Severity: string(f.Severity), Message: f.Message, Object: o})
	}
	for _, sk := range res.Skipped {
		out.Skipped = append(out.Skipped, ciformat.Skipped{Rule: sk.Rule, Reason: sk.Reason})
	}
	return out
}

// ciKind names a kind as rules do, Calico's CRD group as its API group (the objects are the same).
func ciKind(apiVersion, kind string) string {
	group, _, found := strings.Cut(apiVersion, "/")
	if !found {
		group = ""
	}
	if group == "crd.projectcalico.org" {
		group = "projectcalico.org"
	}
	return rego.KindName(group, kind)
}
