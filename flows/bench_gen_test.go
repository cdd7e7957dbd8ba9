package flows

import (
	"strconv"
)

// flowGen writes realistic level-2 Calico flow-log lines (every field Felix writes, labels,
// enforced and pending policies) for a cluster of workloads spread over namespaces, each
// talking to a few peers, over a day.
type flowGen struct {
	workloads, namespaces, peers int
	seed                         uint64
	// Felix writes one batch per five-minute interval, so time only moves forward: perInterval
	// records share an interval, and 288 intervals make a day.
	perInterval, n int
	base           int64
}

func newFlowGen(workloads int) *flowGen {
	return &flowGen{workloads: workloads, namespaces: max(workloads/100, 1), peers: 3, seed: 0x9e3779b97f4a7c15,
		perInterval: 1_000_000 / 288, base: 1718000000}
}

// next is a xorshift generator: deterministic, and cheap enough not to dominate the benchmark.
func (g *flowGen) next() uint64 {
	g.seed ^= g.seed << 13
	g.seed ^= g.seed >> 7
	g.seed ^= g.seed << 17
	return g.seed
}

var genPorts = []int{8080, 443, 5432, 6379, 9090, 53}

// line appends the i-th record to b.
func (g *flowGen) line(b []byte) []byte {
	r := g.next()
	src := int(r % uint64(g.workloads))
	peer := int(r>>20) % g.peers
	dst := (src*7 + peer*131 + 1) % g.workloads
	port := genPorts[(src+peer)%len(genPorts)]
	reporter := "dst"
	if r>>40&1 == 1 {
		reporter = "src"
	}
	action := "allow"
	if (src+peer)%17 == 0 {
		action = "deny"
	}
	end := g.base + int64(g.n/g.perInterval%288)*300 + 300
	g.n++
	b = append(b, `{"start_time":`...)
	b = strconv.AppendInt(b, end-300, 10)
	b = append(b, `,"end_time":`...)
	b = strconv.AppendInt(b, end, 10)
	b = g.endpoint(b, "source", src)
	b = append(b, `,"source_port":null,"nat_outgoing_ports":null`...)
	b = g.endpoint(b, "dest", dst)
	b = append(b, `,"dest_port":`...)
	b = strconv.AppendInt(b, int64(port), 10)
	b = append(b, `,"dest_service_namespace":"`...)
	b = g.ns(b, dst)
	b = append(b, `","dest_service_name":"svc-`...)
	b = strconv.AppendInt(b, int64(dst), 10)
	b = append(b, `","dest_service_port":"http","dest_service_port_num":`...)
	b = strconv.AppendInt(b, int64(port), 10)
	b = append(b, `,"dest_domains":null,"proto":"tcp","action":"`...)
	b = append(b, action...)
	b = append(b, `","reporter":"`...)
	b = append(b, reporter...)
	b = append(b, `","policies":{"enforced_policies":["1|default|`...)
	b = g.ns(b, dst)
	b = append(b, `/default.allow-`...)
	b = strconv.AppendInt(b, int64(dst%50), 10)
	b = append(b, "|"+action+`|0","0|security|security.pass-cluster|pass|2"],"pending_policies":["0|security|security.pass-cluster|pass|2","1|default|`...)
	b = g.ns(b, dst)
	b = append(b, `/default.allow-`...)
	b = strconv.AppendInt(b, int64(dst%50), 10)
	b = append(b, "|"+action+`|0"]},"bytes_in":`...)
	b = strconv.AppendUint(b, r>>30%100000, 10)
	b = append(b, `,"bytes_out":`...)
	b = strconv.AppendUint(b, r>>35%50000, 10)
	b = append(b, `,"num_flows":`...)
	b = strconv.AppendUint(b, 1+r>>45%5, 10)
	b = append(b, `,"num_flows_started":1,"num_flows_completed":1,"packets_in":`...)
	b = strconv.AppendUint(b, r>>28%1000, 10)
	b = append(b, `,"packets_out":`...)
	b = strconv.AppendUint(b, r>>33%800, 10)
	b = append(b, `,"http_requests_allowed_in":0,"http_requests_denied_in":0,"process_name":"-","num_process_names":0,"process_id":"-","num_process_ids":0,"process_args":["-"],"num_process_args":0,"original_source_ips":null,"num_original_source_ips":0,"tcp_mean_send_congestion_window":10,"tcp_min_send_congestion_window":10,"tcp_mean_smooth_rtt":312,"tcp_max_smooth_rtt":402,"tcp_mean_min_rtt":120,"tcp_max_min_rtt":120,"tcp_mean_mss":1410,"tcp_min_mss":1410,"tcp_total_retransmissions":0,"tcp_lost_packets":0,"tcp_unrecovered_to":0,"host":"worker-`...)
	b = strconv.AppendInt(b, int64(src%40), 10)
	return append(b, `"}`...)
}

func (g *flowGen) ns(b []byte, w int) []byte {
	b = append(b, "team-"...)
	return strconv.AppendInt(b, int64(w%g.namespaces), 10)
}

func (g *flowGen) endpoint(b []byte, side string, w int) []byte {
	b = append(b, `,"`+side+`_ip":null,"`+side+`_name":"-","`+side+`_name_aggr":"app-`...)
	b = strconv.AppendInt(b, int64(w), 10)
	b = append(b, `-7d9f8b6c5-*","`+side+`_namespace":"`...)
	b = g.ns(b, w)
	b = append(b, `","`+side+`_type":"wep","`+side+`_labels":{"labels":["app=app-`...)
	b = strconv.AppendInt(b, int64(w), 10)
	b = append(b, `","pod-template-hash=7d9f8b6c5","projectcalico.org/namespace=`...)
	b = g.ns(b, w)
	b = append(b, `","projectcalico.org/orchestrator=k8s","projectcalico.org/serviceaccount=sa-`...)
	b = strconv.AppendInt(b, int64(w), 10)
	b = append(b, `","team=`...)
	b = g.ns(b, w)
	b = append(b, `","version=v`...)
	b = strconv.AppendInt(b, int64(w%3), 10)
	return append(b, `"]}`...)
}
