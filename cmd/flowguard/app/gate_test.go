package app

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

var (
	shopChanges  = filepath.Join(shopDir, "changes")
	shopBreaking = filepath.Join(shopChanges, "breaking.yaml")
)

// gateInputs writes the imperfect inputs a gate must not pass silently.
func gateInputs(t *testing.T) (empty, garbage, mostlyBad, emptyDir string) {
	t.Helper()
	dir := t.TempDir()
	empty = writeFile(t, dir, "empty.jsonl", "")
	garbage = writeFile(t, dir, "garbage.jsonl", strings.Repeat("this is not a flow record\n", 12))
	good, err := os.ReadFile(shopFlows)
	if err != nil {
		t.Fatal(err)
	}
	mostlyBad = writeFile(t, dir, "mostly-bad.jsonl", string(good)+strings.Repeat("{\"start_time\": \n", 10))
	emptyDir = filepath.Join(dir, "cluster")
	if err := os.Mkdir(emptyDir, 0o755); err != nil {
		t.Fatal(err)
	}
	return empty, garbage, mostlyBad, emptyDir
}

// TestGateNothingUnreadPasses runs the binary on inputs that hold nothing, or nothing it can read,
// and on names that nothing holds: each is exit 2 with the reason, never a clean report.
func TestGateNothingUnreadPasses(t *testing.T) {
	empty, garbage, _, emptyDir := gateInputs(t)
	tests := map[string]struct {
		args     []string
		wantCode int
		wantOut  []string
		wantErr  []string
	}{
		"check: an empty flows file and a breaking change": {
			args:     []string{"check", "-f", shopDir, "--flows", empty, "--change", shopBreaking},
			wantCode: ExitBadInput, wantErr: []string{"no valid flow record: the files are empty", "--allow-no-flows"},
		},
		"check: a flows file of 12 malformed lines": {
			args:     []string{"check", "-f", shopDir, "--flows", garbage, "--change", shopBreaking},
			wantCode: ExitBadInput, wantErr: []string{"no valid flow record: all 12 are malformed (syntax: 12)"},
		},
		"check --allow-no-flows: allowed, naming the flow rules it skipped": {
			args:     []string{"check", "-f", shopDir, "--flows", garbage, "--change", shopBreaking, "--allow-no-flows"},
			wantCode: ExitOK, wantOut: []string{"skipped (no observed traffic): breaking-change", "allowed"},
			wantErr: []string{"Warning: flows " + garbage + ": no valid flow record"},
		},
		"check: an empty -f folder": {
			args:     []string{"check", "-f", emptyDir, "--flows", shopFlows, "--change", shopBreaking},
			wantCode: ExitBadInput, wantErr: []string{"-f " + emptyDir + ": no object flowguard reads"},
		},
		"check without -f": {
			args:     []string{"check", "--change", shopBreaking},
			wantCode: ExitBadInput, wantErr: []string{"-f: the cluster state"},
		},
		"audit: an empty flows file": {
			args:     []string{"audit", "-f", shopDir, "--flows", empty},
			wantCode: ExitBadInput, wantErr: []string{"no valid flow record"},
		},
		"audit: an empty -f folder": {
			args:     []string{"audit", "-f", emptyDir},
			wantCode: ExitBadInput, wantErr: []string{"no object flowguard reads"},
		},
		"audit: a misspelt --rule": {
			args:     []string{"audit", "-f", shopDir, "--flows", shopFlows, "--rule", "alow-all"},
			wantCode: ExitBadInput, wantErr: []string{`--rule "alow-all": no audit rule has that name; did you mean "allow-all"?`},
		},
		"audit: a misspelt --namespace": {
			args:     []string{"audit", "-f", shopDir, "--flows", shopFlows, "-n", "paymnts"},
			wantCode: ExitBadInput, wantErr: []string{`--namespace "paymnts": no namespace in the input has that name; did you mean "payments"?`},
		},
		"audit: a misspelt parameter": {
			args:     []string{"audit", "-f", shopDir, "--flows", shopFlows, "--param", "missing-default-deny.egres=true"},
			wantCode: ExitBadInput, wantErr: []string{`--param missing-default-deny.egres: rule missing-default-deny has no parameter "egres"; did you mean "egress"?`},
		},
		"audit: a parameter of a misspelt rule": {
			args:     []string{"audit", "-f", shopDir, "--flows", shopFlows, "--param", "missing-default-dney.egress=true"},
			wantCode: ExitBadInput, wantErr: []string{`--param "missing-default-dney": no audit rule has that name; did you mean "missing-default-deny"?`},
		},
		"audit --fail-on says which findings made it fail": {
			args:     []string{"audit", "-f", shopDir, "--flows", shopFlows, "--fail-on", "high"},
			wantCode: ExitFailed,
			wantErr:  []string{"--fail-on high: 1 findings at or above high:", "high allow-all NetworkPolicy storefront/web-from-anywhere: "},
		},
		"recommend: an empty flows file": {
			args:     []string{"recommend", "-f", shopDir, "--flows", empty},
			wantCode: ExitBadInput, wantErr: []string{"no valid flow record"},
		},
		"recommend: a misspelt --namespace": {
			args:     []string{"recommend", "-f", shopDir, "--flows", shopFlows, "-n", "storefrnt"},
			wantCode: ExitBadInput, wantErr: []string{`did you mean "storefront"?`},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			runBinary(t, tc.args...).expect(t, tc.wantCode, tc.wantOut, tc.wantErr)
		})
	}
}

// TestGateAllowNoFlowsInEveryFormat shows the flow rules listed as skipped in every output.
func TestGateAllowNoFlowsInEveryFormat(t *testing.T) {
	empty, _, _, _ := gateInputs(t)
	res := runBinary(t, "check", "-f", shopDir, "--flows", empty, "--change", shopBreaking, "--allow-no-flows", "-o", "json")
	res.expect(t, ExitOK, nil, nil)
	var rep checkReport
	if err := json.Unmarshal([]byte(res.stdout), &rep); err != nil {
		t.Fatalf("check -o json: %v\n%s", err, res.stdout)
	}
	if !slices.Contains(rep.Skipped, "breaking-change") || rep.Flows == nil || rep.Flows.Records != 0 {
		t.Errorf("check json: skipped %v, flows %+v; want breaking-change skipped and 0 records", rep.Skipped, rep.Flows)
	}

	res = runBinary(t, "audit", "-f", shopDir, "--flows", empty, "--allow-no-flows", "-o", "json")
	res.expect(t, ExitOK, nil, nil)
	var doc auditJSON
	if err := json.Unmarshal([]byte(res.stdout), &doc); err != nil {
		t.Fatal(err)
	}
	var skipped []string
	for _, s := range doc.Summary.RulesSkipped {
		skipped = append(skipped, s.Rule)
	}
	slices.Sort(skipped)
	if want := []string{"denied-traffic", "staged-would-break", "unused-rule", "wider-than-observed"}; !slices.Equal(skipped, want) {
		t.Errorf("audit json: skipped %v, want %v", skipped, want)
	}
	runBinary(t, "audit", "-f", shopDir, "--flows", empty, "--allow-no-flows").expect(t, ExitOK, []string{"wider-than-observed"}, nil)
}

// TestGateMalformedShare shows a malformed share above 1% as a warning on stderr and a field of
// the JSON outputs, with the good records still judged.
func TestGateMalformedShare(t *testing.T) {
	_, _, mostlyBad, _ := gateInputs(t)
	const warning = "10 of 282 flow records (4%) are malformed and were skipped (wrong-type: 10)"
	res := runBinary(t, "check", "-f", shopDir, "--flows", mostlyBad, "--change", shopBreaking, "-o", "json")
	res.expect(t, ExitFailed, nil, []string{"Warning: " + warning})
	var rep checkReport
	if err := json.Unmarshal([]byte(res.stdout), &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Flows == nil || rep.Flows.Warning != warning || rep.Flows.Records != 272 {
		t.Errorf("check json flows = %+v, want 272 records and the warning", rep.Flows)
	}

	res = runBinary(t, "audit", "-f", shopDir, "--flows", mostlyBad, "-o", "json")
	res.expect(t, ExitOK, []string{`"warning": "` + warning + `"`}, []string{"Warning: " + warning})

	// One bad line among 272 is what rotated logs give: no warning.
	one := writeFile(t, t.TempDir(), "one-bad.jsonl", readString(t, shopFlows)+"{\n")
	res = runBinary(t, "audit", "-f", shopDir, "--flows", one, "-o", "json")
	res.expect(t, ExitOK, nil, nil)
	if strings.Contains(res.stderr, "Warning") || strings.Contains(res.stdout, `"warning"`) {
		t.Errorf("one malformed record in 273 warned:\n%s", res.stderr)
	}
}

func readString(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestGateCountsAgree holds audit, check and flows summarize to the same counts: the window ends
// at the newest record's end and holds it, on the shop's hourly records and on the same records
// moved off the hour.
func TestGateCountsAgree(t *testing.T) {
	shifted := filepath.Join(t.TempDir(), "shifted.jsonl")
	var out strings.Builder
	for line := range strings.Lines(readString(t, shopFlows)) {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatal(err)
		}
		rec["start_time"] = rec["start_time"].(float64) + 1037
		rec["end_time"] = rec["end_time"].(float64) + 1037
		b, _ := json.Marshal(rec)
		out.Write(append(b, '\n'))
	}
	writeFile(t, filepath.Dir(shifted), filepath.Base(shifted), out.String())

	for name, logs := range map[string]string{"shop": shopFlows, "shop moved off the hour": shifted} {
		t.Run(name, func(t *testing.T) {
			res := runBinary(t, "flows", "summarize", "--flows", logs, "-o", "json")
			res.expect(t, ExitOK, nil, nil)
			var sum struct {
				Edges []struct {
					Source, Destination struct{ Name string }
					Action, Reporter    string
					Flows               int
				}
			}
			if err := json.Unmarshal([]byte(res.stdout), &sum); err != nil {
				t.Fatal(err)
			}
			counts := map[string]int{}
			for _, e := range sum.Edges {
				counts[e.Source.Name+" -> "+e.Destination.Name+" "+e.Action+" "+e.Reporter] = e.Flows
			}
			pubWeb := counts["pub -> web-6d4cf56db6-* allow dst"]
			webLedger := counts["web-6d4cf56db6-* -> ledger-* deny dst"]
			if pubWeb != 2880 || webLedger != 8 {
				t.Fatalf("summarize: pub -> web %d, web -> ledger denied %d; want 2880 and 8 (%v)", pubWeb, webLedger, counts)
			}

			runBinary(t, "check", "-f", shopDir, "--flows", logs, "--change", shopBreaking).
				expect(t, ExitFailed, []string{fmt.Sprintf("pub -> storefront/web-6d4cf56db6-*:8080/TCP (%d connections", pubWeb)}, nil)

			doc := runAuditJSON(t, "-f", shopDir, "--flows", logs)
			got := map[string]int{}
			for _, f := range doc.Findings {
				for _, fl := range f.Evidence.Flows {
					got[f.Rule] += fl.Count
				}
			}
			if got["staged-would-break"] != pubWeb || got["denied-traffic"] != webLedger {
				t.Errorf("audit counts: staged-would-break %d, denied-traffic %d; want %d and %d",
					got["staged-would-break"], got["denied-traffic"], pubWeb, webLedger)
			}
		})
	}
}

// TestGateStrictChange shows --change decoded as strictly as -f: a misspelt field is an error
// naming the file, the line and the field.
func TestGateStrictChange(t *testing.T) {
	typo := writeFile(t, t.TempDir(), "typo.yaml", `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny-web, namespace: storefront}
spec:
  podSelecter: {matchLabels: {app: web}}
  policyTypes: [Ingress]
`)
	runBinary(t, "check", "-f", shopDir, "--flows", shopFlows, "--change", typo).
		expect(t, ExitBadInput, nil, []string{"read --change: ", typo + ":5: NetworkPolicy storefront/deny-web: strict decoding: unknown field \"spec.podSelecter\""})
}
