package flows

import (
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the flow pipeline's Prometheus metrics. They are registered on the registry the
// caller passes (controller-runtime's, in the server), never on a global one.
type Metrics struct {
	records   *prometheus.CounterVec
	malformed *prometheus.CounterVec
	requests  *prometheus.CounterVec
}

// NewMetrics creates the metrics and registers them on reg.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		records: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "flowguard_flow_records_ingested_total",
			Help: "Flow records accepted, by source (file, http, goldmane).",
		}, []string{"source"}),
		malformed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "flowguard_flow_records_malformed_total",
			Help: "Flow records refused, by source and reason.",
		}, []string{"source", "reason"}),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "flowguard_flow_ingest_requests_total",
			Help: "HTTP flow ingest requests, by response code.",
		}, []string{"code"}),
	}
	for _, c := range []prometheus.Collector{m.records, m.malformed, m.requests} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register flow metrics: %w", err)
		}
	}
	return m, nil
}

// Observer returns an Observer that counts records from source ("file", "http", "goldmane").
// Every reason starts at zero, so alerts on a rate see the series before the first bad record.
func (m *Metrics) Observer(source string) Observer {
	if m == nil {
		return nil
	}
	for _, r := range Reasons {
		m.malformed.WithLabelValues(source, string(r))
	}
	return &sourceObserver{
		records:   m.records.WithLabelValues(source),
		malformed: m.malformed.MustCurryWith(prometheus.Labels{"source": source}),
	}
}

type sourceObserver struct {
	records   prometheus.Counter
	malformed *prometheus.CounterVec
}

func (o *sourceObserver) ObserveAccepted(n int) { o.records.Add(float64(n)) }
func (o *sourceObserver) ObserveMalformed(reason Reason) {
	o.malformed.WithLabelValues(string(reason)).Inc()
}

func (m *Metrics) request(code int) {
	if m != nil {
		m.requests.WithLabelValues(fmt.Sprint(code)).Inc()
	}
}

// RegisterGraphMetrics exports the graph's size and refusals as gauges and counters read at
// scrape time.
func RegisterGraphMetrics(reg prometheus.Registerer, g *Graph) error {
	stat := func(f func(GraphStats) float64) func() float64 {
		return func() float64 { return f(g.Stats()) }
	}
	cs := []prometheus.Collector{
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "flowguard_traffic_graph_identities", Help: "Endpoint identities in the traffic graph."},
			stat(func(s GraphStats) float64 { return float64(s.Identities) })),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "flowguard_traffic_graph_edges", Help: "Edges in the traffic graph."},
			stat(func(s GraphStats) float64 { return float64(s.Edges) })),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "flowguard_traffic_graph_buckets", Help: "Time buckets held by the traffic graph's edges."},
			stat(func(s GraphStats) float64 { return float64(s.Buckets) })),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "flowguard_traffic_graph_records_expired_total", Help: "Records older than retention when they arrived."},
			stat(func(s GraphStats) float64 { return float64(s.Expired) })),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "flowguard_traffic_graph_records_dropped_total", Help: "Records refused because the graph's edge cap was reached."},
			stat(func(s GraphStats) float64 { return float64(s.Dropped) })),
	}
	var errs []error
	for _, c := range cs {
		errs = append(errs, reg.Register(c))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("register traffic graph metrics: %w", err)
	}
	return nil
}
