package flows

import (
	"encoding/binary"
	"net/netip"
)

// rawEndpoint gathers one side's fields while a record is scanned. Names are kept as raw bytes
// (slices of the line, or copies when they held escapes) so that the whole endpoint can be
// interned with one lookup once the record is read.
type rawEndpoint struct {
	typ            EndpointType
	name, aggr, ns []byte
	labels         []byte // the labels' JSON text; nil when absent or null
	labelsKind     valueKind
	ip             netip.Addr
}

// span reads a string field as raw bytes; null reads as nil. Escaped strings, rare in flow
// logs, are copied out of the scanner's buffer.
func (p *Parser) span(field string) ([]byte, error) {
	b, ok, err := p.rawStr(field)
	if err != nil || !ok {
		return nil, err
	}
	if p.sc.escaped {
		b = append([]byte(nil), b...)
	}
	return b, nil
}

// labelsRaw checks and captures the labels value: {"labels":["k=v",...]} (Felix), a bare
// ["k=v",...] (Goldmane), null, or "-". Its content is parsed only the first time it is seen.
func (p *Parser) labelsRaw(field string) ([]byte, valueKind, error) {
	at := p.sc.i
	raw, kind, err := p.rawValue(field, kindObject, kindArray, kindString)
	if err != nil || kind == kindNull {
		return nil, kindNull, err
	}
	if kind == kindString {
		if string(raw) == `"-"` || string(raw) == `""` {
			return nil, kindNull, nil
		}
		return nil, kindNull, typeError(field, "object", kindString, at)
	}
	return raw, kind, nil
}

// serviceAccountLabel is the label Calico puts on workload endpoints naming the pod's account.
const serviceAccountLabel = "projectcalico.org/serviceaccount"

func isPlaceholder(b []byte) bool { return len(b) == 1 && b[0] == '-' }

// endpoint folds one side's raw fields into its aggregation identity: the aggregated name
// stands for the workload, "-" placeholders become empty, workload IPs are dropped. Endpoints
// are interned by the text of their namespace, name and labels: a record whose endpoints were
// seen before costs two lookups here instead of one per string and label set, which matters
// because with thousands of workloads each lookup is a cache miss.
func (p *Parser) endpoint(r *rawEndpoint, side, labelsField string) (Endpoint, error) {
	name := r.aggr
	if len(name) == 0 || isPlaceholder(name) {
		name = r.name
		if isPlaceholder(name) {
			name = nil
		}
	}
	ns := r.ns
	if isPlaceholder(ns) {
		ns = nil
	}
	key := append(p.key[:0], byte(r.typ), byte(r.labelsKind))
	key = binary.AppendUvarint(key, uint64(len(ns)))
	key = append(key, ns...)
	key = binary.AppendUvarint(key, uint64(len(name)))
	key = append(key, name...)
	key = append(key, r.labels...)
	p.key = key
	e, ok := p.in.endpoints[string(key)]
	if !ok {
		labels, err := p.labelSet(r.labels, r.labelsKind, labelsField)
		if err != nil {
			return Endpoint{}, err
		}
		e = Endpoint{Type: r.typ, Namespace: p.in.str(ns), Name: p.in.str(name), Labels: labels.labels, ServiceAccount: labels.serviceAccount}
		remember(p.in.endpoints, p.in.limit, key, e)
	}
	if r.typ != TypeWorkload {
		e.IP = r.ip
	}
	if r.typ == TypeNetwork && e.Name == "" && !e.IP.IsValid() {
		return e, &ParseError{Reason: ReasonMissing, Field: side + "_name_aggr", Msg: "network endpoint has neither pub/pvt nor an IP"}
	}
	return e, nil
}

// labelSet interns a label set by its text, parsing it the first time.
func (p *Parser) labelSet(raw []byte, kind valueKind, field string) (labelSet, error) {
	if raw == nil {
		return labelSet{}, nil
	}
	if l, ok := p.in.labels[string(raw)]; ok {
		return l, nil
	}
	l, err := p.parseLabels(raw, kind, field)
	if err != nil {
		return labelSet{}, inField(err, field)
	}
	ls := labelSet{labels: l}
	ls.serviceAccount, _ = l.Get(serviceAccountLabel)
	remember(p.in.labels, p.in.limit, raw, ls)
	return ls, nil
}
