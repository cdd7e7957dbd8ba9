package flows

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"maps"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// collect reads paths and returns the tally and the records' start times in reading order.
func collect(t *testing.T, r *Reader, paths ...string) (TallyReport, []int64) {
	t.Helper()
	var starts []int64
	err := r.ReadPaths(context.Background(), paths, func(rec *Record) error {
		starts = append(starts, rec.Start.Unix())
		return nil
	})
	if err != nil {
		t.Fatalf("ReadPaths: %v", err)
	}
	return r.Tally.Report(), starts
}

// countingObserver records what a Reader reports to its Observer.
type countingObserver struct {
	accepted  int
	malformed map[Reason]int
}

func (o *countingObserver) ObserveAccepted(n int) { o.accepted += n }
func (o *countingObserver) ObserveMalformed(r Reason) {
	if o.malformed == nil {
		o.malformed = map[Reason]int{}
	}
	o.malformed[r]++
}

func TestReadMalformedCorpusKeepsEveryGoodRecord(t *testing.T) {
	obs := &countingObserver{}
	r := NewReader(&Tally{})
	r.Observer = obs
	rep, _ := collect(t, r, "testdata/malformed/mixed.jsonl")
	wantObserved := map[Reason]int{ReasonValue: 2, ReasonBinary: 1, ReasonMissing: 1, ReasonSyntax: 2, ReasonType: 1}
	if obs.accepted != 5 || !maps.Equal(obs.malformed, wantObserved) {
		t.Errorf("observer saw %d accepted and %v, want 5 and %v", obs.accepted, obs.malformed, wantObserved)
	}
	f := "testdata/malformed/mixed.jsonl:"
	want := TallyReport{
		Records: 5, // lines 1, 3, 7, 11 and 13, the last, which has no newline
		Malformed: []MalformedCount{
			{Reason: ReasonValue, Count: 2, First: []string{f + "5", f + "12"}},
			{Reason: ReasonBinary, Count: 1, First: []string{f + "8"}},
			{Reason: ReasonMissing, Count: 1, First: []string{f + "9"}},
			{Reason: ReasonSyntax, Count: 2, First: []string{f + "2", f + "10"}},
			{Reason: ReasonType, Count: 1, First: []string{f + "4"}},
		},
	}
	if diff := cmp.Diff(want, rep); diff != "" {
		t.Errorf("tally (-want +got):\n%s", diff)
	}
}

// gzipLines compresses lines, flushing after each, and returns the compressed offset at which
// each line's data is complete.
func gzipLines(t *testing.T, lines [][]byte) ([]byte, []int) {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	var ends []int
	for _, l := range lines {
		if _, err := zw.Write(l); err != nil {
			t.Fatal(err)
		}
		if _, err := zw.Write([]byte("\n")); err != nil {
			t.Fatal(err)
		}
		if err := zw.Flush(); err != nil {
			t.Fatal(err)
		}
		ends = append(ends, buf.Len())
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes(), ends
}

func TestReadGzip(t *testing.T) {
	lines := readLines(t, "testdata/calico/level2.jsonl")
	full, ends := gzipLines(t, lines)
	corrupt := append([]byte(nil), full...)
	corrupt[len(corrupt)-6] ^= 0xff // the CRC-32 in the trailer
	tests := map[string]struct {
		data        []byte
		wantRecords uint64
		wantReason  Reason
		wantAt      string
	}{
		"a whole file":                             {data: full, wantRecords: uint64(len(lines))},
		"cut inside the fourth record":             {data: full[:ends[2]+5], wantRecords: 3, wantReason: ReasonTruncated, wantAt: "f.gz:4"},
		"cut right after the sixth record":         {data: full[:ends[5]], wantRecords: 6, wantReason: ReasonTruncated, wantAt: "f.gz:7"},
		"cut inside the header":                    {data: full[:5], wantRecords: 0, wantReason: ReasonCorrupt, wantAt: "f.gz:1"},
		"a trailer whose checksum is wrong":        {data: corrupt, wantRecords: uint64(len(lines)), wantReason: ReasonCorrupt, wantAt: "f.gz:10"},
		"two gzip members, as logrotate can leave": {data: append(append([]byte(nil), full...), full...), wantRecords: 2 * uint64(len(lines))},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			tally := &Tally{}
			err := NewReader(tally).ReadStream(context.Background(), "f.gz", bytes.NewReader(tc.data), func(*Record) error { return nil })
			if err != nil {
				t.Fatalf("ReadStream: %v", err)
			}
			rep := tally.Report()
			if rep.Records != tc.wantRecords {
				t.Errorf("records = %d, want %d", rep.Records, tc.wantRecords)
			}
			if tc.wantReason == "" {
				if len(rep.Malformed) != 0 {
					t.Errorf("malformed = %+v, want none", rep.Malformed)
				}
				return
			}
			if len(rep.Malformed) != 1 || rep.Malformed[0].Reason != tc.wantReason || rep.Malformed[0].Count != 1 ||
				rep.Malformed[0].First[0] != tc.wantAt {
				t.Errorf("malformed = %+v, want one %s at %s", rep.Malformed, tc.wantReason, tc.wantAt)
			}
		})
	}
}

func TestReadLongLinesAndGarbage(t *testing.T) {
	good := readLines(t, "testdata/calico/level1.jsonl")[0]
	huge := append([]byte(`{"start_time":1,"x":"`), bytes.Repeat([]byte("a"), 10_000)...)
	garbage := []byte{0x7f, 'E', 'L', 'F', 0, 0, 1, 0xfe, 0xba, 0xbe, 0x00}
	var in bytes.Buffer
	for _, l := range [][]byte{good, huge, good, garbage, good, huge} {
		in.Write(l)
		in.WriteByte('\n')
	}
	in.Write(huge) // an over-long last line without a newline
	tally := &Tally{}
	r := NewReader(tally)
	r.MaxLineBytes = 4096
	if err := r.ReadStream(context.Background(), "big", &in, func(*Record) error { return nil }); err != nil {
		t.Fatal(err)
	}
	want := TallyReport{Records: 3, Malformed: []MalformedCount{
		{Reason: ReasonBinary, Count: 1, First: []string{"big:4"}},
		{Reason: ReasonTooLong, Count: 3, First: []string{"big:2", "big:6", "big:7"}},
	}}
	if diff := cmp.Diff(want, tally.Report()); diff != "" {
		t.Errorf("tally (-want +got):\n%s", diff)
	}
}

func TestReadDirRotatedOldestFirst(t *testing.T) {
	dir := t.TempDir()
	line := string(readLines(t, "testdata/calico/level2.jsonl")[0])
	at := func(start int) string {
		return strings.Replace(strings.Replace(line, "1718000100", strconv.Itoa(start), 1), "1718000400", strconv.Itoa(start+300), 1) + "\n"
	}
	write := func(name, content string, gz bool) {
		data := []byte(content)
		if gz {
			data = gzipped(t, data)
		}
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("flows.log", at(4000), false)
	write("flows.log.1", at(3000), false)
	write("flows.log.2.gz", at(2000), true)
	write("flows.log.10.gz", at(1000), true)
	write(".flows.log.swp", "not a flow log", false)
	write("node-b/flows.log", at(6000), false)
	write("node-b/flows.log.1", at(5000), false)

	rep, starts := collect(t, NewReader(&Tally{}), dir)
	if rep.MalformedTotal() != 0 {
		t.Errorf("malformed = %+v", rep.Malformed)
	}
	if diff := cmp.Diff([]int64{1000, 2000, 3000, 4000, 5000, 6000}, starts); diff != "" {
		t.Errorf("reading order (-want +got):\n%s", diff)
	}
}

func TestSortRotated(t *testing.T) {
	got := []string{"a/flows.log", "a/flows.log.1", "a/dns.log", "a/flows.log.12.gz", "a/flows.log.2", "a/dns.log.1"}
	SortRotated(got)
	want := []string{"a/dns.log.1", "a/dns.log", "a/flows.log.12.gz", "a/flows.log.2", "a/flows.log.1", "a/flows.log"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestReadStopsWhenTheCallbackFails(t *testing.T) {
	stop := errors.New("the callback has seen enough")
	n := 0
	err := NewReader(&Tally{}).ReadFile(context.Background(), "testdata/calico/level0.jsonl", func(*Record) error {
		n++
		if n == 2 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || n != 2 {
		t.Errorf("err = %v after %d records, want %v after 2", err, n, stop)
	}
}
