package flows

import (
	"os"
	"strings"
	"testing"
)

// goodLine is a minimal valid level-2 record; cases below break one thing in it.
const goodLine = `{"start_time":1718000100,"end_time":1718000400,"source_name":"-","source_name_aggr":"frontend-*","source_namespace":"shop","source_type":"wep","source_labels":{"labels":["app=frontend"]},"dest_name":"-","dest_name_aggr":"api-*","dest_namespace":"shop","dest_type":"wep","dest_port":8080,"proto":"tcp","action":"allow","reporter":"dst","policies":{"enforced_policies":["0|default|np:shop/allow|allow|0"]},"bytes_in":1,"bytes_out":2,"num_flows":1}`

// parseErrorOf returns err as the *ParseError the parsers promise. It asserts the type rather
// than unwrapping, so that a parser which starts wrapping its error breaks that promise here.
func parseErrorOf(err error) (*ParseError, bool) {
	pe, ok := err.(*ParseError) //nolint:errorlint // the parsers document their error as a *ParseError itself, not one wrapping it
	return pe, ok
}

func TestParseCalicoRefuses(t *testing.T) {
	tests := map[string]struct {
		line      string
		reason    Reason
		field     string
		errSubstr string
	}{
		"not JSON":                         {line: `start_time=1 action=allow`, reason: ReasonSyntax},
		"cut short inside a string":        {line: goodLine[:120], reason: ReasonSyntax, field: "source_namespace", errSubstr: "unterminated string"},
		"cut short after a value":          {line: strings.TrimSuffix(goodLine, "}"), reason: ReasonSyntax},
		"two records on one line":          {line: goodLine + goodLine, reason: ReasonSyntax, errSubstr: "data after the record"},
		"a JSON array, not an object":      {line: `[` + goodLine + `]`, reason: ReasonSyntax},
		"a control byte inside a name":     {line: strings.Replace(goodLine, `frontend-*`, "front\x00end-*", 1), reason: ReasonBinary, field: "source_name_aggr"},
		"invalid UTF-8 inside a name":      {line: strings.Replace(goodLine, `frontend-*`, "front\xffend-*", 1), reason: ReasonBinary, field: "source_name_aggr"},
		"a port written as a string":       {line: strings.Replace(goodLine, `"dest_port":8080`, `"dest_port":"8080"`, 1), reason: ReasonType, field: "dest_port", errSubstr: "want number, got string"},
		"a port out of range":              {line: strings.Replace(goodLine, `"dest_port":8080`, `"dest_port":70000`, 1), reason: ReasonValue, field: "dest_port"},
		"a negative byte count":            {line: strings.Replace(goodLine, `"bytes_in":1`, `"bytes_in":-1`, 1), reason: ReasonValue, field: "bytes_in"},
		"labels as a number":               {line: strings.Replace(goodLine, `{"labels":["app=frontend"]}`, `7`, 1), reason: ReasonType, field: "source_labels"},
		"a label without '='":              {line: strings.Replace(goodLine, `"app=frontend"`, `"frontend"`, 1), reason: ReasonValue, field: "source_labels.labels[0]"},
		"an unknown action":                {line: strings.Replace(goodLine, `"action":"allow"`, `"action":"permit"`, 1), reason: ReasonValue, field: "action", errSubstr: `"permit"`},
		"an unknown reporter":              {line: strings.Replace(goodLine, `"reporter":"dst"`, `"reporter":"both"`, 1), reason: ReasonValue, field: "reporter"},
		"an unknown endpoint type":         {line: strings.Replace(goodLine, `"source_type":"wep"`, `"source_type":"vm"`, 1), reason: ReasonValue, field: "source_type"},
		"an unknown protocol":              {line: strings.Replace(goodLine, `"proto":"tcp"`, `"proto":"quic"`, 1), reason: ReasonValue, field: "proto"},
		"an IP that is not one":            {line: strings.Replace(goodLine, `"dest_port"`, `"dest_ip":"10.0.0.300","dest_port"`, 1), reason: ReasonValue, field: "dest_ip"},
		"a policy hit that does not parse": {line: strings.Replace(goodLine, `0|default|np:shop/allow|allow|0`, `0|default|np:shop/allow|maybe|0`, 1), reason: ReasonValue, field: "policies.enforced_policies[0]"},
		"policies as an array":             {line: strings.Replace(goodLine, `{"enforced_policies":["0|default|np:shop/allow|allow|0"]}`, `["x"]`, 1), reason: ReasonType, field: "policies"},
		"no action":                        {line: strings.Replace(goodLine, `"action":"allow",`, ``, 1), reason: ReasonMissing, field: "action"},
		"a null action":                    {line: strings.Replace(goodLine, `"action":"allow"`, `"action":null`, 1), reason: ReasonMissing, field: "action"},
		"no end time":                      {line: strings.Replace(goodLine, `"end_time":1718000400,`, ``, 1), reason: ReasonMissing, field: "end_time"},
		"end before start":                 {line: strings.Replace(goodLine, `"end_time":1718000400`, `"end_time":1718000000`, 1), reason: ReasonValue, field: "end_time"},
		"process_args as a string":         {line: strings.Replace(goodLine, `"num_flows":1`, `"num_flows":1,"process_args":"-"`, 1), reason: ReasonType, field: "process_args"},
		"deeply nested unknown field":      {line: strings.Replace(goodLine, `"num_flows":1`, `"num_flows":1,"x":`+strings.Repeat("[", 100)+strings.Repeat("]", 100), 1), reason: ReasonSyntax, errSubstr: "nesting too deep"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			var r Record
			err := NewParser().ParseCalico([]byte(tc.line), &r)
			if err == nil {
				t.Fatalf("ParseCalico succeeded, want a %s error", tc.reason)
			}
			pe, ok := parseErrorOf(err)
			if !ok {
				t.Fatalf("error %v is %T, want *ParseError", err, err)
			}
			if pe.Reason != tc.reason || pe.Field != tc.field {
				t.Errorf("got reason %q field %q (%v), want reason %q field %q", pe.Reason, pe.Field, err, tc.reason, tc.field)
			}
			if !strings.Contains(err.Error(), tc.errSubstr) {
				t.Errorf("error %q does not mention %q", err, tc.errSubstr)
			}
		})
	}
}

func TestParseCalicoAccepts(t *testing.T) {
	tests := map[string]struct {
		line  string
		check func(t *testing.T, r *Record)
	}{
		"fields a shipper adds are ignored": {
			line: strings.Replace(goodLine, `{"start_time"`, `{"@timestamp":"2024-06-10T06:20:00Z","kubernetes":{"host":"n1"},"start_time"`, 1),
			check: func(t *testing.T, r *Record) {
				if r.Dst.Name != "api-*" {
					t.Errorf("Dst.Name = %q", r.Dst.Name)
				}
			},
		},
		"escaped strings are decoded": {
			line: strings.Replace(goodLine, `"app=frontend"`, `"app=front\u0065nd\/x"`, 1),
			check: func(t *testing.T, r *Record) {
				if v, _ := r.Src.Labels.Get("app"); v != "frontend/x" {
					t.Errorf("label app = %q, want frontend/x", v)
				}
			},
		},
		"a protocol given as a number": {
			line: strings.Replace(goodLine, `"proto":"tcp"`, `"proto":47`, 1),
			check: func(t *testing.T, r *Record) {
				if r.Proto != 47 {
					t.Errorf("Proto = %d, want 47", r.Proto)
				}
			},
		},
		"a protocol given as a numeric string": {
			line: strings.Replace(goodLine, `"proto":"tcp"`, `"proto":"132"`, 1),
			check: func(t *testing.T, r *Record) {
				if r.Proto != ProtoSCTP {
					t.Errorf("Proto = %d, want SCTP", r.Proto)
				}
			},
		},
		"times as RFC 3339 strings, as they come back from Elasticsearch": {
			line: strings.Replace(strings.Replace(goodLine, `1718000100`, `"2024-06-10T06:15:00Z"`, 1), `1718000400`, `"2024-06-10T06:20:00Z"`, 1),
			check: func(t *testing.T, r *Record) {
				if r.End.Unix() != 1718000400 {
					t.Errorf("End = %v", r.End)
				}
			},
		},
		"older records carry only all_policies": {
			line: strings.Replace(goodLine, `"enforced_policies"`, `"all_policies"`, 1),
			check: func(t *testing.T, r *Record) {
				if len(r.Enforced) != 1 || r.Enforced[0].Name != "allow" {
					t.Errorf("Enforced = %+v", r.Enforced)
				}
			},
		},
		"repeated label keys keep the last value": {
			line: strings.Replace(goodLine, `["app=frontend"]`, `["app=a","tier=web","app=b"]`, 1),
			check: func(t *testing.T, r *Record) {
				if got := r.Src.Labels.String(); got != "app=b,tier=web" {
					t.Errorf("labels = %q", got)
				}
			},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			var r Record
			if err := NewParser().ParseCalico([]byte(tc.line), &r); err != nil {
				t.Fatal(err)
			}
			tc.check(t, &r)
		})
	}
}

func TestParserInternsRepeatedValues(t *testing.T) {
	p := NewParser()
	var a, b Record
	if err := p.ParseCalico([]byte(goodLine), &a); err != nil {
		t.Fatal(err)
	}
	if err := p.ParseCalico([]byte(goodLine), &b); err != nil {
		t.Fatal(err)
	}
	if &a.Src.Labels[0] != &b.Src.Labels[0] {
		t.Error("the same label set parsed twice is not shared")
	}
	if &a.Enforced[0] != &b.Enforced[0] {
		t.Error("the same policy trace parsed twice is not shared")
	}
	line := []byte(goodLine)
	allocs := testing.AllocsPerRun(100, func() { _ = p.ParseCalico(line, &a) })
	if allocs != 0 {
		t.Errorf("parsing a record seen before allocates %v times, want 0", allocs)
	}
}

// A kept error names its field after the read buffer holds the next line: the parsers view
// field names in the buffer while they read, and must copy the one an error keeps.
func TestParseErrorKeepsItsFieldAcrossBufferReuse(t *testing.T) {
	gold, err := os.ReadFile("testdata/goldmane/emitter.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	goldmaneLine, _, _ := strings.Cut(string(gold), "\n")
	tests := map[string]struct {
		line  string
		parse func(*Parser, []byte, *Record) error
		field string
	}{
		"Calico flow log": {line: strings.Replace(goodLine, `"bytes_out":2`, `"bytes_out":-2`, 1),
			parse: (*Parser).ParseCalico, field: "bytes_out"},
		"Goldmane JSON": {line: strings.Replace(goldmaneLine, `"packets_out":41`, `"packets_out":"many"`, 1),
			parse: (*Parser).ParseGoldmane, field: "packets_out"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			var rec Record
			buf := []byte(tc.line)
			err := tc.parse(NewParser(), buf, &rec)
			pe, ok := parseErrorOf(err)
			if !ok || pe.Field != tc.field {
				t.Fatalf("error = %v, want one about %s", err, tc.field)
			}
			for i := range buf {
				buf[i] = 'x' // the reader's next line
			}
			if pe.Field != tc.field {
				t.Errorf("kept error's field = %q after the buffer was reused, want %q", pe.Field, tc.field)
			}
		})
	}
}
