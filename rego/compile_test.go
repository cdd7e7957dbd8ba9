package rego

import (
	"errors"
	"strings"
	"testing"
)

func TestCompileUserRuleRefuses(t *testing.T) {
	cases := map[string]struct {
		source   string
		wantCode string
		wantLine int
		wantMsg  string
	}{
		"http.send reaches the network": {
			source:   userRule("calls-out", "deny", "[Pod]", "violation contains {\"msg\": r.body} if {\n\tr := http.send({\"method\": \"GET\", \"url\": \"https://example.com\"})\n}"),
			wantCode: sandboxErrorCode, wantLine: 11, wantMsg: "http.send is not allowed in flowguard rules: it reaches the network",
		},
		"http.send in the output form": {
			source:   userRule("calls-out", "deny", "[Pod]", "violation contains {\"msg\": \"x\"} if {\n\thttp.send({\"method\": \"GET\", \"url\": \"https://example.com\"}, r)\n}"),
			wantCode: sandboxErrorCode, wantLine: 11, wantMsg: "http.send is not allowed",
		},
		"net.lookup_ip_addr resolves names": {
			source:   userRule("dns", "deny", "[Pod]", "violation contains {\"msg\": \"x\"} if {\n\tnet.lookup_ip_addr(\"example.com\")\n}"),
			wantCode: sandboxErrorCode, wantLine: 11, wantMsg: "resolves names over the network",
		},
		"opa.runtime exposes the environment": {
			source:   userRule("env", "deny", "[Pod]", "violation contains {\"msg\": opa.runtime().env.HOME} if true"),
			wantCode: sandboxErrorCode, wantLine: 10, wantMsg: "opa.runtime is not allowed",
		},
		"time.now_ns is not deterministic": {
			source:   userRule("clock", "deny", "[Pod]", "violation contains {\"msg\": \"late\"} if time.now_ns() > 0"),
			wantCode: sandboxErrorCode, wantLine: 10, wantMsg: "not deterministic",
		},
		"a type error carries the compiler's line": {
			source:   userRule("typo", "deny", "[Pod]", "violation contains {\"msg\": \"x\"} if {\n\tx := 1\n\tx == \"one\" + 1\n}"),
			wantCode: "rego_type_error", wantLine: 12,
		},
		"a parse error carries the line": {
			source:   userRule("syntax", "deny", "[Pod]", "violation contains {\"msg\": \"x\"} if {\n\tinput.x ==\n}"),
			wantCode: "rego_parse_error", wantLine: 12,
		},
		"an unknown function": {
			source:   userRule("unknown", "deny", "[Pod]", "violation contains {\"msg\": \"x\"} if flowguard.nope(input)"),
			wantCode: "rego_type_error", wantLine: 10, wantMsg: "undefined function flowguard.nope",
		},
		"no METADATA": {
			source:   "package test.bare\n\nviolation contains {\"msg\": \"x\"} if true\n",
			wantCode: metadataErrorCode, wantLine: 1, wantMsg: "no METADATA annotation",
		},
		"bad severity and action": {
			source:   strings.Replace(userRule("bad", "block", "[Pod]", "violation contains {\"msg\": \"x\"} if true"), "severity: low", "severity: urgent", 1),
			wantCode: metadataErrorCode, wantLine: 1, wantMsg: "custom.severity \"urgent\"",
		},
		"no violation rule": {
			source:   userRule("empty", "deny", "[Pod]", "allow := true"),
			wantCode: metadataErrorCode, wantLine: 8, wantMsg: "defines no violation rule",
		},
		"an id taken by a built-in rule": {
			source:   userRule("allow-all", "deny", "[Pod]", "violation contains {\"msg\": \"x\"} if true"),
			wantCode: metadataErrorCode, wantMsg: "rule id \"allow-all\" is already used",
		},
		"flowguard's own package": {
			source:   strings.Replace(userRule("mine", "deny", "[Pod]", "violation contains {\"msg\": \"x\"} if true"), "package test.mine", "package flowguard.lib.mine", 1),
			wantCode: metadataErrorCode, wantLine: 8, wantMsg: "reserved for flowguard",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := CompileUserRule("rule.rego", tc.source)
			var cerrs CompileErrors
			if !errors.As(err, &cerrs) {
				t.Fatalf("error = %v, want CompileErrors", err)
			}
			first := cerrs[0]
			if first.File != "rule.rego" || first.Code != tc.wantCode || (tc.wantLine != 0 && first.Line != tc.wantLine) {
				t.Errorf("first error = %+v, want rule.rego line %d code %s", first, tc.wantLine, tc.wantCode)
			}
			if !strings.Contains(first.Message, tc.wantMsg) {
				t.Errorf("message %q does not contain %q", first.Message, tc.wantMsg)
			}
			if !strings.HasPrefix(err.Error(), "rule.rego:") {
				t.Errorf("error text %q does not start with file:line", err)
			}
		})
	}
}

func TestCompileUserRuleAcceptsAndReportsMetadata(t *testing.T) {
	src := userRule("no-latest", "warn", "[Pod, Deployment, audit]\n#   needsFlows: true", "import data.flowguard.policy\n\nviolation contains {\"msg\": policy.describe(input.object)} if true")
	r, err := CompileUserRule("no-latest.rego", src)
	if err != nil {
		t.Fatal(err)
	}
	if r.ID != "no-latest" || r.Action != ActionWarn || r.Severity != SeverityLow || !r.NeedsFlows || r.Builtin || !r.Audits() {
		t.Errorf("rule = %+v", r)
	}
	if strings.Join(r.Subjects, ",") != "Pod,Deployment" {
		t.Errorf("subjects = %v, want the admission targets", r.Subjects)
	}
}
