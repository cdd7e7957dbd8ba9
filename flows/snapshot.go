package flows

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
)

// Snapshot format, version 1. All integers are varints; strings are indexes into a table.
//
//	magic "FGGRAPH\x00", version, bucket width (seconds)
//	strings:    count, then (length, bytes)...
//	identities: count, then (type, ns, name, service account, IP length 0|4|16, IP bytes,
//	            label count, (key, value)...)...
//	traces:     count, then (hit count, (index, tier, kind, ns, name, action, rule index)...)...
//	edges:      count, then (src, dst, port, proto, action, reporter, enforced+1, pending+1,
//	            trace time, bucket count, (index, first, last, flows, bytes, packets)...)...
//	CRC-32 (IEEE) of everything before it, 4 bytes big-endian.
//
// A reader refuses other versions rather than guess; a new version gets a new decoder.
const (
	snapshotMagic   = "FGGRAPH\x00"
	snapshotVersion = 1
)

// ErrSnapshotCorrupt is returned for a snapshot that fails its checksum or does not decode.
var ErrSnapshotCorrupt = errors.New("traffic graph snapshot is corrupt")

// WriteSnapshot writes the whole graph. It holds the read lock while encoding, so it delays
// the writer, never readers.
func (g *Graph) WriteSnapshot(w io.Writer) error {
	g.mu.RLock()
	defer g.mu.RUnlock()
	crc := crc32.NewIEEE()
	bw := bufio.NewWriterSize(io.MultiWriter(w, crc), 256<<10)
	e := encoder{w: bw, strs: map[string]uint64{}}

	// Collect strings and traces first so the tables come before their uses.
	ids := make([]*identity, 0, len(g.byID))
	pos := make(map[*identity]uint64, len(g.byID))
	for _, id := range g.byID {
		pos[id] = uint64(len(ids))
		ids = append(ids, id)
		e.str(id.ep.Namespace)
		e.str(id.ep.Name)
		e.str(id.ep.ServiceAccount)
		for _, kv := range id.ep.Labels {
			e.str(kv.Key)
			e.str(kv.Value)
		}
	}
	traces := map[*PolicyHit]uint64{}
	var traceList [][]PolicyHit
	for _, ed := range g.edges {
		for _, t := range [][]PolicyHit{ed.enforced, ed.pending} {
			if len(t) == 0 {
				continue
			}
			if _, ok := traces[&t[0]]; !ok {
				traces[&t[0]] = uint64(len(traceList))
				traceList = append(traceList, t)
				for _, h := range t {
					e.str(h.Tier)
					e.str(h.Kind)
					e.str(h.Namespace)
					e.str(h.Name)
					e.str(h.Action)
				}
			}
		}
	}

	e.text(snapshotMagic)
	e.uint(snapshotVersion)
	e.uint(uint64(g.width))
	e.uint(uint64(len(e.list)))
	for _, s := range e.list {
		e.uint(uint64(len(s)))
		e.text(s)
	}
	e.uint(uint64(len(ids)))
	for _, id := range ids {
		ep := &id.ep
		e.uint(uint64(ep.Type))
		e.uint(e.strs[ep.Namespace])
		e.uint(e.strs[ep.Name])
		e.uint(e.strs[ep.ServiceAccount])
		ip := ep.IP.AsSlice()
		e.uint(uint64(len(ip)))
		e.bytes(ip)
		e.uint(uint64(len(ep.Labels)))
		for _, kv := range ep.Labels {
			e.uint(e.strs[kv.Key])
			e.uint(e.strs[kv.Value])
		}
	}
	e.uint(uint64(len(traceList)))
	for _, t := range traceList {
		e.uint(uint64(len(t)))
		for _, h := range t {
			e.int(int64(h.Index))
			for _, s := range []string{h.Tier, h.Kind, h.Namespace, h.Name, h.Action} {
				e.uint(e.strs[s])
			}
			e.int(int64(h.RuleIndex))
		}
	}
	e.uint(uint64(len(g.edges)))
	traceRef := func(t []PolicyHit) uint64 {
		if len(t) == 0 {
			return 0
		}
		return traces[&t[0]] + 1
	}
	for _, ed := range g.edges {
		k := ed.key
		for _, v := range []uint64{pos[ed.src], pos[ed.dst], uint64(k.port), uint64(k.proto), uint64(k.action), uint64(k.reporter),
			traceRef(ed.enforced), traceRef(ed.pending), uint64(ed.traceAt), uint64(len(ed.buckets))} {
			e.uint(v)
		}
		for _, b := range ed.buckets {
			for _, v := range []uint64{uint64(b.idx), uint64(b.first), uint64(b.last), uint64(b.flows), b.bytes, b.packets} {
				e.uint(v)
			}
		}
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write traffic graph snapshot: %w", err)
	}
	var sum [4]byte
	binary.BigEndian.PutUint32(sum[:], crc.Sum32())
	if _, err := w.Write(sum[:]); err != nil {
		return fmt.Errorf("write traffic graph snapshot: %w", err)
	}
	return nil
}

// encoder writes the snapshot through a bufio.Writer, which keeps the first write error and
// returns it from every later write and from Flush: WriteSnapshot checks Flush, so the writes
// in between need no checks of their own.
type encoder struct {
	w    *bufio.Writer
	strs map[string]uint64
	list []string
	buf  [binary.MaxVarintLen64]byte
}

func (e *encoder) str(s string) {
	if _, ok := e.strs[s]; !ok {
		e.strs[s] = uint64(len(e.list))
		e.list = append(e.list, s)
	}
}

func (e *encoder) bytes(b []byte) {
	e.w.Write(b) //nolint:errcheck // bufio.Writer keeps its first error; WriteSnapshot returns it from Flush
}

func (e *encoder) text(s string) {
	e.w.WriteString(s) //nolint:errcheck // bufio.Writer keeps its first error; WriteSnapshot returns it from Flush
}

func (e *encoder) uint(v uint64) { e.bytes(binary.AppendUvarint(e.buf[:0], v)) }
func (e *encoder) int(v int64)   { e.bytes(binary.AppendVarint(e.buf[:0], v)) }

// SaveFile writes a snapshot to path atomically: to a temporary file in the same folder,
// synced, then renamed over path, so a crash leaves the old snapshot or the new one.
func (g *Graph) SaveFile(path string) (err error) {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("save traffic graph to %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if err = g.WriteSnapshot(tmp); err != nil {
		return fmt.Errorf("save traffic graph to %s: %w", path, err)
	}
	if err = tmp.Sync(); err != nil {
		return fmt.Errorf("save traffic graph to %s: sync: %w", path, err)
	}
	if err = tmp.Close(); err != nil {
		return fmt.Errorf("save traffic graph to %s: %w", path, err)
	}
	if err = os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("save traffic graph to %s: %w", path, err)
	}
	// Make the rename itself durable: until the folder is synced, a crash may forget it.
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("save traffic graph to %s: open folder to sync it: %w", path, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("save traffic graph to %s: sync folder %s: %w", path, dir, err)
	}
	return nil
}

// LoadFile merges the snapshot at path into the graph (see ReadSnapshot).
func (g *Graph) LoadFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("load traffic graph: %w", err)
	}
	defer f.Close()
	if err := g.ReadSnapshot(f); err != nil {
		return fmt.Errorf("load traffic graph from %s: %w", path, err)
	}
	return nil
}

// decodedSnapshot is a snapshot read and verified in full before the graph is touched.
type decodedSnapshot struct {
	width  int64
	ids    []Endpoint
	traces [][]PolicyHit
	edges  []decodedEdge
}

type decodedEdge struct {
	src, dst          uint64
	key               edgeKey
	enforced, pending []PolicyHit
	traceAt           uint32
	buckets           []bucket
}

// ReadSnapshot merges a snapshot into the graph: counts add to those already present, buckets
// are re-cut if the snapshot used another width, and retention and the edge cap apply as to
// records. A snapshot that fails its checksum or does not decode changes nothing.
func (g *Graph) ReadSnapshot(r io.Reader) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return fmt.Errorf("read traffic graph snapshot: %w", err)
	}
	snap, err := decodeSnapshot(data)
	if err != nil {
		return err
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	g.merge(snap)
	g.generation.Add(1)
	return nil
}

func (g *Graph) merge(s *decodedSnapshot) {
	horizon := g.horizon(g.clock.Now())
	ids := make([]*identity, len(s.ids))
	for _, de := range s.edges {
		var e *edge
		if ids[de.src] != nil && ids[de.dst] != nil {
			key := de.key
			key.src, key.dst = ids[de.src].id, ids[de.dst].id
			e = g.edges[key]
		}
		for _, b := range de.buckets {
			idx := int64(b.idx) * s.width / g.width
			if idx < horizon {
				continue
			}
			if e == nil {
				if g.maxEdges > 0 && len(g.edges) >= g.maxEdges {
					g.dropped.Add(1)
					break
				}
				if ids[de.src] == nil {
					ids[de.src] = g.internIdentity(&s.ids[de.src])
				}
				if ids[de.dst] == nil {
					ids[de.dst] = g.internIdentity(&s.ids[de.dst])
				}
				key := de.key
				key.src, key.dst = ids[de.src].id, ids[de.dst].id
				if e = g.edges[key]; e == nil {
					e = &edge{key: key, src: ids[de.src], dst: ids[de.dst]}
					g.edges[key] = e
					e.src.out = append(e.src.out, e)
					e.dst.in = append(e.dst.in, e)
				}
			}
			n := len(e.buckets)
			nb := e.bucketAt(uint32(idx))
			g.nBuckets += len(e.buckets) - n
			nb.flows += min(b.flows, ^uint32(0)-nb.flows)
			nb.bytes += b.bytes
			nb.packets += b.packets
			if nb.first == 0 || b.first < nb.first {
				nb.first = b.first
			}
			nb.last = max(nb.last, b.last)
		}
		if e != nil && de.traceAt >= e.traceAt {
			e.traceAt = de.traceAt
			e.enforced, e.pending = g.internTrace(de.enforced), g.internTrace(de.pending)
		}
	}
}
