package webhook

import (
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the webhook's Prometheus collectors. Build them once with NewMetrics and share them
// between handlers; they are safe for concurrent use.
type Metrics struct {
	duration   *prometheus.HistogramVec
	decisions  *prometheus.CounterVec
	evalErrors *prometheus.CounterVec
	skipped    *prometheus.CounterVec
}

// Reasons counted by flowguard_webhook_evaluation_errors_total.
const (
	reasonError    = "error"
	reasonDeadline = "deadline"
	reasonPanic    = "panic"
	// reasonOverload counts decisions turned away because the pool and its queue were full.
	reasonOverload = "overload"
)

// NewMetrics creates the webhook's collectors and registers them with reg (the manager's registry
// in flowguard serve, a fresh one in tests). trafficAge reports the time of the newest record in
// the traffic graph and whether a graph is loaded; it backs flowguard_traffic_graph_age_seconds and
// may be nil when there is no graph.
func NewMetrics(reg prometheus.Registerer, now func() time.Time, trafficAge func() (time.Time, bool)) (*Metrics, error) {
	m := &Metrics{
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "flowguard_webhook_request_duration_seconds",
			Help: "Time to answer one admission review, by kind and operation.",
			// Sub-millisecond resolution: the target is a p99 under 2 ms.
			Buckets: []float64{.0001, .00025, .0005, .001, .002, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"kind", "operation"}),
		decisions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "flowguard_webhook_decisions_total",
			Help: "Rule violations found at admission, by rule and the enforcement action applied.",
		}, []string{"rule", "action"}),
		evalErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "flowguard_webhook_evaluation_errors_total",
			Help: "Admission decisions that did not complete, by reason (error, deadline, panic, overload).",
		}, []string{"reason"}),
		skipped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "flowguard_webhook_rules_skipped_total",
			Help: "Rules skipped at admission because they need the traffic graph and none is loaded.",
		}, []string{"rule"}),
	}
	collectors := []prometheus.Collector{m.duration, m.decisions, m.evalErrors, m.skipped}
	if trafficAge != nil {
		collectors = append(collectors, prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "flowguard_traffic_graph_age_seconds",
			Help: "Seconds since the newest record in the traffic graph the webhook reads; -1 before a graph is loaded.",
		}, func() float64 {
			newest, ok := trafficAge()
			if !ok {
				return -1
			}
			return now().Sub(newest).Seconds()
		}))
	}
	for _, c := range collectors {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register webhook metrics: %w", err)
		}
	}
	return m, nil
}
