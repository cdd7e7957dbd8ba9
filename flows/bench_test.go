package flows

import (
	"encoding/json"
	"runtime"
	"testing"
	"time"
)

// benchLines returns n generated level-2 lines over 10,000 workloads.
func benchLines(b *testing.B, n int) ([][]byte, int) {
	b.Helper()
	gen := newFlowGen(10_000)
	lines := make([][]byte, n)
	size := 0
	for i := range lines {
		lines[i] = gen.line(nil)
		size += len(lines[i]) + 1
	}
	return lines, size / n
}

// BenchmarkParseAggregate is the ingest path: parse a Calico flow-log line and aggregate it
// into the traffic graph. One pass over the lines first makes it the steady state of a running
// server, whose graph already holds most edges it is sent.
func BenchmarkParseAggregate(b *testing.B) {
	lines, avg := benchLines(b, 50_000)
	g, err := NewGraph(GraphOptions{Retention: -1})
	if err != nil {
		b.Fatal(err)
	}
	p := NewParser()
	app := g.NewAppender(0)
	var r Record
	for _, l := range lines {
		if err := p.ParseCalico(l, &r); err != nil {
			b.Fatal(err)
		}
		if err := app.Add(&r); err != nil {
			b.Fatal(err)
		}
	}
	app.Flush()
	b.SetBytes(int64(avg))
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuTime()
	for i := 0; i < b.N; i++ {
		if err := p.ParseCalico(lines[i%len(lines)], &r); err != nil {
			b.Fatal(err)
		}
		if err := app.Add(&r); err != nil {
			b.Fatal(err)
		}
	}
	app.Flush()
	reportRate(b, cpu0)
}

// reportRate reports records per second of wall time and per second of the process's CPU
// time (which includes the garbage collector's work on other threads).
func reportRate(b *testing.B, cpu0 time.Duration) {
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
	if cpu := cpuTime() - cpu0; cpu > 0 {
		b.ReportMetric(float64(b.N)/cpu.Seconds(), "records/cpu-s")
	}
}

// BenchmarkParse is the parser alone.
func BenchmarkParse(b *testing.B) {
	lines, avg := benchLines(b, 50_000)
	p := NewParser()
	var r Record
	b.SetBytes(int64(avg))
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuTime()
	for i := 0; i < b.N; i++ {
		if err := p.ParseCalico(lines[i%len(lines)], &r); err != nil {
			b.Fatal(err)
		}
	}
	reportRate(b, cpu0)
}

// plainFlowLog is the obvious encoding/json target for the same lines: every field, typed.
type plainFlowLog struct {
	StartTime        int64                      `json:"start_time"`
	EndTime          int64                      `json:"end_time"`
	SourceIP         *string                    `json:"source_ip"`
	SourceName       string                     `json:"source_name"`
	SourceNameAggr   string                     `json:"source_name_aggr"`
	SourceNamespace  string                     `json:"source_namespace"`
	SourcePort       *int                       `json:"source_port"`
	SourceType       string                     `json:"source_type"`
	SourceLabels     *struct{ Labels []string } `json:"source_labels"`
	NatOutgoingPorts []int                      `json:"nat_outgoing_ports"`
	DestIP           *string                    `json:"dest_ip"`
	DestName         string                     `json:"dest_name"`
	DestNameAggr     string                     `json:"dest_name_aggr"`
	DestNamespace    string                     `json:"dest_namespace"`
	DestPort         *int                       `json:"dest_port"`
	DestType         string                     `json:"dest_type"`
	DestLabels       *struct{ Labels []string } `json:"dest_labels"`
	DestSvcNamespace string                     `json:"dest_service_namespace"`
	DestSvcName      string                     `json:"dest_service_name"`
	DestSvcPort      string                     `json:"dest_service_port"`
	DestSvcPortNum   *int                       `json:"dest_service_port_num"`
	DestDomains      []string                   `json:"dest_domains"`
	Proto            string                     `json:"proto"`
	Action           string                     `json:"action"`
	Reporter         string                     `json:"reporter"`
	Policies         map[string][]string        `json:"policies"`
	BytesIn          int64                      `json:"bytes_in"`
	BytesOut         int64                      `json:"bytes_out"`
	NumFlows         int64                      `json:"num_flows"`
	NumFlowsStarted  int64                      `json:"num_flows_started"`
	NumFlowsComplete int64                      `json:"num_flows_completed"`
	PacketsIn        int64                      `json:"packets_in"`
	PacketsOut       int64                      `json:"packets_out"`
	HTTPAllowedIn    int64                      `json:"http_requests_allowed_in"`
	HTTPDeniedIn     int64                      `json:"http_requests_denied_in"`
	ProcessName      string                     `json:"process_name"`
	NumProcessNames  int                        `json:"num_process_names"`
	ProcessID        string                     `json:"process_id"`
	NumProcessIDs    int                        `json:"num_process_ids"`
	ProcessArgs      []string                   `json:"process_args"`
	NumProcessArgs   int                        `json:"num_process_args"`
	OrigSourceIPs    []string                   `json:"original_source_ips"`
	NumOrigSourceIPs int                        `json:"num_original_source_ips"`
	TCP              map[string]json.RawMessage `json:"-"`
	TCPMeanSendCwnd  int64                      `json:"tcp_mean_send_congestion_window"`
	TCPMinSendCwnd   int64                      `json:"tcp_min_send_congestion_window"`
	TCPMeanSRTT      int64                      `json:"tcp_mean_smooth_rtt"`
	TCPMaxSRTT       int64                      `json:"tcp_max_smooth_rtt"`
	TCPMeanMinRTT    int64                      `json:"tcp_mean_min_rtt"`
	TCPMaxMinRTT     int64                      `json:"tcp_max_min_rtt"`
	TCPMeanMSS       int64                      `json:"tcp_mean_mss"`
	TCPMinMSS        int64                      `json:"tcp_min_mss"`
	TCPRetrans       int64                      `json:"tcp_total_retransmissions"`
	TCPLost          int64                      `json:"tcp_lost_packets"`
	TCPUnrecovered   int64                      `json:"tcp_unrecovered_to"`
	Host             string                     `json:"host"`
	_                struct{}                   `json:"-"`
}

// BenchmarkEncodingJSON decodes the same lines with encoding/json into plainFlowLog, for
// comparison: decoding only, no policy-hit parsing, no aggregation.
func BenchmarkEncodingJSON(b *testing.B) {
	lines, avg := benchLines(b, 50_000)
	b.SetBytes(int64(avg))
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuTime()
	for i := 0; i < b.N; i++ {
		var v plainFlowLog
		if err := json.Unmarshal(lines[i%len(lines)], &v); err != nil {
			b.Fatal(err)
		}
	}
	reportRate(b, cpu0)
}

// BenchmarkGraphMemory aggregates 1,000,000 records over 10,000 workloads spread over a day and
// reports the live heap the graph holds after garbage collection. Run with -benchtime=1x.
func BenchmarkGraphMemory(b *testing.B) {
	for i := 0; i < b.N; i++ {
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		g, err := NewGraph(GraphOptions{Retention: -1})
		if err != nil {
			b.Fatal(err)
		}
		gen := newFlowGen(10_000)
		p := NewParser()
		app := g.NewAppender(0)
		var r Record
		var line []byte
		for n := 0; n < 1_000_000; n++ {
			line = gen.line(line[:0])
			if err := p.ParseCalico(line, &r); err != nil {
				b.Fatal(err)
			}
			if err := app.Add(&r); err != nil {
				b.Fatal(err)
			}
		}
		app.Flush()
		p, app, line = nil, nil, nil
		runtime.GC()
		runtime.ReadMemStats(&after)
		st := g.Stats()
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/(1<<20), "heap-MB")
		b.ReportMetric(float64(st.Edges), "edges")
		b.ReportMetric(float64(st.Identities), "identities")
		b.ReportMetric(float64(st.Buckets), "buckets")
		runtime.KeepAlive(g)
	}
}
