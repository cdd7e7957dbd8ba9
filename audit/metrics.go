package audit

import (
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/flowguard/flowguard/api/v1alpha1"
)

// Metrics are the auditor's Prometheus metrics. Findings gauges hold the last successful run's
// exact counts, so alerts can fire on them whatever the reports' listing caps.
type Metrics struct {
	runDuration *prometheus.HistogramVec
	runs        *prometheus.CounterVec
	lastRun     *prometheus.GaugeVec
	findings    *prometheus.GaugeVec
	byRule      *prometheus.GaugeVec
	omitted     *prometheus.GaugeVec
}

// NewMetrics creates the metrics and registers them with reg (the manager's metrics registry in
// the cluster; a fresh registry in tests).
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		runDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "flowguard_audit_run_duration_seconds",
			Help:    "Duration of audit runs, from snapshot to reports written, by schedule and result.",
			Buckets: []float64{0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300},
		}, []string{"schedule", "result"}),
		runs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "flowguard_audit_runs_total",
			Help: "Audit runs by schedule, trigger (schedule or request) and result (success or error).",
		}, []string{"schedule", "trigger", "result"}),
		lastRun: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "flowguard_audit_last_success_timestamp_seconds",
			Help: "Unix time at which the last successful audit run of a schedule finished.",
		}, []string{"schedule"}),
		findings: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "flowguard_audit_findings",
			Help: "Findings of the last successful audit run, by schedule, namespace (empty for cluster-scoped objects) and severity.",
		}, []string{"schedule", "namespace", "severity"}),
		byRule: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "flowguard_audit_findings_by_rule",
			Help: "Findings of the last successful audit run, by schedule and rule.",
		}, []string{"schedule", "rule", "severity"}),
		omitted: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "flowguard_audit_violations_omitted",
			Help: "Violations counted but not listed in the last run's report objects, to keep them small.",
		}, []string{"schedule"}),
	}
	for _, c := range []prometheus.Collector{m.runDuration, m.runs, m.lastRun, m.findings, m.byRule, m.omitted} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register audit metrics: %w", err)
		}
	}
	return m, nil
}

// observeRun records one run's outcome.
func (m *Metrics) observeRun(schedule, trigger string, d time.Duration, err error) {
	if m == nil {
		return
	}
	result := "success"
	if err != nil {
		result = "error"
	}
	m.runDuration.WithLabelValues(schedule, result).Observe(d.Seconds())
	m.runs.WithLabelValues(schedule, trigger, result).Inc()
}

// observeFindings replaces a schedule's findings gauges with those of its latest run.
func (m *Metrics) observeFindings(schedule string, s Summary, reps Reports, finished time.Time) {
	if m == nil {
		return
	}
	m.findings.DeletePartialMatch(prometheus.Labels{"schedule": schedule})
	m.byRule.DeletePartialMatch(prometheus.Labels{"schedule": schedule})
	set := func(ns string, c v1alpha1.SeverityCounts) {
		for _, sev := range severities {
			m.findings.WithLabelValues(schedule, ns, string(sev)).Set(float64(countOf(c, sev)))
		}
	}
	for _, ns := range s.Namespaces {
		set(ns.Namespace, ns.BySeverity)
	}
	set("", s.Cluster.BySeverity)
	for _, rc := range s.ByRule {
		m.byRule.WithLabelValues(schedule, rc.Rule, string(rc.Severity)).Set(float64(rc.Count))
	}
	omitted := reps.Cluster.Summary.Omitted
	for _, r := range reps.Namespaced {
		omitted += r.Summary.Omitted
	}
	m.omitted.WithLabelValues(schedule).Set(float64(omitted))
	m.lastRun.WithLabelValues(schedule).Set(float64(finished.Unix()))
}

// forget drops the gauges of a schedule that no longer exists.
func (m *Metrics) forget(schedule string) {
	if m == nil {
		return
	}
	for _, v := range []*prometheus.GaugeVec{m.findings, m.byRule, m.omitted, m.lastRun} {
		v.DeletePartialMatch(prometheus.Labels{"schedule": schedule})
	}
}

func countOf(c v1alpha1.SeverityCounts, s Severity) int32 {
	switch s {
	case v1alpha1.SeverityCritical:
		return c.Critical
	case v1alpha1.SeverityHigh:
		return c.High
	case v1alpha1.SeverityMedium:
		return c.Medium
	case v1alpha1.SeverityLow:
		return c.Low
	}
	return c.Info
}
