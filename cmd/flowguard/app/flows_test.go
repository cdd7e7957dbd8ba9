package app

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
)

const flowsTestdata = "../../../flows/testdata"

func TestFlowsSummarize(t *testing.T) {
	mixed := filepath.Join(flowsTestdata, "malformed", "mixed.jsonl")
	level2 := filepath.Join(flowsTestdata, "calico", "level2.jsonl")
	tests := map[string]struct {
		args     []string
		wantCode int
		wantOut  []string
		wantErr  string
	}{
		"text: records, malformed by reason with locations, edges": {
			args:     []string{"flows", "summarize", "--flows", mixed},
			wantCode: ExitOK,
			wantOut: []string{
				"Records read: 5\n",
				"Malformed: 7\n",
				"syntax 2 " + mixed + ":2, " + mixed + ":10\n",
				"wrong-type 1 " + mixed + ":4\n",
				"shop/frontend-7d9f8b6c5-* -> shop/api-5f6b7c8d9-* : tcp/8080 allow dst 6 2024-06-10T06:20:00Z\n",
				"net:pvt -> shop/api-5f6b7c8d9-* : tcp/8080 deny dst 3 2024-06-10T06:20:00Z\n",
			},
		},
		"text: a folder of rotated files and an ICMP edge without a port": {
			args:     []string{"flows", "summarize", "--flows", filepath.Join(flowsTestdata, "calico")},
			wantCode: ExitOK,
			wantOut:  []string{"Records read: 42\n", "Malformed: 0\n", ": icmp allow dst"},
		},
		"a missing file is bad input":    {args: []string{"flows", "summarize", "--flows", "no/such/file"}, wantCode: ExitBadInput, wantErr: "no such file"},
		"no --flows is bad input":        {args: []string{"flows", "summarize"}, wantCode: ExitBadInput, wantErr: "--flows"},
		"an unknown format is bad input": {args: []string{"flows", "summarize", "--flows", level2, "-o", "yaml"}, wantCode: ExitBadInput, wantErr: `--output "yaml"`},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			code := Execute(append(tc.args, "--log-level", "error"), &out, &errOut)
			if code != tc.wantCode {
				t.Fatalf("exit code %d, want %d; stderr: %s", code, tc.wantCode, errOut.String())
			}
			for _, w := range tc.wantOut {
				if !strings.Contains(squash(out.String()), w) {
					t.Errorf("stdout lacks %q:\n%s", w, out.String())
				}
			}
			if !strings.Contains(errOut.String(), tc.wantErr) {
				t.Errorf("stderr %q lacks %q", errOut.String(), tc.wantErr)
			}
		})
	}
}

func TestFlowsSummarizeJSON(t *testing.T) {
	mixed := filepath.Join(flowsTestdata, "malformed", "mixed.jsonl")
	var out, errOut bytes.Buffer
	if code := Execute([]string{"flows", "summarize", "--flows", mixed, "-o", "json"}, &out, &errOut); code != ExitOK {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	var got struct {
		Records   int `json:"records"`
		Malformed []struct {
			Reason string   `json:"reason"`
			Count  int      `json:"count"`
			First  []string `json:"first"`
		} `json:"malformed"`
		Edges []struct {
			Source      struct{ Namespace, Name string } `json:"source"`
			Destination struct{ Namespace, Name string } `json:"destination"`
			Proto       string                           `json:"proto"`
			Port        int                              `json:"port"`
			Action      string                           `json:"action"`
			Flows       int                              `json:"flows"`
			LastSeen    string                           `json:"lastSeen"`
		} `json:"edges"`
	}
	if err := json.Unmarshal(out.Bytes(), &got); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, out.String())
	}
	if got.Records != 5 || len(got.Malformed) != 5 || len(got.Edges) == 0 {
		t.Fatalf("records %d, %d reasons, %d edges; want 5, 5, some", got.Records, len(got.Malformed), len(got.Edges))
	}
	if m := got.Malformed[0]; m.Reason != "bad-value" || m.Count != 2 || m.First[1] != mixed+":12" {
		t.Errorf("first reason = %+v", m)
	}
	e := got.Edges[len(got.Edges)-1]
	if e.Source.Name != "frontend-7d9f8b6c5-*" || e.Destination.Name != "api-5f6b7c8d9-*" || e.Proto != "tcp" || e.Port != 8080 ||
		e.Action != "allow" || e.LastSeen != "2024-06-10T06:20:00Z" {
		t.Errorf("last edge = %+v", e)
	}
}

func TestFlowsSummarizeSnapshots(t *testing.T) {
	snap := filepath.Join(t.TempDir(), "graph.snap")
	level2 := filepath.Join(flowsTestdata, "calico", "level2.jsonl")
	var out, errOut bytes.Buffer
	if code := Execute([]string{"flows", "summarize", "--flows", level2, "--save-snapshot", snap}, &out, &errOut); code != ExitOK {
		t.Fatalf("save: exit %d: %s", code, errOut.String())
	}
	first := out.String()
	out.Reset()
	if code := Execute([]string{"flows", "summarize", "--load-snapshot", snap}, &out, &errOut); code != ExitOK {
		t.Fatalf("load: exit %d: %s", code, errOut.String())
	}
	edgesOf := func(s string) string { return s[strings.Index(s, "Edges:"):] }
	if edgesOf(first) != edgesOf(out.String()) {
		t.Errorf("edges from the snapshot differ:\n%s\nwant:\n%s", edgesOf(out.String()), edgesOf(first))
	}
}

// squash collapses runs of spaces, so tests do not depend on column widths.
func squash(s string) string {
	var b strings.Builder
	for i, line := range strings.Split(s, "\n") {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(strings.Join(strings.Fields(line), " "))
	}
	return b.String()
}
