package flows

import (
	"time"
)

// ParseLine parses one line of either shape flowguard ingests: a Goldmane Flow (a JSON object
// whose first key is "Key" or "key") or a Calico flow-log record.
func (p *Parser) ParseLine(line []byte, rec *Record) error {
	if isGoldmaneShape(line) {
		return p.ParseGoldmane(line, rec)
	}
	return p.ParseCalico(line, rec)
}

// isGoldmaneShape reports whether the object's first key is Goldmane's "Key". encoding/json and
// protojson both write a message's fields in declaration order, and Key is field 1.
func isGoldmaneShape(line []byte) bool {
	i := 0
	skipWS := func() {
		for i < len(line) && (line[i] == ' ' || line[i] == '\t' || line[i] == '\r' || line[i] == '\n') {
			i++
		}
	}
	skipWS()
	if i >= len(line) || line[i] != '{' {
		return false
	}
	i++
	skipWS()
	rest := line[i:]
	return len(rest) >= 5 && (string(rest[:5]) == `"Key"` || string(rest[:5]) == `"key"`)
}

// Goldmane flow fields every record must carry.
const (
	gmHasKey uint8 = 1 << iota
	gmHasSrcType
	gmHasDstType
	gmHasProto
	gmHasAction
	gmHasReporter
	gmHasAllRequired = 1<<iota - 1
)

var gmRequiredNames = [...]string{"Key", "Key.source_type", "Key.dest_type", "Key.proto", "Key.action", "Key.reporter"}

// ParseGoldmane parses one Goldmane Flow as JSON into rec: the shape Goldmane's emitter POSTs
// (encoding/json over the generated Go struct: "Key", snake_case fields, enums as numbers,
// zero values omitted). The protojson shape (camelCase, enum names, int64 as strings) is also
// accepted. Endpoint names in Goldmane are already aggregated names.
func (p *Parser) ParseGoldmane(line []byte, rec *Record) error {
	*rec = Record{}
	p.ep = [2]rawEndpoint{}
	s := &p.sc
	s.reset(line)
	if err := s.expect('{'); err != nil {
		return err
	}
	var seen uint8
	var live, completed uint64
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
		switch string(k) {
		case "Key", "key":
			seen |= gmHasKey
			err = p.goldmaneKey(rec, &seen)
		case "start_time", "startTime":
			rec.Start, err = p.gmTime("start_time")
		case "end_time", "endTime":
			rec.End, err = p.gmTime("end_time")
		case "source_labels", "sourceLabels":
			p.ep[0].labels, p.ep[0].labelsKind, err = p.labelsRaw("source_labels")
		case "dest_labels", "destLabels":
			p.ep[1].labels, p.ep[1].labelsKind, err = p.labelsRaw("dest_labels")
		case "packets_in", "packetsIn", "packets_out", "packetsOut":
			err = p.gmCounter(k, &rec.Packets)
		case "bytes_in", "bytesIn", "bytes_out", "bytesOut":
			err = p.gmCounter(k, &rec.Bytes)
		case "num_connections_started", "numConnectionsStarted":
			err = p.gmCounter(k, &rec.FlowsStarted)
		case "num_connections_completed", "numConnectionsCompleted":
			err = p.gmCounter(k, &completed)
		case "num_connections_live", "numConnectionsLive":
			err = p.gmCounter(k, &live)
		default:
			err = s.skip(0)
		}
		if err != nil {
			return err
		}
	}
	if err := s.end(); err != nil {
		return err
	}
	if seen != gmHasAllRequired {
		for i, name := range gmRequiredNames {
			if seen&(1<<i) == 0 {
				return &ParseError{Reason: ReasonMissing, Field: name, Msg: "required field is absent"}
			}
		}
	}
	if rec.End.IsZero() {
		rec.End = rec.Start
	}
	if rec.End.Before(rec.Start) {
		return &ParseError{Reason: ReasonValue, Field: "end_time", Msg: "end_time is before start_time"}
	}
	rec.FlowsEnded = completed
	// Connections active in the interval either completed in it or were live at its end; that
	// is what Calico's num_flows counts, so edges from both sources add up alike.
	rec.Flows = live + completed
	if rec.Flows == 0 {
		rec.Flows = max(rec.FlowsStarted, 1)
	}
	var err error
	if rec.Src, err = p.endpoint(&p.ep[0], "Key.source", "source_labels"); err != nil {
		return err
	}
	rec.Dst, err = p.endpoint(&p.ep[1], "Key.dest", "dest_labels")
	return err
}

func (p *Parser) goldmaneKey(rec *Record, seen *uint8) error {
	s := &p.sc
	if got := s.peek(); got != kindObject {
		return typeError("Key", "object", got, s.i)
	}
	s.i++
	for first := true; ; first = false {
		ok, err := s.more(first, '}')
		if err != nil || !ok {
			return inField(err, "Key")
		}
		k, err := s.key()
		if err != nil {
			return inField(err, "Key")
		}
		switch string(k) {
		case "source_name", "sourceName":
			p.ep[0].aggr, err = p.span("Key.source_name")
		case "source_namespace", "sourceNamespace":
			p.ep[0].ns, err = p.span("Key.source_namespace")
		case "source_type", "sourceType":
			*seen |= gmHasSrcType
			p.ep[0].typ, err = gmEnum(p, "Key.source_type", gmEndpointTypes)
		case "dest_name", "destName":
			p.ep[1].aggr, err = p.span("Key.dest_name")
		case "dest_namespace", "destNamespace":
			p.ep[1].ns, err = p.span("Key.dest_namespace")
		case "dest_type", "destType":
			*seen |= gmHasDstType
			p.ep[1].typ, err = gmEnum(p, "Key.dest_type", gmEndpointTypes)
		case "dest_port", "destPort":
			var n uint64
			if n, err = p.gmUint("Key.dest_port"); err == nil && n > 65535 {
				err = valueError("Key.dest_port", "port out of range", s.i)
			}
			rec.DstPort = uint16(n)
		case "dest_service_name", "destServiceName":
			rec.DstService.Name, err = p.str("Key.dest_service_name")
		case "dest_service_namespace", "destServiceNamespace":
			rec.DstService.Namespace, err = p.str("Key.dest_service_namespace")
		case "dest_service_port_name", "destServicePortName":
			rec.DstService.PortName, err = p.str("Key.dest_service_port_name")
		case "dest_service_port", "destServicePort":
			var n uint64
			if n, err = p.gmUint("Key.dest_service_port"); err == nil && n > 65535 {
				err = valueError("Key.dest_service_port", "port out of range", s.i)
			}
			rec.DstService.Port = uint16(n)
		case "proto":
			*seen |= gmHasProto
			rec.Proto, err = p.proto("Key.proto")
		case "reporter":
			*seen |= gmHasReporter
			rec.Reporter, err = gmEnum(p, "Key.reporter", gmReporters)
		case "action":
			*seen |= gmHasAction
			rec.Action, err = gmEnum(p, "Key.action", gmActions)
		case "policies":
			rec.Enforced, rec.Pending, err = p.goldmanePolicies()
		default:
			err = s.skip(0)
		}
		if err != nil {
			return err
		}
	}
}

// gmUint reads an integer written as a number (encoding/json) or a decimal string (protojson's
// int64); null reads as 0.
func (p *Parser) gmUint(field string) (uint64, error) {
	s := &p.sc
	if s.peek() != kindString {
		return p.uint(field)
	}
	at := s.i
	b, _, err := p.rawStr(field)
	if err != nil {
		return 0, err
	}
	n, ok := parseUint(b)
	if !ok {
		return 0, valueError(field, "not a non-negative integer: "+quoteShort(b), at)
	}
	return n, nil
}

func (p *Parser) gmInt(field string) (int64, error) {
	s := &p.sc
	at := s.i
	var b []byte
	var err error
	switch got := s.peek(); got {
	case kindNumber:
		b, err = s.number()
	case kindString:
		b, _, err = p.rawStr(field)
	case kindNull:
		_, _, err = s.literal()
		return 0, err
	default:
		return 0, typeError(field, "number", got, at)
	}
	if err != nil {
		return 0, inField(err, field)
	}
	n, ok := parseInt(b)
	if !ok {
		return 0, valueError(field, "not an integer: "+quoteShort(b), at)
	}
	return n, nil
}

func (p *Parser) gmCounter(field []byte, dst *uint64) error {
	n, err := p.gmUint(bstr(field))
	*dst += n
	return ownField(err)
}

func (p *Parser) gmTime(field string) (time.Time, error) {
	at := p.sc.i
	n, err := p.gmUint(field)
	if err != nil {
		return time.Time{}, err
	}
	if n > 1<<33 {
		return time.Time{}, valueError(field, "time out of range", at)
	}
	return time.Unix(int64(n), 0), nil
}

// gmEnumValue is one value of a Goldmane enum: its proto number and name.
type gmEnumValue[T any] struct {
	num  int64
	name string
	val  T
}

var (
	gmEndpointTypes = []gmEnumValue[EndpointType]{
		{1, "WorkloadEndpoint", TypeWorkload}, {2, "HostEndpoint", TypeHost}, {3, "NetworkSet", TypeNetworkSet}, {4, "Network", TypeNetwork},
	}
	gmActions    = []gmEnumValue[Action]{{1, "Allow", ActionAllow}, {2, "Deny", ActionDeny}}
	gmReporters  = []gmEnumValue[Reporter]{{1, "Src", ReporterSrc}, {2, "Dst", ReporterDst}}
	gmHitActions = []gmEnumValue[string]{{1, "Allow", HitAllow}, {2, "Deny", HitDeny}, {3, "Pass", HitPass}}
	// gmKindEndOfTier is the kind of a tier's default action; the hit's trigger names the policy.
	gmKinds = []gmEnumValue[string]{
		{1, "CalicoNetworkPolicy", KindNetworkPolicy}, {2, "GlobalNetworkPolicy", KindGlobalNetworkPolicy},
		{3, "StagedNetworkPolicy", KindStagedNetworkPolicy}, {4, "StagedGlobalNetworkPolicy", KindStagedGlobalNetworkPolicy},
		{5, "StagedKubernetesNetworkPolicy", KindStagedKubernetesNetworkPolicy}, {6, "NetworkPolicy", KindKubernetesNetworkPolicy},
		// 7 and 8 were AdminNetworkPolicy and BaselineAdminNetworkPolicy in 3.30, then renamed.
		{7, "AdminNetworkPolicy", KindAdminNetworkPolicy}, {7, "ClusterNetworkPolicyAdminTier", KindAdminNetworkPolicy},
		{8, "BaselineAdminNetworkPolicy", KindBaselineAdminNetworkPolicy}, {8, "ClusterNetworkPolicyBaselineTier", KindBaselineAdminNetworkPolicy},
		{9, "Profile", KindProfile}, {10, "EndOfTier", gmKindEndOfTier}, {11, "ClusterNetworkPolicy", KindClusterNetworkPolicy},
	}
)

const gmKindEndOfTier = "end-of-tier"

// gmEnum reads an enum given as its number (encoding/json) or its name (protojson).
func gmEnum[T any](p *Parser, field string, values []gmEnumValue[T]) (T, error) {
	var zero T
	s := &p.sc
	at := s.i
	switch got := s.peek(); got {
	case kindNumber:
		n, err := p.gmInt(field)
		if err != nil {
			return zero, err
		}
		for _, v := range values {
			if v.num == n {
				return v.val, nil
			}
		}
		return zero, valueError(field, "unknown enum number", at)
	case kindString:
		b, _, err := p.rawStr(field)
		if err != nil {
			return zero, err
		}
		for _, v := range values {
			if string(b) == v.name {
				return v.val, nil
			}
		}
		return zero, valueError(field, "unknown enum name "+quoteShort(b), at)
	case kindNull:
		_, _, err := s.literal()
		if err != nil {
			return zero, err
		}
		return zero, &ParseError{Reason: ReasonMissing, Field: field, Offset: at, Msg: "is null"}
	default:
		return zero, typeError(field, "number", got, at)
	}
}
