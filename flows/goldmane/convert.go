package goldmane

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/flowguard/flowguard/flows"
	pb "github.com/flowguard/flowguard/flows/goldmane/proto"
)

// maxRuleIndex bounds rule and policy indexes; anything larger is garbage, not a policy.
const maxRuleIndex = 1 << 20

// Converter turns Goldmane flows into flow records. It keeps one copy of each label set and
// policy trace it has converted, so records of the same workloads share them: callers must treat
// Labels and policy hit slices of the records as read-only. The zero value is ready to use; a
// Converter is not safe for concurrent use.
type Converter struct {
	// Limit bounds each cache; when one is full it is cleared. Zero means DefaultCacheLimit.
	Limit int

	labels map[string]flows.Labels
	hits   map[string][]flows.PolicyHit
	buf    []byte
}

// DefaultCacheLimit is the default number of label sets and policy traces a Converter keeps.
const DefaultCacheLimit = 1 << 14

// Convert checks a Goldmane flow and converts it. A flow that cannot be represented faithfully
// yields a *flows.ParseError whose Field is the proto field path at fault.
func (c *Converter) Convert(f *pb.Flow) (flows.Record, error) {
	if f == nil || f.Key == nil {
		return flows.Record{}, malformed(flows.ReasonMissing, "Key", "flow has no key")
	}
	k := f.Key
	var rec flows.Record
	var err error
	if rec.Src, err = c.endpoint("Key.source", k.SourceType, k.SourceNamespace, k.SourceName, "source_labels", f.SourceLabels); err != nil {
		return flows.Record{}, err
	}
	if rec.Dst, err = c.endpoint("Key.dest", k.DestType, k.DestNamespace, k.DestName, "dest_labels", f.DestLabels); err != nil {
		return flows.Record{}, err
	}
	if k.DestPort < 0 || k.DestPort > 65535 {
		return flows.Record{}, malformed(flows.ReasonValue, "Key.dest_port", fmt.Sprintf("port %d out of range", k.DestPort))
	}
	rec.DstPort = uint16(k.DestPort)
	if k.DestServicePort < 0 || k.DestServicePort > 65535 {
		return flows.Record{}, malformed(flows.ReasonValue, "Key.dest_service_port", fmt.Sprintf("port %d out of range", k.DestServicePort))
	}
	rec.DstService = flows.Service{
		Namespace: k.DestServiceNamespace, Name: k.DestServiceName,
		PortName: k.DestServicePortName, Port: uint16(k.DestServicePort),
	}
	if k.Proto == "" {
		return flows.Record{}, malformed(flows.ReasonMissing, "Key.proto", "no protocol")
	}
	p, ok := flows.ParseProtocol(k.Proto)
	if !ok {
		return flows.Record{}, malformed(flows.ReasonValue, "Key.proto", fmt.Sprintf("unknown protocol %q", k.Proto))
	}
	rec.Proto = p
	switch k.Action {
	case pb.Action_Allow:
		rec.Action = flows.ActionAllow
	case pb.Action_Deny:
		rec.Action = flows.ActionDeny
	default:
		// Pass is a policy verdict, never the final action of a flow.
		return flows.Record{}, malformed(flows.ReasonValue, "Key.action", "unknown flow action "+k.Action.String())
	}
	switch k.Reporter {
	case pb.Reporter_Src:
		rec.Reporter = flows.ReporterSrc
	case pb.Reporter_Dst:
		rec.Reporter = flows.ReporterDst
	default:
		return flows.Record{}, malformed(flows.ReasonValue, "Key.reporter", "unknown reporter "+k.Reporter.String())
	}
	if k.Policies != nil {
		if rec.Enforced, err = c.trace("Key.policies.enforced_policies", k.Policies.EnforcedPolicies); err != nil {
			return flows.Record{}, err
		}
		if rec.Pending, err = c.trace("Key.policies.pending_policies", k.Policies.PendingPolicies); err != nil {
			return flows.Record{}, err
		}
	}
	if err := counters(f); err != nil {
		return flows.Record{}, err
	}
	rec.Bytes = uint64(f.BytesIn) + uint64(f.BytesOut)
	rec.Packets = uint64(f.PacketsIn) + uint64(f.PacketsOut)
	rec.FlowsStarted = uint64(f.NumConnectionsStarted)
	rec.FlowsEnded = uint64(f.NumConnectionsCompleted)
	// Connections active in the window either completed in it or were live at its end, which is
	// what Calico's flow logs count as num_flows; the flow-log and JSON parsers count alike.
	rec.Flows = uint64(f.NumConnectionsLive) + uint64(f.NumConnectionsCompleted)
	if rec.Flows == 0 {
		rec.Flows = max(rec.FlowsStarted, 1)
	}
	if f.StartTime <= 0 {
		return flows.Record{}, malformed(flows.ReasonValue, "start_time", fmt.Sprintf("start time %d is not after the epoch", f.StartTime))
	}
	if f.EndTime < f.StartTime {
		return flows.Record{}, malformed(flows.ReasonValue, "end_time", fmt.Sprintf("end time %d before start time %d", f.EndTime, f.StartTime))
	}
	rec.Start = time.Unix(f.StartTime, 0).UTC()
	rec.End = time.Unix(f.EndTime, 0).UTC()
	return rec, nil
}

func counters(f *pb.Flow) error {
	for _, c := range [...]struct {
		field string
		v     int64
	}{
		{"packets_in", f.PacketsIn}, {"packets_out", f.PacketsOut},
		{"bytes_in", f.BytesIn}, {"bytes_out", f.BytesOut},
		{"num_connections_started", f.NumConnectionsStarted},
		{"num_connections_completed", f.NumConnectionsCompleted},
		{"num_connections_live", f.NumConnectionsLive},
	} {
		if c.v < 0 {
			return malformed(flows.ReasonValue, c.field, fmt.Sprintf("negative counter %d", c.v))
		}
	}
	return nil
}

func (c *Converter) endpoint(field string, t pb.EndpointType, ns, name, labelField string, labels []string) (flows.Endpoint, error) {
	var ep flows.Endpoint
	switch t {
	case pb.EndpointType_WorkloadEndpoint:
		ep.Type = flows.TypeWorkload
	case pb.EndpointType_HostEndpoint:
		ep.Type = flows.TypeHost
	case pb.EndpointType_NetworkSet:
		ep.Type = flows.TypeNetworkSet
	case pb.EndpointType_Network:
		ep.Type = flows.TypeNetwork
	default:
		return ep, malformed(flows.ReasonValue, field+"_type", "unknown endpoint type "+t.String())
	}
	if name == "" {
		return ep, malformed(flows.ReasonMissing, field+"_name", "endpoint has no name")
	}
	// Felix writes "-" for "not namespaced", as in flow logs.
	if ns != "-" {
		ep.Namespace = ns
	}
	ep.Name = name
	l, err := c.labelSet(labelField, labels)
	if err != nil {
		return ep, err
	}
	ep.Labels = l
	ep.ServiceAccount, _ = l.Get(serviceAccountLabel)
	return ep, nil
}

// serviceAccountLabel is the label Calico puts on workload endpoints naming the pod's account.
const serviceAccountLabel = "projectcalico.org/serviceaccount"

// labelSet parses "k=v" strings into a label set sorted by key, keeping the last value of a
// repeated key as the flow-log parser does, shared with earlier identical sets.
func (c *Converter) labelSet(field string, raw []string) (flows.Labels, error) {
	if len(raw) == 0 {
		return nil, nil
	}
	c.buf = c.buf[:0]
	for _, s := range raw {
		c.buf = append(c.buf, s...)
		c.buf = append(c.buf, 0)
	}
	if l, ok := c.labels[string(c.buf)]; ok {
		return l, nil
	}
	l := make(flows.Labels, 0, len(raw))
	for i, s := range raw {
		k, v, ok := strings.Cut(s, "=")
		if !ok || k == "" {
			return nil, malformed(flows.ReasonValue, field+"["+strconv.Itoa(i)+"]", fmt.Sprintf("label %q is not key=value", s))
		}
		l = append(l, flows.Label{Key: k, Value: v})
	}
	l = canonical(l)
	if c.labels == nil || len(c.labels) >= c.limit() {
		c.labels = make(map[string]flows.Labels, 256)
	}
	c.labels[string(c.buf)] = l
	return l, nil
}

// canonical sorts labels by key with a stable insertion sort (label sets are short and usually
// sorted already) and keeps the last value of a repeated key.
func canonical(l flows.Labels) flows.Labels {
	for i := 1; i < len(l); i++ {
		for j := i; j > 0 && l[j].Key < l[j-1].Key; j-- {
			l[j], l[j-1] = l[j-1], l[j]
		}
	}
	out := l[:0]
	for i, kv := range l {
		if i+1 < len(l) && l[i+1].Key == kv.Key {
			continue
		}
		out = append(out, kv)
	}
	return out
}

func (c *Converter) limit() int {
	if c.Limit > 0 {
		return c.Limit
	}
	return DefaultCacheLimit
}

func malformed(reason flows.Reason, field, msg string) error {
	return &flows.ParseError{Reason: reason, Field: field, Msg: msg}
}
