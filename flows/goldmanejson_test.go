package flows

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseGoldmane(t *testing.T) {
	frontend := "app=frontend,pod-template-hash=7d9f8b6c5,projectcalico.org/serviceaccount=frontend"
	tests := map[string]struct {
		file string
		line int
		want summary
	}{
		"emitter shape: enums as numbers, hits as objects sorted by index, omitted zero values": {
			file: "emitter.jsonl", line: 1,
			want: summary{
				Src: "shop/frontend-7d9f8b6c5-*", SrcLabels: frontend, SrcSA: "frontend", Dst: "shop/api-5f6b7c8d9-*",
				Port: 8080, Proto: "tcp", Action: "allow", Reporter: "dst",
				Enforced: []string{"0|security|gnp:pass-cluster|pass|2", "1|default|np:shop/api-allow-frontend|allow|0"},
				Pending:  []string{"0|security|gnp:pass-cluster|pass|2", "1|default|np:shop/api-allow-frontend|allow|0"},
				Bytes:    48213 + 9121, Packets: 52 + 41, Flows: 1 + 3, Started: 2, Service: "shop/api:http",
				Start: 1718000100, End: 1718000115, EnforcedShortNames: []string{"pass-cluster", "api-allow-frontend"},
			},
		},
		"emitter shape: an end-of-tier hit is reported as its trigger with rule index -1": {
			file: "emitter.jsonl", line: 2,
			want: summary{
				Src: "net:pvt", Dst: "shop/api-5f6b7c8d9-*", Port: 8080, Proto: "tcp", Action: "deny", Reporter: "dst",
				Enforced: []string{"0|default|knp:shop/api-ingress|deny|-1"}, Bytes: 180, Packets: 3, Flows: 3, Started: 3,
				Start: 1718000115, End: 1718000130, EnforcedShortNames: []string{"api-ingress"},
			},
		},
		"emitter shape: a profile hit is placed in the profile tier": {
			file: "emitter.jsonl", line: 3,
			want: summary{
				Src: "shop/frontend-7d9f8b6c5-*", SrcLabels: frontend, SrcSA: "frontend", Dst: "kube-system/coredns-6d4b75cb6-*",
				Port: 53, Proto: "udp", Action: "allow", Reporter: "src",
				Enforced: []string{"0|__PROFILE__|pro:kns.kube-system|allow|0"}, Bytes: 120, Packets: 2, Flows: 1, Started: 1,
				Start: 1718000130, End: 1718000145, EnforcedShortNames: []string{"kns.kube-system"},
			},
		},
		"protojson shape: camelCase, enum names, int64 as strings": {
			file: "protojson.jsonl", line: 1,
			want: summary{
				Src: "shop/frontend-7d9f8b6c5-*", SrcLabels: frontend, SrcSA: "frontend", Dst: "net:pub",
				Port: 443, Proto: "tcp", Action: "allow", Reporter: "src",
				Enforced: []string{"0|security|gnp:allow-egress-web|allow|1"}, Bytes: 900, Packets: 9, Flows: 1, Started: 1,
				Start: 1718000100, End: 1718000115, EnforcedShortNames: []string{"allow-egress-web"},
			},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			lines := readLines(t, filepath.Join("testdata/goldmane", tc.file))
			var r Record
			if err := NewParser().ParseLine(lines[tc.line-1], &r); err != nil {
				t.Fatalf("parse %s:%d: %v", tc.file, tc.line, err)
			}
			if diff := cmp.Diff(tc.want, summarize(&r)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseGoldmaneRefuses(t *testing.T) {
	good := string(readLines(t, "testdata/goldmane/emitter.jsonl")[1])
	tests := map[string]struct {
		line   string
		reason Reason
		field  string
	}{
		"Pass is not a flow's action":       {line: strings.Replace(good, `"action":2,"policies"`, `"action":3,"policies"`, 1), reason: ReasonValue, field: "Key.action"},
		"an unknown endpoint type number":   {line: strings.Replace(good, `"source_type":4`, `"source_type":7`, 1), reason: ReasonValue, field: "Key.source_type"},
		"an omitted reporter (unspecified)": {line: strings.Replace(good, `"reporter":2,`, ``, 1), reason: ReasonMissing, field: "Key.reporter"},
		"an end-of-tier hit without trigger": {line: strings.Replace(good, `,"trigger":{"kind":6,"namespace":"shop","name":"api-ingress","tier":"default"}`, ``, 1),
			reason: ReasonValue, field: "Key.policies.enforced_policies[0]"},
		"labels as a string":      {line: strings.Replace(good, `"dest_labels":["app=api","tier=backend"]`, `"dest_labels":"app=api"`, 1), reason: ReasonType, field: "dest_labels"},
		"a port as a JSON object": {line: strings.Replace(good, `"dest_port":8080`, `"dest_port":{}`, 1), reason: ReasonType, field: "Key.dest_port"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			var r Record
			err := NewParser().ParseLine([]byte(tc.line), &r)
			pe, ok := parseErrorOf(err)
			if !ok {
				t.Fatalf("ParseLine = %v, want a *ParseError", err)
			}
			if pe.Reason != tc.reason || pe.Field != tc.field {
				t.Errorf("got reason %q field %q (%v), want %q %q", pe.Reason, pe.Field, err, tc.reason, tc.field)
			}
		})
	}
}
