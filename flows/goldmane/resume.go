package goldmane

import (
	"google.golang.org/protobuf/proto"

	pb "github.com/flowguard/flowguard/flows/goldmane/proto"
)

// verdict is what the tracker decides about one flow result.
type verdict uint8

const (
	// deliver: the flow covers time not yet delivered for its key.
	deliver verdict = iota
	// duplicate: every second of it was delivered already (a replayed window).
	duplicate
	// overlap: it starts before and ends after what was delivered for its key, so it cannot be
	// split; it is delivered and counted, since dropping it would lose its newer part.
	overlap
)

// tracker remembers, per flow key, the end of the last window delivered, and decides whether a
// result from List or Stream is new. Goldmane's windows are aligned to its aggregation interval,
// so a window is either entirely delivered or entirely new; overlaps only come from a server whose
// interval changed.
type tracker struct {
	// since: results starting before it were delivered by an earlier client.
	since int64
	// lastEnd maps the deterministic encoding of a FlowKey to the end of its last window.
	lastEnd map[string]int64
	// resume is where the next Stream starts: the start of the newest window streamed. Goldmane
	// streams a window's flows together, so only that window can have been cut off part-way,
	// and asking for it again only replays duplicates.
	resume int64
	// watermark is the newest end time delivered.
	watermark int64

	marshal proto.MarshalOptions
	buf     []byte
}

func newTracker(since int64) *tracker {
	return &tracker{
		since:     since,
		lastEnd:   make(map[string]int64),
		watermark: since,
		marshal:   proto.MarshalOptions{Deterministic: true},
	}
}

// judge decides about f without recording it. The key encoding is kept for record.
func (t *tracker) judge(f *pb.Flow) verdict {
	if f.StartTime < t.since {
		return duplicate
	}
	var err error
	t.buf, err = t.marshal.MarshalAppend(t.buf[:0], f.Key)
	if err != nil {
		// A decoded message always re-encodes; treat the impossible as new data.
		t.buf = t.buf[:0]
		return deliver
	}
	last, ok := t.lastEnd[string(t.buf)]
	switch {
	case !ok || f.StartTime >= last:
		return deliver
	case f.EndTime <= last:
		return duplicate
	default:
		return overlap
	}
}

// record notes that f, last judged, has been delivered (or refused as malformed, which must not
// be counted again when it is replayed).
func (t *tracker) record(f *pb.Flow, streamed bool) {
	if len(t.buf) > 0 {
		if f.EndTime > t.lastEnd[string(t.buf)] {
			t.lastEnd[string(t.buf)] = f.EndTime
		}
	}
	if f.EndTime > t.watermark {
		t.watermark = f.EndTime
	}
	if streamed && f.StartTime > t.resume {
		t.resume = f.StartTime
	}
}

// prune forgets keys whose last window ended before horizon: the server no longer holds anything
// that old, so nothing it sends can repeat them.
func (t *tracker) prune(horizon int64) {
	for k, end := range t.lastEnd {
		if end < horizon {
			delete(t.lastEnd, k)
		}
	}
}
