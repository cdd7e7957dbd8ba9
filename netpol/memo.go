package netpol

import "sync"

// memoKey identifies a verdict question by endpoint classes and packet.
type memoKey struct {
	src, dst int32
	icmp     int16
	port     uint16
	proto    uint8
	view     uint8
}

// memoShards spreads the verdict memo over locks so concurrent readers rarely meet.
const memoShards = 64

// memoLimit bounds each shard; past it new verdicts are computed but not kept, so a
// long-lived engine's memory stays bounded by what it was asked first.
const memoLimit = 1 << 16

// memo keeps computed verdicts. Verdicts without traces are small values and immutable.
type memo struct {
	shards [memoShards]memoShard
}

type memoShard struct {
	mu sync.RWMutex
	m  map[memoKey]Verdict
}

func (m *memo) init() {
	for i := range m.shards {
		m.shards[i].m = map[memoKey]Verdict{}
	}
}

func (k memoKey) shard() int {
	h := uint32(k.src)*0x9e3779b1 ^ uint32(k.dst)*0x85ebca6b ^ uint32(k.port)*0xc2b2ae35 ^ uint32(k.proto)
	return int(h>>26) % memoShards
}

func (m *memo) get(k memoKey) (Verdict, bool) {
	s := &m.shards[k.shard()]
	s.mu.RLock()
	v, ok := s.m[k]
	s.mu.RUnlock()
	return v, ok
}

func (m *memo) put(k memoKey, v Verdict) {
	s := &m.shards[k.shard()]
	s.mu.Lock()
	if len(s.m) < memoLimit {
		s.m[k] = v
	}
	s.mu.Unlock()
}
