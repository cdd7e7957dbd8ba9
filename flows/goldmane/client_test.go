package goldmane_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"k8s.io/apimachinery/pkg/util/wait"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/flowguard/flowguard/flows"
	"github.com/flowguard/flowguard/flows/goldmane"
	pb "github.com/flowguard/flowguard/flows/goldmane/proto"
)

// The client's clock stands 7s into the window starting at t0, so List covers windows that ended
// by until and Stream starts there.
const (
	now7  = t0 + 7
	until = t0 - 30
)

var testBackoff = wait.Backoff{Duration: time.Second, Factor: 2, Cap: 4 * time.Second}

// dbFlow is a second flow key: frontend to the database.
func dbFlow(mods ...func(*pb.Flow)) *pb.Flow {
	return gmFlow(append([]func(*pb.Flow){withDst(pb.EndpointType_WorkloadEndpoint, "shop", "postgres-0", "app=db"), withPort("tcp", 5432)}, mods...)...)
}

func dbRecord(mods ...func(*flows.Record)) flows.Record {
	return record(append([]func(*flows.Record){func(r *flows.Record) {
		r.Dst = flows.Endpoint{Type: flows.TypeWorkload, Namespace: "shop", Name: "postgres-0", Labels: flows.Labels{{Key: "app", Value: "db"}}}
		r.DstPort = 5432
	}}, mods...)...)
}

func newClock() *clocktesting.FakeClock { return clocktesting.NewFakeClock(time.Unix(now7, 0)) }

func unavailable(context.Context, func(...*pb.Flow)) error {
	return status.Error(codes.Unavailable, "goldmane restarting")
}

func diffRecords(t *testing.T, want, got []flows.Record) {
	t.Helper()
	if diff := cmp.Diff(want, got, cmpopts.EquateComparable(netipAddr)); diff != "" {
		t.Errorf("records (-want +got):\n%s", diff)
	}
}

// stepBackoff waits for the client to wait on its clock, then lets exactly d pass: a millisecond
// less leaves it waiting.
func stepBackoff(t *testing.T, fc *clocktesting.FakeClock, d time.Duration) {
	t.Helper()
	waitFor(t, "the client to back off", fc.HasWaiters)
	fc.Step(d - time.Millisecond)
	if !fc.HasWaiters() {
		t.Fatalf("the client reconnected before its backoff of %v", d)
	}
	fc.Step(time.Millisecond)
	if fc.HasWaiters() {
		t.Fatalf("the client still waits after its backoff of %v", d)
	}
}

func TestListBackfillsCompleteWindowsThenStreamFollows(t *testing.T) {
	g := &fakeGoldmane{
		listFlows: []*pb.Flow{
			gmFlow(withWindow(t0-3600, until)),
			dbFlow(withWindow(t0-600, t0-45)),
			gmFlow(withPort("udp", 53), withWindow(t0-120, t0-90)),
		},
		scripts: []streamScript{func(ctx context.Context, send func(...*pb.Flow)) error {
			// A window List already covered, then the first window after the cut-off.
			send(gmFlow(withWindow(until-15, until)))
			send(gmFlow(withWindow(until, until+15)), dbFlow(withWindow(until, until+15)))
			<-ctx.Done()
			return nil
		}},
	}
	opts := g.start(t, newTestPKI(t))
	opts.Clock, opts.PageSize = newClock(), 2
	col := make(collector, 8)
	c, _ := runClient(t, opts, col.sink)

	diffRecords(t, []flows.Record{
		record(recWindow(t0-3600, until)),
		dbRecord(recWindow(t0-600, t0-45)),
		record(recWindow(t0-120, t0-90), func(r *flows.Record) { r.Proto, r.DstPort = flows.ProtoUDP, 53 }),
		record(recWindow(until, until+15)),
		dbRecord(recWindow(until, until+15)),
	}, col.take(t, 5))

	lists := g.listRequests()
	if len(lists) != 2 {
		t.Fatalf("List calls = %d, want 2 pages", len(lists))
	}
	for i, req := range lists {
		if req.StartTimeGte != 0 || req.StartTimeLt != until || req.Page != int64(i) || req.PageSize != 2 ||
			len(req.SortBy) != 1 || req.SortBy[0].SortBy != pb.SortBy_DestName {
			t.Errorf("List request %d = %v, want all history before %d, page %d of 2 by destination name", i, req, until, i)
		}
	}
	if s := g.streamRequests(); len(s) != 1 || s[0].StartTimeGte != until || s[0].AggregationInterval != 15 {
		t.Errorf("Stream requests = %v, want one from %d at 15s", s, until)
	}
	// The last record is counted once the sink has taken it.
	waitFor(t, "the fifth record to be counted", func() bool { return c.Stats().Flows.Records == 5 })
	if st := c.Stats(); st.Duplicates != 1 || !st.Watermark.Equal(time.Unix(until+15, 0)) {
		t.Errorf("stats = %+v, want 1 duplicate, watermark %d", st, until+15)
	}
}

func TestReconnectResumesFromNewestWindowWithoutDoubleCounting(t *testing.T) {
	s1, s2, s3 := until, until+15, until+30
	g := &fakeGoldmane{scripts: []streamScript{
		func(_ context.Context, send func(...*pb.Flow)) error {
			// The connection breaks after the first flow of window s2.
			send(gmFlow(withWindow(s1, s2)), dbFlow(withWindow(s1, s2)), gmFlow(withWindow(s2, s3)))
			return status.Error(codes.Unavailable, "connection reset")
		},
		func(ctx context.Context, send func(...*pb.Flow)) error {
			// Goldmane replays window s2 in full, then goes on.
			send(gmFlow(withWindow(s2, s3)), dbFlow(withWindow(s2, s3)), gmFlow(withWindow(s3, s3+15)))
			<-ctx.Done()
			return nil
		},
	}}
	fc := newClock()
	opts := g.start(t, newTestPKI(t))
	opts.Clock, opts.Backoff = fc, testBackoff
	col := make(collector, 8)
	c, _ := runClient(t, opts, col.sink)

	got := col.take(t, 3)
	g.waitStreamEnded(t)
	stepBackoff(t, fc, time.Second)
	got = append(got, col.take(t, 2)...)

	diffRecords(t, []flows.Record{
		record(recWindow(s1, s2)), dbRecord(recWindow(s1, s2)), record(recWindow(s2, s3)),
		dbRecord(recWindow(s2, s3)), record(recWindow(s3, s3+15)),
	}, got)
	if s := g.streamRequests(); len(s) != 2 || s[1].StartTimeGte != s2 {
		t.Errorf("Stream requests = %v, want the second from %d", s, s2)
	}
	if n := len(g.listRequests()); n != 1 {
		t.Errorf("List calls = %d, want 1: a reconnect resumes the stream", n)
	}
	if st := c.Stats(); st.Duplicates != 1 || st.Failures != 1 || st.Sessions != 2 {
		t.Errorf("stats = %+v, want 1 duplicate, 1 failure, 2 sessions", st)
	}
}

func TestBackoffDoublesUpToItsCapAndStartsOverAfterProgress(t *testing.T) {
	g := &fakeGoldmane{scripts: []streamScript{
		unavailable, unavailable, unavailable, unavailable,
		func(_ context.Context, send func(...*pb.Flow)) error {
			send(gmFlow(withWindow(until, until+15)))
			return status.Error(codes.Unavailable, "connection reset")
		},
		unavailable,
	}}
	fc := newClock()
	opts := g.start(t, newTestPKI(t))
	opts.Clock, opts.Backoff = fc, testBackoff
	col := make(collector, 8)
	runClient(t, opts, col.sink)

	for i, d := range []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 4 * time.Second} {
		stepBackoff(t, fc, d)
		waitFor(t, "the next Stream call", func() bool { return len(g.streamRequests()) == i+2 })
	}
	col.take(t, 1)
	stepBackoff(t, fc, time.Second)
	waitFor(t, "the sixth Stream call", func() bool { return len(g.streamRequests()) == 6 })
	stepBackoff(t, fc, 2*time.Second)
}

func TestReconnectAfterAnOutageLongerThanHistoryAsksForAllHistory(t *testing.T) {
	g := &fakeGoldmane{scripts: []streamScript{
		func(_ context.Context, send func(...*pb.Flow)) error {
			send(gmFlow(withWindow(until, until+15)))
			return status.Error(codes.Unavailable, "connection reset")
		},
	}}
	fc := newClock()
	opts := g.start(t, newTestPKI(t))
	opts.Clock, opts.Backoff, opts.History = fc, testBackoff, 10*time.Minute
	col := make(collector, 8)
	c, _ := runClient(t, opts, col.sink)

	col.take(t, 1)
	waitFor(t, "the client to back off", fc.HasWaiters)
	fc.Step(11 * time.Minute)
	waitFor(t, "the second Stream call", func() bool { return len(g.streamRequests()) == 2 })
	if gte := g.streamRequests()[1].StartTimeGte; gte != -600 {
		t.Errorf("second Stream from %d, want -600 (all of the server's last 10 minutes)", gte)
	}
	if st := c.Stats(); st.Gaps != 1 {
		t.Errorf("gaps = %d, want 1", st.Gaps)
	}
}

func TestSinceSkipsWhatAnEarlierClientDelivered(t *testing.T) {
	cases := map[string]struct {
		since         int64
		wantList      bool
		wantStreamGte int64
		stream        []*pb.Flow
		want          []flows.Record
	}{
		"an old watermark backfills from it": {
			since: until - 600, wantList: true, wantStreamGte: until,
			stream: []*pb.Flow{gmFlow(withWindow(until, until+15))},
			want:   []flows.Record{record(recWindow(until, until+15))},
		},
		"a recent watermark streams from it": {
			since: until + 15, wantStreamGte: until + 15,
			stream: []*pb.Flow{gmFlow(withWindow(until, until+15)), gmFlow(withWindow(until+15, until+30))},
			want:   []flows.Record{record(recWindow(until+15, until+30))},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			g := &fakeGoldmane{scripts: []streamScript{func(ctx context.Context, send func(...*pb.Flow)) error {
				send(tc.stream...)
				<-ctx.Done()
				return nil
			}}}
			opts := g.start(t, newTestPKI(t))
			opts.Clock, opts.Since = newClock(), time.Unix(tc.since, 0)
			col := make(collector, 8)
			c, _ := runClient(t, opts, col.sink)

			diffRecords(t, tc.want, col.take(t, len(tc.want)))
			lists := g.listRequests()
			if tc.wantList != (len(lists) == 1) || (tc.wantList && lists[0].StartTimeGte != tc.since) {
				t.Errorf("List requests = %v, want a List from %d: %v", lists, tc.since, tc.wantList)
			}
			if s := g.streamRequests(); len(s) != 1 || s[0].StartTimeGte != tc.wantStreamGte {
				t.Errorf("Stream requests = %v, want one from %d", s, tc.wantStreamGte)
			}
			if st := c.Stats(); st.Duplicates != uint64(len(tc.stream)-len(tc.want)) {
				t.Errorf("duplicates = %d, want %d", st.Duplicates, len(tc.stream)-len(tc.want))
			}
		})
	}
}

func TestMalformedFlowsAreCountedAndTheRestDelivered(t *testing.T) {
	g := &fakeGoldmane{scripts: []streamScript{func(ctx context.Context, send func(...*pb.Flow)) error {
		send(
			gmFlow(withWindow(until, until+15)),
			gmFlow(withSrc(pb.EndpointType(7), "shop", "x"), withWindow(until, until+15)),
			dbFlow(withWindow(until, until+15)),
			gmFlow(withDst(pb.EndpointType_WorkloadEndpoint, "shop", "y", "no-equals"), withWindow(until, until+15)),
			&pb.Flow{},
			gmFlow(withWindow(until+15, until+30)),
		)
		<-ctx.Done()
		return nil
	}}}
	opts := g.start(t, newTestPKI(t))
	opts.Clock = newClock()
	col := make(collector, 8)
	c, _ := runClient(t, opts, col.sink)

	diffRecords(t, []flows.Record{
		record(recWindow(until, until+15)), dbRecord(recWindow(until, until+15)), record(recWindow(until+15, until+30)),
	}, col.take(t, 3))
	waitFor(t, "the third record to be counted", func() bool { return c.Stats().Flows.Records == 3 })
	rep := c.Stats().Flows
	if rep.Count(flows.ReasonValue) != 2 || rep.Count(flows.ReasonMissing) != 1 {
		t.Errorf("tally = %+v, want 3 records, 2 bad values, 1 missing key", rep)
	}
	for _, m := range rep.Malformed {
		if len(m.First) == 0 || !strings.HasPrefix(m.First[0], "passthrough:///goldmane.test Stream:") {
			t.Errorf("malformed %s located at %v, want the stream and result number", m.Reason, m.First)
		}
	}
}

func TestSinkErrorEndsRun(t *testing.T) {
	full := errors.New("traffic graph full")
	g := &fakeGoldmane{scripts: []streamScript{func(ctx context.Context, send func(...*pb.Flow)) error {
		send(gmFlow(withWindow(until, until+15)))
		<-ctx.Done()
		return nil
	}}}
	opts := g.start(t, newTestPKI(t))
	opts.Clock = newClock()
	_, r := runClient(t, opts, func(context.Context, flows.Record) error { return full })
	select {
	case <-r.done:
		if !errors.Is(r.err, full) {
			t.Errorf("Run = %v, want the sink's error", r.err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not return after the sink failed")
	}
}

func TestReconnectPresentsARotatedClientCertificate(t *testing.T) {
	g := &fakeGoldmane{scripts: []streamScript{unavailable}}
	pki := newTestPKI(t)
	fc := newClock()
	opts := g.start(t, pki)
	opts.Clock, opts.Backoff = fc, testBackoff
	runClient(t, opts, make(collector, 1).sink)

	g.waitStreamEnded(t)
	pki.IssueClient(t, "flowguard-rotated")
	stepBackoff(t, fc, time.Second)
	waitFor(t, "the second Stream call", func() bool { return len(g.streamRequests()) == 2 })
	if diff := cmp.Diff([]string{"flowguard", "flowguard", "flowguard-rotated"}, g.peerNames()); diff != "" {
		t.Errorf("client certificates seen by List, Stream, Stream (-want +got):\n%s", diff)
	}
}

func TestNewRejectsIncompleteOptions(t *testing.T) {
	full := goldmane.Options{Address: "goldmane:7443", CAFile: "ca.crt", CertFile: "tls.crt", KeyFile: "tls.key"}
	sink := make(collector).sink
	cases := map[string]struct {
		mod  func(*goldmane.Options)
		sink goldmane.Sink
		want string
	}{
		"no address":         {mod: func(o *goldmane.Options) { o.Address = "" }, sink: sink, want: "Address"},
		"no CA":              {mod: func(o *goldmane.Options) { o.CAFile = "" }, sink: sink, want: "mutual TLS"},
		"no client key":      {mod: func(o *goldmane.Options) { o.KeyFile = "" }, sink: sink, want: "mutual TLS"},
		"no sink":            {mod: func(*goldmane.Options) {}, want: "sink"},
		"negative page size": {mod: func(o *goldmane.Options) { o.PageSize = -1 }, sink: sink, want: "negative"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			o := full
			tc.mod(&o)
			if _, err := goldmane.New(o, tc.sink); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("New = %v, want an error about %s", err, tc.want)
			}
		})
	}
}
