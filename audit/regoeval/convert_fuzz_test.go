package regoeval

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/flowguard/flowguard/audit"
	"github.com/flowguard/flowguard/rego"
)

// FuzzFromViolation feeds arbitrary details, as a user rule may return them, through the
// conversion: it must never panic, never lose a detail (each becomes evidence, a fix or a fact),
// and every finding it returns must survive the report's size limits.
func FuzzFromViolation(f *testing.F) {
	f.Add(`{"flows":[{"flow":"pub -> shop/db-*:5432/TCP","count":310,"last_seen":"2025-10-01T09:00:00Z"}],"total":3}`)
	f.Add(`{"flows":[{"flow":" -> :/"},{"flow":"a -> b:99999999999999999999/TCP"}],"fix":{"from":[]},"path":"spec.ingress[0]"}`)
	f.Add(`{"fix":"do something","flows":"not a list","total":"many"}`)
	f.Add(`{"flows":[null,1,"x",{"port":-1,"count":-5,"last_seen":12}]}`)
	f.Fuzz(func(t *testing.T, details string) {
		var d map[string]any
		dec := json.NewDecoder(strings.NewReader(details))
		dec.UseNumber()
		if err := dec.Decode(&d); err != nil {
			return
		}
		fnd := FromViolation(rego.Violation{Rule: rego.Rule{ID: "user-rule", Severity: rego.SeverityLow}, Msg: "m", Details: d})
		kept := len(fnd.Evidence.Facts)
		if _, ok := d[detailFlows]; ok {
			kept++
		}
		if _, ok := d[detailTotal]; ok {
			kept++
		}
		if _, ok := d[detailFix]; ok {
			kept++
		}
		if kept < len(d) {
			t.Errorf("details %v: %d kept of %d", d, kept, len(d))
		}
		if fnd.Evidence.FlowsTotal < len(fnd.Evidence.Flows) {
			t.Errorf("flows total %d below the %d flows listed", fnd.Evidence.FlowsTotal, len(fnd.Evidence.Flows))
		}
		reps := audit.BuildReports(audit.Result{Findings: []audit.Finding{fnd}}, audit.ReportOptions{RunName: "fuzz"})
		if reps.Cluster.Summary.Total != 1 {
			t.Errorf("the finding was not counted: %+v", reps.Cluster.Summary)
		}
	})
}
