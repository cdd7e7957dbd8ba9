package flows

// interner hands out one shared copy of each distinct value it is given, so that a million
// records naming the same workload hold one string, one label set and one policy trace.
//
// Each table is cleared when it reaches its limit: values already handed out stay valid (they
// are ordinary Go values), the next occurrence just allocates again. That bounds the memory a
// long-running parser pins when names churn (pod hashes, external IPs) without any eviction
// bookkeeping on the hot path.
type interner struct {
	limit  int
	strs   map[string]string
	labels map[string]labelSet
	// endpoints are keyed by type, namespace, name and the labels' text (see Parser.endpoint).
	endpoints map[string]Endpoint
	traces    map[string]policyTrace
	domains   map[string][]string
}

// labelSet is an interned label set with the service account Calico records in it.
type labelSet struct {
	labels         Labels
	serviceAccount string
}

type policyTrace struct {
	enforced, pending []PolicyHit
}

// DefaultInternLimit is the default number of entries per interning table.
const DefaultInternLimit = 1 << 16

func newInterner(limit int) *interner {
	if limit <= 0 {
		limit = DefaultInternLimit
	}
	return &interner{
		limit:     limit,
		strs:      make(map[string]string, 1024),
		labels:    make(map[string]labelSet, 256),
		endpoints: make(map[string]Endpoint, 256),
		traces:    make(map[string]policyTrace, 256),
		domains:   make(map[string][]string),
	}
}

// str returns the shared copy of b.
func (in *interner) str(b []byte) string {
	switch {
	case len(b) == 0:
		return ""
	case len(b) == 1 && b[0] == '-':
		return "-" // Calico's placeholder, in most records several times
	}
	if s, ok := in.strs[string(b)]; ok {
		return s
	}
	if len(in.strs) >= in.limit {
		clear(in.strs)
	}
	s := string(b)
	in.strs[s] = s
	return s
}

func remember[V any](m map[string]V, limit int, raw []byte, v V) {
	if len(m) >= limit {
		clear(m)
	}
	m[string(raw)] = v
}
