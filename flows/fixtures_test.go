package flows

import (
	"net/netip"
	"strings"
	"time"
)

// t0 is 2024-06-10T06:00:00Z, the start of an hourly bucket.
var t0 = time.Unix(1718000000-1718000000%3600, 0).UTC()

// record builds a Record from a default (shop/frontend-* -> shop/api-*:8080 tcp, allowed,
// reported by the destination, one flow of 100 bytes and 2 packets ending at t0+10m) and
// modifiers, in the manner of cert-manager's gen package.
func record(mods ...func(*Record)) Record {
	r := Record{
		Src:     workload("shop", "frontend-*", "app=frontend"),
		Dst:     workload("shop", "api-*", "app=api"),
		DstPort: 8080, Proto: ProtoTCP, Action: ActionAllow, Reporter: ReporterDst,
		Flows: 1, Bytes: 100, Packets: 2,
		Start: t0.Add(5 * time.Minute), End: t0.Add(10 * time.Minute),
	}
	for _, m := range mods {
		m(&r)
	}
	return r
}

func workload(ns, name string, labels ...string) Endpoint {
	return Endpoint{Type: TypeWorkload, Namespace: ns, Name: name, Labels: mkLabels(labels...)}
}

func mkLabels(kv ...string) Labels {
	var l Labels
	for _, s := range kv {
		k, v, _ := strings.Cut(s, "=")
		l = append(l, Label{Key: k, Value: v})
	}
	return canonicalLabels(l)
}

func from(e Endpoint) func(*Record) { return func(r *Record) { r.Src = e } }
func to(e Endpoint) func(*Record)   { return func(r *Record) { r.Dst = e } }

func network(name, ip string) Endpoint {
	e := Endpoint{Type: TypeNetwork, Name: name}
	if ip != "" {
		e.IP = netip.MustParseAddr(ip)
	}
	return e
}

func onPort(p uint16) func(*Record)       { return func(r *Record) { r.DstPort = p } }
func denied(r *Record)                    { r.Action = ActionDeny }
func reportedBy(x Reporter) func(*Record) { return func(r *Record) { r.Reporter = x } }

// endingAt places the record's five-minute window so that it ends at t.
func endingAt(t time.Time) func(*Record) {
	return func(r *Record) { r.Start, r.End = t.Add(-5*time.Minute), t }
}

func counting(flows, bytes, packets uint64) func(*Record) {
	return func(r *Record) { r.Flows, r.Bytes, r.Packets = flows, bytes, packets }
}

func enforcing(hits ...string) func(*Record) {
	return func(r *Record) {
		r.Enforced = nil
		for _, h := range hits {
			ph, err := ParsePolicyHit(h)
			if err != nil {
				panic(err)
			}
			r.Enforced = append(r.Enforced, ph)
		}
	}
}
