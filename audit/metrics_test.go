package audit

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewMetrics(reg); err == nil {
		t.Error("registering the metrics twice with one registry did not fail")
	}
	res := Result{EvaluatedAt: evaluatedAt, Namespaces: []string{"shop", "quiet"}, Findings: []Finding{
		finding("allow-all", "high", "NetworkPolicy", "shop", "open"),
		finding("unused-rule", "low", "NetworkPolicy", "shop", "open"),
		finding("shadowed-rule", "low", "GlobalNetworkPolicy", "", "g"),
	}}
	SortFindings(res.Findings)
	reps := BuildReports(res, ReportOptions{RunName: "r", MaxViolations: 1})
	m.observeRun("nightly", "schedule", 3*time.Second, nil)
	m.observeRun("nightly", "request", time.Second, errors.New("boom"))
	m.observeFindings("nightly", res.Summarize(), reps, evaluatedAt)

	tests := map[string]struct {
		metric string
		want   string
	}{
		"findings per namespace and severity, cluster-scoped under an empty namespace": {
			metric: "flowguard_audit_findings",
			want: `
# HELP flowguard_audit_findings Findings of the last successful audit run, by schedule, namespace (empty for cluster-scoped objects) and severity.
# TYPE flowguard_audit_findings gauge
flowguard_audit_findings{namespace="",schedule="nightly",severity="critical"} 0
flowguard_audit_findings{namespace="",schedule="nightly",severity="high"} 0
flowguard_audit_findings{namespace="",schedule="nightly",severity="info"} 0
flowguard_audit_findings{namespace="",schedule="nightly",severity="low"} 1
flowguard_audit_findings{namespace="",schedule="nightly",severity="medium"} 0
flowguard_audit_findings{namespace="quiet",schedule="nightly",severity="critical"} 0
flowguard_audit_findings{namespace="quiet",schedule="nightly",severity="high"} 0
flowguard_audit_findings{namespace="quiet",schedule="nightly",severity="info"} 0
flowguard_audit_findings{namespace="quiet",schedule="nightly",severity="low"} 0
flowguard_audit_findings{namespace="quiet",schedule="nightly",severity="medium"} 0
flowguard_audit_findings{namespace="shop",schedule="nightly",severity="critical"} 0
flowguard_audit_findings{namespace="shop",schedule="nightly",severity="high"} 1
flowguard_audit_findings{namespace="shop",schedule="nightly",severity="info"} 0
flowguard_audit_findings{namespace="shop",schedule="nightly",severity="low"} 1
flowguard_audit_findings{namespace="shop",schedule="nightly",severity="medium"} 0
`,
		},
		"violations left out of the reports, so alerts know the listing is partial": {
			metric: "flowguard_audit_violations_omitted",
			want: `
# HELP flowguard_audit_violations_omitted Violations counted but not listed in the last run's report objects, to keep them small.
# TYPE flowguard_audit_violations_omitted gauge
flowguard_audit_violations_omitted{schedule="nightly"} 1
`,
		},
		"runs by trigger and result": {
			metric: "flowguard_audit_runs_total",
			want: `
# HELP flowguard_audit_runs_total Audit runs by schedule, trigger (schedule or request) and result (success or error).
# TYPE flowguard_audit_runs_total counter
flowguard_audit_runs_total{result="error",schedule="nightly",trigger="request"} 1
flowguard_audit_runs_total{result="success",schedule="nightly",trigger="schedule"} 1
`,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if err := testutil.GatherAndCompare(reg, strings.NewReader(tc.want), tc.metric); err != nil {
				t.Error(err)
			}
		})
	}

	m.forget("nightly")
	if n := testutil.CollectAndCount(m.findings) + testutil.CollectAndCount(m.byRule) + testutil.CollectAndCount(m.lastRun); n != 0 {
		t.Errorf("a deleted schedule still has %d series", n)
	}
	var nilMetrics *Metrics // an auditor without metrics
	nilMetrics.observeRun("x", "schedule", time.Second, nil)
	nilMetrics.forget("x")
}
