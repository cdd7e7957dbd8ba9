package goldmane

import (
	"testing"

	pb "github.com/flowguard/flowguard/flows/goldmane/proto"
)

// The rules by which a flow result is new, a replay, or a window that straddles what was
// delivered. Each case starts from a tracker that has delivered key "a" up to 1030 (from Since
// 1000) and judges one more result.
func TestTrackerJudgesWindowsPerKey(t *testing.T) {
	key := func(name string) *pb.FlowKey { return &pb.FlowKey{SourceName: name, Proto: "tcp"} }
	cases := map[string]struct {
		key        string
		start, end int64
		want       verdict
	}{
		"the next window of the key":                    {key: "a", start: 1030, end: 1045, want: deliver},
		"a later window, after a gap":                   {key: "a", start: 1090, end: 1105, want: deliver},
		"the last window again (a replay)":              {key: "a", start: 1015, end: 1030, want: duplicate},
		"an older window":                               {key: "a", start: 1000, end: 1015, want: duplicate},
		"an aggregate over delivered windows":           {key: "a", start: 1000, end: 1030, want: duplicate},
		"a window straddling the last delivered end":    {key: "a", start: 1020, end: 1040, want: overlap},
		"another key in a delivered window":             {key: "b", start: 1015, end: 1030, want: deliver},
		"a window starting before what Since excludes":  {key: "b", start: 985, end: 1000, want: duplicate},
		"a window of another key starting at the Since": {key: "b", start: 1000, end: 1015, want: deliver},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			tr := newTracker(1000)
			for _, w := range [][2]int64{{1000, 1015}, {1015, 1030}} {
				f := &pb.Flow{Key: key("a"), StartTime: w[0], EndTime: w[1]}
				if v := tr.judge(f); v != deliver {
					t.Fatalf("setup window %v judged %v", w, v)
				}
				tr.record(f, true)
			}
			if got := tr.judge(&pb.Flow{Key: key(tc.key), StartTime: tc.start, EndTime: tc.end}); got != tc.want {
				t.Errorf("judge = %v, want %v", got, tc.want)
			}
			if tr.resume != 1015 || tr.watermark != 1030 {
				t.Errorf("resume %d watermark %d, want 1015 and 1030", tr.resume, tr.watermark)
			}
		})
	}
}

func TestTrackerForgetsKeysOlderThanTheHorizon(t *testing.T) {
	tr := newTracker(0)
	for i, name := range []string{"old", "new"} {
		f := &pb.Flow{Key: &pb.FlowKey{SourceName: name}, StartTime: int64(1000 + 100*i), EndTime: int64(1015 + 100*i)}
		tr.judge(f)
		tr.record(f, false)
	}
	tr.prune(1100)
	if len(tr.lastEnd) != 1 {
		t.Fatalf("%d keys kept, want only the one ending after the horizon", len(tr.lastEnd))
	}
	if v := tr.judge(&pb.Flow{Key: &pb.FlowKey{SourceName: "new"}, StartTime: 1100, EndTime: 1115}); v != duplicate {
		t.Errorf("the kept key's window judged %v, want a duplicate", v)
	}
}
