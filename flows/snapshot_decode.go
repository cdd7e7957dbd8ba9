package flows

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"net/netip"
)

// decodeSnapshot verifies the checksum, then decodes everything, checking every index against
// the table it points into.
func decodeSnapshot(data []byte) (*decodedSnapshot, error) {
	if len(data) < len(snapshotMagic)+4 || string(data[:len(snapshotMagic)]) != snapshotMagic {
		return nil, fmt.Errorf("%w: not a flowguard traffic graph snapshot", ErrSnapshotCorrupt)
	}
	body, sum := data[:len(data)-4], binary.BigEndian.Uint32(data[len(data)-4:])
	if crc32.ChecksumIEEE(body) != sum {
		return nil, fmt.Errorf("%w: checksum mismatch", ErrSnapshotCorrupt)
	}
	d := decoder{b: body, i: len(snapshotMagic)}
	if v := d.uint(); v != snapshotVersion {
		if d.err != nil {
			return nil, d.err
		}
		return nil, fmt.Errorf("traffic graph snapshot version %d is not supported (want %d)", v, snapshotVersion)
	}
	s := &decodedSnapshot{width: int64(d.uint())}
	if s.width <= 0 && d.err == nil {
		d.fail("bucket width %d", s.width)
	}
	strs := make([]string, d.count(1))
	for i := range strs {
		strs[i] = string(d.bytes(d.uint()))
	}
	str := func() string {
		n := d.uint()
		if n >= uint64(len(strs)) {
			d.fail("string index %d of %d", n, len(strs))
			return ""
		}
		return strs[n]
	}
	s.ids = make([]Endpoint, d.count(5))
	for i := range s.ids {
		e := &s.ids[i]
		e.Type = EndpointType(d.uint())
		e.Namespace, e.Name, e.ServiceAccount = str(), str(), str()
		if ip := d.bytes(d.uint()); len(ip) > 0 {
			a, ok := netip.AddrFromSlice(ip)
			if !ok {
				d.fail("IP of %d bytes", len(ip))
			}
			e.IP = a
		}
		for range d.count(2) {
			e.Labels = append(e.Labels, Label{Key: str(), Value: str()})
		}
	}
	s.traces = make([][]PolicyHit, d.count(1))
	for i := range s.traces {
		hits := make([]PolicyHit, d.count(7))
		for j := range hits {
			h := &hits[j]
			h.Index = int(d.int())
			h.Tier, h.Kind, h.Namespace, h.Name, h.Action = str(), str(), str(), str(), str()
			h.RuleIndex = int(d.int())
		}
		s.traces[i] = hits
	}
	trace := func() []PolicyHit {
		n := d.uint()
		if n == 0 {
			return nil
		}
		if n > uint64(len(s.traces)) {
			d.fail("trace index %d of %d", n-1, len(s.traces))
			return nil
		}
		return s.traces[n-1]
	}
	s.edges = make([]decodedEdge, d.count(10))
	for i := range s.edges {
		e := &s.edges[i]
		e.src, e.dst = d.uint(), d.uint()
		if e.src >= uint64(len(s.ids)) || e.dst >= uint64(len(s.ids)) {
			d.fail("identity index out of range")
		}
		e.key = edgeKey{port: uint16(d.uint()), proto: Protocol(d.uint()), action: Action(d.uint()), reporter: Reporter(d.uint())}
		e.enforced, e.pending = trace(), trace()
		e.traceAt = uint32(d.uint())
		e.buckets = make([]bucket, d.count(6))
		for j := range e.buckets {
			e.buckets[j] = bucket{idx: uint32(d.uint()), first: uint32(d.uint()), last: uint32(d.uint()),
				flows: uint32(d.uint()), bytes: d.uint(), packets: d.uint()}
		}
		if d.err != nil {
			break
		}
	}
	if d.err == nil && d.i != len(d.b) {
		d.fail("%d bytes after the last edge", len(d.b)-d.i)
	}
	if d.err != nil {
		return nil, d.err
	}
	return s, nil
}

// decoder reads varints from a verified snapshot; the first error sticks and later reads
// return zeros, so decoding code stays linear.
type decoder struct {
	b   []byte
	i   int
	err error
}

func (d *decoder) fail(format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: at byte %d: %s", ErrSnapshotCorrupt, d.i, fmt.Sprintf(format, args...))
	}
}

func (d *decoder) uint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b[d.i:])
	if n <= 0 {
		d.fail("bad varint")
		return 0
	}
	d.i += n
	return v
}

func (d *decoder) int() int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b[d.i:])
	if n <= 0 {
		d.fail("bad varint")
		return 0
	}
	d.i += n
	return v
}

// count reads a number of items, each at least minBytes long, refusing counts the remaining
// bytes cannot hold so that a corrupt count cannot make us allocate gigabytes.
func (d *decoder) count(minBytes int) int {
	n := d.uint()
	if n > uint64(len(d.b)-d.i)/uint64(minBytes) {
		d.fail("count %d exceeds the data left", n)
		return 0
	}
	return int(n)
}

func (d *decoder) bytes(n uint64) []byte {
	if d.err != nil {
		return nil
	}
	if n > uint64(len(d.b)-d.i) {
		d.fail("string of %d bytes exceeds the data left", n)
		return nil
	}
	b := d.b[d.i : d.i+int(n)]
	d.i += int(n)
	return b
}
