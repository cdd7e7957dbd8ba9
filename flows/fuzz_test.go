package flows

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// FuzzParseLine checks that no input makes the parser panic, that it accepts only what is valid
// JSON, and that what it accepts is a well-formed Record.
func FuzzParseLine(f *testing.F) {
	files, _ := filepath.Glob("testdata/*/*.jsonl")
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		for _, line := range splitLines(data) {
			f.Add(line)
		}
	}
	f.Add([]byte(`{"Key":{"source_name":"a-*","source_type":1,"dest_name":"b-*","dest_type":1,"proto":"tcp","reporter":2,"action":1},"start_time":1,"end_time":2}`))
	f.Add([]byte(`{"a":"\ud800\udc00\u00e9\\"}`))
	f.Add([]byte(`{"start_time":1e3}`))
	p := NewParser()
	f.Fuzz(func(t *testing.T, line []byte) {
		var r Record
		err := p.ParseLine(line, &r)
		if err != nil {
			if _, ok := parseErrorOf(err); !ok {
				t.Fatalf("error %v is %T, want *ParseError", err, err)
			}
			return
		}
		if !json.Valid(line) {
			t.Fatalf("accepted a line encoding/json rejects: %q", line)
		}
		if r.Action < ActionAllow || r.Action > ActionDeny || r.Reporter < ReporterSrc || r.Reporter > ReporterFwd {
			t.Fatalf("accepted record with action %d reporter %d", r.Action, r.Reporter)
		}
		for _, e := range []Endpoint{r.Src, r.Dst} {
			if e.Type < TypeWorkload || e.Type > TypeNetwork {
				t.Fatalf("accepted endpoint type %d", e.Type)
			}
			for i := 1; i < len(e.Labels); i++ {
				if e.Labels[i-1].Key >= e.Labels[i].Key {
					t.Fatalf("labels not sorted and unique: %v", e.Labels)
				}
			}
		}
		for i := 1; i < len(r.Enforced); i++ {
			if r.Enforced[i-1].Index > r.Enforced[i].Index {
				t.Fatalf("hits not sorted by index: %v", r.Enforced)
			}
		}
		if r.End.Before(r.Start) {
			t.Fatalf("end %v before start %v", r.End, r.Start)
		}
		// Interning must not change what a second parse of the same line yields.
		var again Record
		if err := p.ParseLine(line, &again); err != nil || summaryKey(&again) != summaryKey(&r) {
			t.Fatalf("second parse differs: %v", err)
		}
	})
}

func summaryKey(r *Record) string {
	b, _ := json.Marshal(summarize(r))
	return string(b)
}

func splitLines(data []byte) [][]byte {
	var out [][]byte
	start := 0
	for i, c := range data {
		if c == '\n' {
			out = append(out, data[start:i])
			start = i + 1
		}
	}
	if start < len(data) {
		out = append(out, data[start:])
	}
	return out
}
