package synth

import (
	"time"

	"github.com/flowguard/flowguard/flows"
)

// Records returns at most n flow records of the cluster's traffic, as the reporting sides send
// them: the source reports every flow it sent (allowed or denied on egress), the destination
// every flow its source let out (allowed or denied on ingress). The records are spread evenly
// over the span before end, one minute each. Like Flows, the result is a pure function of the
// cluster and seed.
func (c *Cluster) Records(n int, seed int64, end time.Time, span time.Duration) []flows.Record {
	// Most flows are reported by both sides: this many flows make about 1.1 n records.
	fl := c.Flows((n*11+19)/20, seed)
	if len(fl) == 0 {
		return nil
	}
	start := end.Add(-span)
	step := span / time.Duration(len(fl))
	recs := make([]flows.Record, 0, n)
	for i, f := range fl {
		at := start.Add(time.Duration(i) * step)
		rec := flows.Record{Src: f.Src, Dst: f.Dst, DstPort: f.Port, Proto: f.Proto, Flows: 1, FlowsStarted: 1, FlowsEnded: 1, Start: at, End: at.Add(time.Minute)}
		if f.Src.Type == flows.TypeWorkload {
			rec.Reporter, rec.Action = flows.ReporterSrc, recordAction(f.Egress)
			recs = append(recs, rec)
		}
		if f.Egress && len(recs) < n {
			rec.Reporter, rec.Action = flows.ReporterDst, recordAction(f.Ingress)
			recs = append(recs, rec)
		}
		if len(recs) >= n {
			break
		}
	}
	return recs
}

func recordAction(allowed bool) flows.Action {
	if allowed {
		return flows.ActionAllow
	}
	return flows.ActionDeny
}
