package synth

import (
	"bufio"
	"encoding/json"
	"io"
	"time"

	"github.com/flowguard/flowguard/flows"
)

// flowLogRecord is a Calico Enterprise flow-log record at aggregation level 2 (names and
// workload addresses aggregated away); outside addresses keep their IP as level 1 would, so
// that ipBlock rules can be judged.
type flowLogRecord struct {
	StartTime         int64         `json:"start_time"`
	EndTime           int64         `json:"end_time"`
	SourceIP          *string       `json:"source_ip"`
	SourceName        string        `json:"source_name"`
	SourceNameAggr    string        `json:"source_name_aggr"`
	SourceNamespace   string        `json:"source_namespace"`
	SourceType        string        `json:"source_type"`
	SourceLabels      labelsField   `json:"source_labels"`
	SourcePort        *int          `json:"source_port"`
	NatOutgoingPorts  []int         `json:"nat_outgoing_ports"`
	DestIP            *string       `json:"dest_ip"`
	DestName          string        `json:"dest_name"`
	DestNameAggr      string        `json:"dest_name_aggr"`
	DestNamespace     string        `json:"dest_namespace"`
	DestType          string        `json:"dest_type"`
	DestLabels        labelsField   `json:"dest_labels"`
	DestPort          uint16        `json:"dest_port"`
	DestServiceNS     string        `json:"dest_service_namespace"`
	DestServiceName   string        `json:"dest_service_name"`
	DestServicePort   string        `json:"dest_service_port"`
	DestDomains       []string      `json:"dest_domains"`
	Proto             string        `json:"proto"`
	Action            string        `json:"action"`
	Reporter          string        `json:"reporter"`
	Policies          policiesField `json:"policies"`
	BytesIn           uint64        `json:"bytes_in"`
	BytesOut          uint64        `json:"bytes_out"`
	NumFlows          uint64        `json:"num_flows"`
	NumFlowsStarted   uint64        `json:"num_flows_started"`
	NumFlowsCompleted uint64        `json:"num_flows_completed"`
	PacketsIn         uint64        `json:"packets_in"`
	PacketsOut        uint64        `json:"packets_out"`
	HTTPAllowedIn     int           `json:"http_requests_allowed_in"`
	HTTPDeniedIn      int           `json:"http_requests_denied_in"`
	ProcessName       string        `json:"process_name"`
	NumProcessNames   int           `json:"num_process_names"`
	ProcessID         string        `json:"process_id"`
	NumProcessIDs     int           `json:"num_process_ids"`
	ProcessArgs       []string      `json:"process_args"`
	NumProcessArgs    int           `json:"num_process_args"`
	OriginalSourceIPs []string      `json:"original_source_ips"`
	NumOriginalSrcIPs int           `json:"num_original_source_ips"`
	Host              string        `json:"host"`
}

type labelsField struct {
	Labels []string `json:"labels"`
}

type policiesField struct {
	Enforced []string `json:"enforced_policies"`
	Pending  []string `json:"pending_policies"`
}

// WriteFlowLog writes the flows as Calico flow-log JSON lines, one record per reporting side
// as Felix writes them: the source reports every flow it sent (allowed or denied on egress),
// the destination every flow that reached it. Records are spread over 5-minute windows from
// start, 1,000 per window.
func WriteFlowLog(w io.Writer, fl []Flow, start time.Time) error {
	bw := bufio.NewWriterSize(w, 1<<20)
	enc := json.NewEncoder(bw)
	for i, f := range fl {
		t0 := start.Add(time.Duration(i/1000) * 5 * time.Minute).Unix()
		rec := flowLogRecord{
			StartTime: t0, EndTime: t0 + 300,
			SourceName: "-", DestName: "-", DestPort: f.Port, Proto: f.Proto.String(),
			DestServiceNS: "-", DestServiceName: "-", DestServicePort: "-",
			BytesIn: 1200, BytesOut: 800, NumFlows: 1, NumFlowsStarted: 1, NumFlowsCompleted: 1,
			PacketsIn: 10, PacketsOut: 8, ProcessName: "-", ProcessID: "-", ProcessArgs: []string{"-"},
			Host: "worker-1",
		}
		fillEndpoint(&rec.SourceIP, &rec.SourceNameAggr, &rec.SourceNamespace, &rec.SourceType, &rec.SourceLabels, f.Src)
		fillEndpoint(&rec.DestIP, &rec.DestNameAggr, &rec.DestNamespace, &rec.DestType, &rec.DestLabels, f.Dst)
		if f.Src.Type == flows.TypeWorkload {
			rec.Reporter, rec.Action = "src", action(f.Egress)
			rec.Policies = policiesField{Enforced: []string{f.EgressHit}, Pending: []string{f.EgressHit}}
			if err := enc.Encode(&rec); err != nil {
				return err
			}
		}
		if f.Egress && f.Dst.Type == flows.TypeWorkload {
			rec.Reporter, rec.Action = "dst", action(f.Ingress)
			rec.Policies = policiesField{Enforced: []string{f.IngressHit}, Pending: []string{f.IngressHit}}
			if err := enc.Encode(&rec); err != nil {
				return err
			}
		}
	}
	return bw.Flush()
}

func action(allowed bool) string {
	if allowed {
		return "allow"
	}
	return "deny"
}

func fillEndpoint(ip **string, aggr, ns, typ *string, labels *labelsField, e flows.Endpoint) {
	*typ = e.Type.String()
	*aggr = e.Name
	*ns = e.Namespace
	if *ns == "" {
		*ns = "-"
	}
	if e.IP.IsValid() {
		s := e.IP.String()
		*ip = &s
	}
	labels.Labels = make([]string, len(e.Labels))
	for i, l := range e.Labels {
		labels.Labels[i] = l.Key + "=" + l.Value
	}
}
