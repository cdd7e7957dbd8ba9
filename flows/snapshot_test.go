package flows

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// cmpAddr compares addresses by value; netip.Addr has only unexported fields.
var cmpAddr = cmp.Comparer(func(a, b netip.Addr) bool { return a == b })

// fullEdges returns every edge with buckets and traces, sorted, for comparing graphs.
func fullEdges(g *Graph) []Edge {
	edges := g.Edges(Query{WithBuckets: true})
	SortEdges(edges)
	for i := range edges {
		edges[i].SrcID, edges[i].DstID = 0, 0 // IDs are per graph
	}
	return edges
}

func TestSnapshotRoundTrip(t *testing.T) {
	g := shopGraph(t)
	r := record(enforcing("1|default|np:shop/allow-frontend|allow|0", "0|security|gnp:pass|pass|2"),
		func(r *Record) { r.Src.ServiceAccount = "frontend"; r.Pending = r.Enforced })
	g.Add(&r)
	ext := record(from(network("pub", "2001:db8::7")), onPort(443))
	g.Add(&ext)

	var buf bytes.Buffer
	if err := g.WriteSnapshot(&buf); err != nil {
		t.Fatal(err)
	}
	restored, _ := newTestGraph(t, t0.Add(3*time.Hour), GraphOptions{})
	if err := restored.ReadSnapshot(bytes.NewReader(buf.Bytes())); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(fullEdges(g), fullEdges(restored), cmpAddr); diff != "" {
		t.Errorf("restored graph differs (-saved +restored):\n%s", diff)
	}
	if a, b := g.Stats(), restored.Stats(); a.Identities != b.Identities || a.Edges != b.Edges || a.Buckets != b.Buckets {
		t.Errorf("stats: saved %+v, restored %+v", a, b)
	}
}

func TestSnapshotLoadRecutsBucketsAndAppliesRetention(t *testing.T) {
	fine, _ := newTestGraph(t, t0.Add(3*time.Hour), GraphOptions{BucketWidth: 15 * time.Minute})
	fine.AddBatch([]Record{record(), record(endingAt(t0.Add(40 * time.Minute))), record(endingAt(t0.Add(-8 * 24 * time.Hour)))})
	var buf bytes.Buffer
	if err := fine.WriteSnapshot(&buf); err != nil {
		t.Fatal(err)
	}
	hourly, _ := newTestGraph(t, t0.Add(3*time.Hour), GraphOptions{})
	if err := hourly.ReadSnapshot(&buf); err != nil {
		t.Fatal(err)
	}
	got := lines(hourly.Edges(Query{WithBuckets: true}))
	want := []edgeLine{{Edge: "shop/frontend-* -> shop/api-* tcp/8080 allow dst", Flows: 2, Bytes: 200, Packets: 4, First: "06:05", Last: "06:40", Buckets: 1}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestSnapshotRefusesDamage(t *testing.T) {
	var buf bytes.Buffer
	if err := shopGraph(t).WriteSnapshot(&buf); err != nil {
		t.Fatal(err)
	}
	good := buf.Bytes()
	flip := func(i int) []byte { b := bytes.Clone(good); b[i] ^= 0x40; return b }
	tests := map[string]struct {
		data    []byte
		wantErr error
	}{
		"a flipped byte in the middle": {data: flip(len(good) / 2), wantErr: ErrSnapshotCorrupt},
		"cut short":                    {data: good[:len(good)-10], wantErr: ErrSnapshotCorrupt},
		"not a snapshot":               {data: []byte(`{"edges":[]}`), wantErr: ErrSnapshotCorrupt},
		"empty":                        {data: nil, wantErr: ErrSnapshotCorrupt},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			g, _ := newTestGraph(t, t0.Add(3*time.Hour), GraphOptions{})
			err := g.ReadSnapshot(bytes.NewReader(tc.data))
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("ReadSnapshot = %v, want %v", err, tc.wantErr)
			}
			if st := g.Stats(); st.Edges != 0 || st.Identities != 0 {
				t.Errorf("a refused snapshot changed the graph: %+v", st)
			}
		})
	}
	t.Run("a future version is refused by name", func(t *testing.T) {
		body := append([]byte(snapshotMagic), 2, 0)
		data := binary.BigEndian.AppendUint32(body, crc32.ChecksumIEEE(body))
		g, _ := newTestGraph(t, t0, GraphOptions{})
		if err := g.ReadSnapshot(bytes.NewReader(data)); err == nil || !bytes.Contains([]byte(err.Error()), []byte("version 2 is not supported")) {
			t.Errorf("ReadSnapshot = %v, want a version error", err)
		}
	})
}

func TestSaveFileIsAtomic(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "graph.snap")
	g := shopGraph(t)
	if err := g.SaveFile(path); err != nil {
		t.Fatal(err)
	}
	if err := g.SaveFile(path); err != nil { // over an existing snapshot
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("folder holds %d entries, want only the snapshot (no temporary files)", len(entries))
	}
	loaded, _ := newTestGraph(t, t0.Add(3*time.Hour), GraphOptions{})
	if err := loaded.LoadFile(path); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(fullEdges(g), fullEdges(loaded), cmpAddr); diff != "" {
		t.Errorf("(-saved +loaded):\n%s", diff)
	}
	if err := loaded.SaveFile(filepath.Join(dir, "missing", "graph.snap")); err == nil {
		t.Error("saving into a missing folder succeeded")
	}
}

// FuzzDecodeSnapshot feeds arbitrary bodies with a valid checksum to the decoder: it must
// refuse or decode, never panic or allocate without bound.
func FuzzDecodeSnapshot(f *testing.F) {
	g, _ := NewGraph(GraphOptions{Retention: -1})
	r := record(enforcing("0|default|np:shop/a|allow|0"))
	g.Add(&r)
	var buf bytes.Buffer
	if err := g.WriteSnapshot(&buf); err != nil {
		f.Fatal(err)
	}
	f.Add(buf.Bytes()[:buf.Len()-4])
	f.Fuzz(func(t *testing.T, body []byte) {
		data := binary.BigEndian.AppendUint32(bytes.Clone(body), crc32.ChecksumIEEE(body))
		g, _ := NewGraph(GraphOptions{Retention: -1})
		_ = g.ReadSnapshot(bytes.NewReader(data))
	})
}

func TestSnapshotSaver(t *testing.T) {
	path := filepath.Join(t.TempDir(), "graph.snap")
	g := shopGraph(t)
	step := newStepper()
	s := &SnapshotSaver{Graph: g, Path: path, Wait: step.wait}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- s.Start(ctx) }()

	<-step.idle
	if _, err := os.Stat(path); err == nil {
		t.Fatal("saved before the first tick")
	}
	step.proceed <- struct{}{}
	<-step.idle
	first, err := os.Stat(path)
	if err != nil {
		t.Fatalf("no snapshot after a tick: %v", err)
	}
	step.proceed <- struct{}{} // nothing changed: no new write
	<-step.idle
	if again, _ := os.Stat(path); !again.ModTime().Equal(first.ModTime()) || !os.SameFile(first, again) {
		t.Error("an unchanged graph was written again")
	}
	r := record(onPort(9999))
	g.Add(&r)
	cancel() // stopping saves the change
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	loaded, _ := newTestGraph(t, t0.Add(3*time.Hour), GraphOptions{})
	if err := loaded.LoadFile(path); err != nil {
		t.Fatal(err)
	}
	if got := len(loaded.Edges(Query{DstPort: 9999})); got != 1 {
		t.Errorf("the change made before stopping is not in the snapshot (%d edges on 9999)", got)
	}
}
