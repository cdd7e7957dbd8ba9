package replica

import (
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/flowguard/flowguard/flows/goldmane"
	"github.com/flowguard/flowguard/flows/observed"
)

// trafficMetrics are the metrics of the traffic pipeline beyond those flows defines (records
// ingested and refused per source, ingest responses, graph size).
type trafficMetrics struct {
	leader          prometheus.Gauge
	seeded          prometheus.Gauge
	shardsApplied   prometheus.Counter
	syncCycles      *prometheus.CounterVec
	shardWrites     *prometheus.CounterVec
	lastSync        prometheus.Gauge
	ingestNotLeader prometheus.Counter
}

func newTrafficMetrics(reg prometheus.Registerer, goldmaneStats func() (goldmane.Stats, bool)) (*trafficMetrics, error) {
	m := &trafficMetrics{
		leader: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "flowguard_traffic_leader",
			Help: "1 while this replica is the elected one that ingests flows and writes ObservedTraffic.",
		}),
		seeded: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "flowguard_observed_traffic_seeded",
			Help: "1 once the ObservedTraffic present at start is in this replica's traffic graph.",
		}),
		shardsApplied: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "flowguard_observed_traffic_shards_applied_total",
			Help: "ObservedTraffic objects (versions and deletions) applied to this replica's traffic graph.",
		}),
		syncCycles: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "flowguard_observed_traffic_sync_cycles_total",
			Help: "Write cycles of the traffic graph to ObservedTraffic, by result (ok, error).",
		}, []string{"result"}),
		shardWrites: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "flowguard_observed_traffic_writes_total",
			Help: "ObservedTraffic objects written, by operation (create, update, delete); unchanged shards are not written.",
		}, []string{"operation"}),
		lastSync: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "flowguard_observed_traffic_last_sync_timestamp_seconds",
			Help: "When the elected replica last wrote every changed ObservedTraffic shard without error.",
		}),
		ingestNotLeader: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "flowguard_flow_ingest_not_leader_total",
			Help: "HTTP flow ingest requests refused with 503 because this replica is not the elected one.",
		}),
	}
	for _, r := range []string{"ok", "error"} {
		m.syncCycles.WithLabelValues(r)
	}
	for _, op := range []string{"create", "update", "delete"} {
		m.shardWrites.WithLabelValues(op)
	}
	cs := []prometheus.Collector{m.leader, m.seeded, m.shardsApplied, m.syncCycles, m.shardWrites, m.lastSync,
		m.ingestNotLeader, newGoldmaneCollector(goldmaneStats)}
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register traffic metrics: %w", err)
		}
	}
	return m, nil
}

func (m *trafficMetrics) synced(res observed.SyncResult, err error, now time.Time) {
	m.shardWrites.WithLabelValues("create").Add(float64(res.Created))
	m.shardWrites.WithLabelValues("update").Add(float64(res.Updated))
	m.shardWrites.WithLabelValues("delete").Add(float64(res.Deleted))
	if err != nil {
		m.syncCycles.WithLabelValues("error").Inc()
		return
	}
	m.syncCycles.WithLabelValues("ok").Inc()
	m.lastSync.Set(float64(now.Unix()))
}

// goldmaneCollector exports the Goldmane client's counters while one runs (on the elected
// replica); elsewhere it exports nothing.
type goldmaneCollector struct {
	stats                                           func() (goldmane.Stats, bool)
	sessions, failures, duplicates, gaps, watermark *prometheus.Desc
	malformed                                       *prometheus.Desc
}

func newGoldmaneCollector(stats func() (goldmane.Stats, bool)) *goldmaneCollector {
	return &goldmaneCollector{
		stats: stats,
		sessions: prometheus.NewDesc("flowguard_goldmane_sessions_total",
			"Connections to Goldmane attempted.", nil, nil),
		failures: prometheus.NewDesc("flowguard_goldmane_session_failures_total",
			"Connections to Goldmane that ended in an error (each is retried with backoff).", nil, nil),
		duplicates: prometheus.NewDesc("flowguard_goldmane_duplicate_flows_total",
			"Flows Goldmane sent again for a window already delivered, dropped.", nil, nil),
		gaps: prometheus.NewDesc("flowguard_goldmane_gaps_total",
			"Reconnections after an outage longer than Goldmane keeps flows: the flows of the gap are lost.", nil, nil),
		malformed: prometheus.NewDesc("flowguard_goldmane_flows_malformed_total",
			"Goldmane flows refused, by reason.", []string{"reason"}, nil),
		watermark: prometheus.NewDesc("flowguard_goldmane_watermark_timestamp_seconds",
			"End of the newest Goldmane window delivered.", nil, nil),
	}
}

func (c *goldmaneCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.sessions, c.failures, c.duplicates, c.gaps, c.malformed, c.watermark} {
		ch <- d
	}
}

func (c *goldmaneCollector) Collect(ch chan<- prometheus.Metric) {
	s, ok := c.stats()
	if !ok {
		return
	}
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	counter(c.sessions, s.Sessions)
	counter(c.failures, s.Failures)
	counter(c.duplicates, s.Duplicates)
	counter(c.gaps, s.Gaps)
	for _, m := range s.Flows.Malformed {
		counter(c.malformed, m.Count, string(m.Reason))
	}
	if !s.Watermark.IsZero() {
		ch <- prometheus.MustNewConstMetric(c.watermark, prometheus.GaugeValue, float64(s.Watermark.Unix()))
	}
}
