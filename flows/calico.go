package flows

import (
	"errors"
	"strings"
	"time"
)

// Parser turns flow records into Records, interning the strings, label sets and policy traces
// they repeat. Records from one Parser share those values: treat their slices as read-only.
// A Parser is not safe for concurrent use; give each goroutine its own.
type Parser struct {
	sc  scanner
	sub scanner
	in  *interner
	ep  [2]rawEndpoint
	// last holds each string field's previous value (see str).
	last [16]string
	key  []byte
}

// NewParser returns a Parser with the default interning limit.
func NewParser() *Parser { return &Parser{in: newInterner(0)} }

// Fields every Calico flow-log record must carry.
const (
	hasStart uint8 = 1 << iota
	hasEnd
	hasSrcType
	hasDstType
	hasProto
	hasAction
	hasReporter
	hasAllRequired = 1<<iota - 1
)

var requiredNames = [...]string{"start_time", "end_time", "source_type", "dest_type", "proto", "action", "reporter"}

// ParseCalico parses one Calico Enterprise / Cloud flow-log line (one JSON object, as Felix writes
// it to flows.log) into rec, overwriting it. It accepts every aggregation level: null IPs and
// ports, "-" for names and namespaces aggregated away, pub/pvt networks. The error, if any, is a
// *ParseError naming the field at fault.
func (p *Parser) ParseCalico(line []byte, rec *Record) error {
	*rec = Record{}
	p.ep = [2]rawEndpoint{}
	s := &p.sc
	s.reset(line)
	if err := s.expect('{'); err != nil {
		return err
	}
	var seen uint8
	for first := true; ; first = false {
		ok, err := s.more(first, '}')
		if err != nil {
			return err
		}
		if !ok {
			break
		}
		k, err := s.key()
		if err != nil {
			return err
		}
		if err := p.calicoField(k, rec, &seen); err != nil {
			return err
		}
	}
	if err := s.end(); err != nil {
		return err
	}
	if seen != hasAllRequired {
		for i, name := range requiredNames {
			if seen&(1<<i) == 0 {
				return &ParseError{Reason: ReasonMissing, Field: name, Msg: "required field is absent"}
			}
		}
	}
	if rec.End.Before(rec.Start) {
		return &ParseError{Reason: ReasonValue, Field: "end_time", Msg: "end_time is before start_time"}
	}
	svc := &rec.DstService
	svc.Namespace, svc.Name, svc.PortName = noPlaceholder(svc.Namespace), noPlaceholder(svc.Name), noPlaceholder(svc.PortName)
	var err error
	if rec.Src, err = p.endpoint(&p.ep[0], "source", "source_labels"); err != nil {
		return err
	}
	rec.Dst, err = p.endpoint(&p.ep[1], "dest", "dest_labels")
	return err
}

// noPlaceholder maps Calico's "-" (none) to the empty string; "*" (several) is kept.
func noPlaceholder(s string) string {
	if s == "-" {
		return ""
	}
	return s
}

// calicoField reads the value of one top-level field. It knows all the fields Felix writes;
// those flowguard does not keep are still type-checked so that a corrupt record is caught.
func (p *Parser) calicoField(k []byte, rec *Record, seen *uint8) error {
	var err error
	switch string(k) {
	case "start_time":
		*seen |= hasStart
		rec.Start, err = p.unixTime("start_time")
	case "end_time":
		*seen |= hasEnd
		rec.End, err = p.unixTime("end_time")
	case "source_type":
		*seen |= hasSrcType
		p.ep[0].typ, err = enumOf(p, "source_type", endpointTypeOf)
	case "dest_type":
		*seen |= hasDstType
		p.ep[1].typ, err = enumOf(p, "dest_type", endpointTypeOf)
	case "source_name":
		p.ep[0].name, err = p.span("source_name")
	case "dest_name":
		p.ep[1].name, err = p.span("dest_name")
	case "source_name_aggr":
		p.ep[0].aggr, err = p.span("source_name_aggr")
	case "dest_name_aggr":
		p.ep[1].aggr, err = p.span("dest_name_aggr")
	case "source_namespace":
		p.ep[0].ns, err = p.span("source_namespace")
	case "dest_namespace":
		p.ep[1].ns, err = p.span("dest_namespace")
	case "source_ip":
		p.ep[0].ip, err = p.ipAddr("source_ip")
	case "dest_ip":
		p.ep[1].ip, err = p.ipAddr("dest_ip")
	case "source_labels":
		p.ep[0].labels, p.ep[0].labelsKind, err = p.labelsRaw("source_labels")
	case "dest_labels":
		p.ep[1].labels, p.ep[1].labelsKind, err = p.labelsRaw("dest_labels")
	case "dest_port":
		rec.DstPort, err = p.port("dest_port")
	case "source_port":
		_, err = p.port("source_port")
	case "proto":
		*seen |= hasProto
		rec.Proto, err = p.proto("proto")
	case "action":
		*seen |= hasAction
		rec.Action, err = enumOf(p, "action", actionOf)
	case "reporter":
		*seen |= hasReporter
		rec.Reporter, err = enumOf(p, "reporter", reporterOf)
	case "policies":
		rec.Enforced, rec.Pending, err = p.calicoPolicies()
	case "bytes_in", "bytes_out":
		err = p.addCounter(k, &rec.Bytes)
	case "packets_in", "packets_out":
		err = p.addCounter(k, &rec.Packets)
	case "num_flows":
		err = p.addCounter(k, &rec.Flows)
	case "num_flows_started":
		err = p.addCounter(k, &rec.FlowsStarted)
	case "num_flows_completed":
		err = p.addCounter(k, &rec.FlowsEnded)
	case "host":
		rec.Host, err = p.str("host")
	case "dest_service_namespace":
		rec.DstService.Namespace, err = p.str("dest_service_namespace")
	case "dest_service_name":
		rec.DstService.Name, err = p.str("dest_service_name")
	case "dest_service_port":
		rec.DstService.PortName, err = p.str("dest_service_port")
	case "dest_service_port_num":
		rec.DstService.Port, err = p.port("dest_service_port_num")
	case "dest_domains":
		rec.DstDomains, err = p.domains()
	case "process_name", "process_id":
		err = p.expectKind(k, kindString)
	case "process_args", "nat_outgoing_ports", "original_source_ips":
		err = p.expectKind(k, kindArray)
	case "num_process_names", "num_process_ids", "num_process_args", "num_original_source_ips",
		"http_requests_allowed_in", "http_requests_denied_in",
		"tcp_mean_send_congestion_window", "tcp_min_send_congestion_window",
		"tcp_mean_smooth_rtt", "tcp_max_smooth_rtt", "tcp_mean_min_rtt", "tcp_max_min_rtt",
		"tcp_mean_mss", "tcp_min_mss", "tcp_total_retransmissions", "tcp_lost_packets", "tcp_unrecovered_to":
		err = p.expectKind(k, kindNumber)
	default:
		// Shippers add their own fields (fluentd's "time", "cluster", ...); they are not ours to judge.
		err = p.sc.skip(0)
	}
	return err
}

func typeError(field string, want string, got valueKind, at int) error {
	return &ParseError{Reason: ReasonType, Field: field, Offset: at, Msg: "want " + want + ", got " + got.String()}
}

func valueError(field, msg string, at int) error {
	return &ParseError{Reason: ReasonValue, Field: field, Offset: at, Msg: msg}
}

// ownField copies the Field of a ParseError made from a view of the read buffer (bstr): the
// caller may keep the error after the buffer holds the next line.
func ownField(err error) error {
	if pe, ok := errors.AsType[*ParseError](err); ok {
		pe.Field = strings.Clone(pe.Field)
	}
	return err
}

// inField names the field in a scanner error that lacks one.
func inField(err error, field string) error {
	if pe, ok := errors.AsType[*ParseError](err); ok && pe.Field == "" {
		pe.Field = field
	}
	return err
}

// expectKind skips a value that must be of kind want, or null.
func (p *Parser) expectKind(field []byte, want valueKind) error {
	s := &p.sc
	if got := s.peek(); got != want && got != kindNull {
		return typeError(string(field), want.String(), got, s.i)
	}
	if err := s.skip(0); err != nil {
		return inField(err, string(field))
	}
	return nil
}

// fieldSlot spreads field names over the last-value slots; sharing a slot only costs a miss.
func fieldSlot(field string) int {
	return (len(field)*7 + int(field[len(field)-1]) + int(field[0])) & 15
}

// str reads an interned string; null reads as "".
func (p *Parser) str(field string) (string, error) {
	s := &p.sc
	switch got := s.peek(); got {
	case kindString:
		b, err := s.str()
		if err != nil {
			return "", inField(err, field)
		}
		// A file comes from one node, and a batch often repeats a namespace or service: the
		// last value of the field is a cheap, cache-hot first guess before the intern table.
		slot := &p.last[fieldSlot(field)]
		if string(b) == *slot {
			return *slot, nil
		}
		*slot = p.in.str(b)
		return *slot, nil
	case kindNull:
		_, _, err := s.literal()
		return "", err
	default:
		return "", typeError(field, "string", got, s.i)
	}
}

// rawStr reads a string without interning; the bytes are valid until the next string is read.
func (p *Parser) rawStr(field string) ([]byte, bool, error) {
	s := &p.sc
	switch got := s.peek(); got {
	case kindString:
		b, err := s.str()
		return b, true, inField(err, field)
	case kindNull:
		_, _, err := s.literal()
		return nil, false, err
	default:
		return nil, false, typeError(field, "string", got, s.i)
	}
}

// uint reads a non-negative integer; null reads as 0.
func (p *Parser) uint(field string) (uint64, error) {
	s := &p.sc
	switch got := s.peek(); got {
	case kindNumber:
		at := s.i
		b, err := s.number()
		if err != nil {
			return 0, inField(err, field)
		}
		n, ok := parseUint(b)
		if !ok {
			return 0, valueError(field, "not a non-negative integer: "+string(b), at)
		}
		return n, nil
	case kindNull:
		_, _, err := s.literal()
		return 0, err
	default:
		return 0, typeError(field, "number", got, s.i)
	}
}

func (p *Parser) addCounter(field []byte, dst *uint64) error {
	n, err := p.uint(bstr(field))
	*dst += n
	return ownField(err)
}

func (p *Parser) port(field string) (uint16, error) {
	at := p.sc.i
	n, err := p.uint(field)
	if err == nil && n > 65535 {
		return 0, valueError(field, "port out of range", at)
	}
	return uint16(n), err
}

// unixTime reads seconds since the epoch (Felix's form), or an RFC 3339 string (the form records
// take after a round trip through Elasticsearch).
func (p *Parser) unixTime(field string) (time.Time, error) {
	s := &p.sc
	if s.peek() == kindString {
		at := s.i
		b, _, err := p.rawStr(field)
		if err != nil {
			return time.Time{}, err
		}
		t, perr := time.Parse(time.RFC3339, string(b))
		if perr != nil {
			return time.Time{}, valueError(field, "not a Unix time or RFC 3339 time: "+perr.Error(), at)
		}
		return t, nil
	}
	at := s.i
	n, err := p.uint(field)
	if err != nil {
		return time.Time{}, err
	}
	if n > 1<<33 {
		return time.Time{}, valueError(field, "time out of range", at)
	}
	return time.Unix(int64(n), 0), nil
}

// enumOf reads a string field that must hold one of an enum's names.
func enumOf[T any](p *Parser, field string, of func([]byte) (T, bool)) (T, error) {
	var zero T
	at := p.sc.i
	b, ok, err := p.rawStr(field)
	if err != nil {
		return zero, err
	}
	if !ok {
		return zero, &ParseError{Reason: ReasonMissing, Field: field, Offset: at, Msg: "is null"}
	}
	v, ok := of(b)
	if !ok {
		return zero, valueError(field, "unknown value "+quoteShort(b), at)
	}
	return v, nil
}
