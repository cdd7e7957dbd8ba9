package observed

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"math/bits"
	"net/netip"
	"sort"
	"strconv"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/flowguard/flowguard/api/v1alpha1"
	"github.com/flowguard/flowguard/flows"
)

// Defaults of ShardOptions.
const (
	DefaultMaxObjectBytes = 512 << 10
	DefaultFineWindow     = 24 * time.Hour
	// maxShards bounds resharding; at the default object size it allows 2 GiB per namespace.
	maxShards = 4096
)

// ShardOptions configure how edges are cut into objects.
type ShardOptions struct {
	// Namespace holds edges neither end of which is namespaced (flowguard's own namespace).
	Namespace string
	// MaxObjectBytes bounds the JSON size of one object.
	MaxObjectBytes int
	// FineWindow is how far back buckets are written at the graph's width; older ones are
	// merged per UTC day.
	FineWindow time.Duration
}

func (o *ShardOptions) defaults() {
	if o.MaxObjectBytes <= 0 {
		o.MaxObjectBytes = DefaultMaxObjectBytes
	}
	if o.FineWindow <= 0 {
		o.FineWindow = DefaultFineWindow
	}
}

// homeNamespace is where an edge is stored: its destination's namespace, else its source's,
// else the fallback.
func homeNamespace(e *flows.Edge, fallback string) string {
	switch {
	case e.Dst.Namespace != "":
		return e.Dst.Namespace
	case e.Src.Namespace != "":
		return e.Src.Namespace
	}
	return fallback
}

// edgeHash is stable across processes and restarts: it hashes the edge's content, never IDs.
func edgeHash(e *flows.Edge) uint64 {
	h := fnv.New64a()
	for _, ep := range []*flows.Endpoint{&e.Src, &e.Dst} {
		fmt.Fprintf(h, "%d|%s|%s|%s|%s|%s|", ep.Type, ep.Namespace, ep.Name, ep.ServiceAccount, ep.IP, ep.Labels)
	}
	fmt.Fprintf(h, "%d|%d|%d|%d", e.DstPort, e.Proto, e.Action, e.Reporter)
	// FNV's low bits barely change between similar keys, and the shard is taken from the low
	// bits: finish with MurmurHash3's mixer.
	x := h.Sum64()
	x ^= x >> 33
	x *= 0xff51afd7ed558ccd
	x ^= x >> 33
	x *= 0xc4ceb9fe1a85ec53
	x ^= x >> 33
	return x
}

// BuildShards cuts edges into ObservedTraffic objects: per home namespace, edges are hashed
// into a power-of-two number of shards, doubled until every object's JSON fits the bound.
// Each object carries its shard annotation and a digest of its content.
func BuildShards(edges []flows.Edge, bucketWidth time.Duration, now time.Time, opts ShardOptions) ([]*v1alpha1.ObservedTraffic, error) {
	opts.defaults()
	byNS := map[string][]*flows.Edge{}
	for i := range edges {
		ns := homeNamespace(&edges[i], opts.Namespace)
		byNS[ns] = append(byNS[ns], &edges[i])
	}
	namespaces := make([]string, 0, len(byNS))
	for ns := range byNS {
		namespaces = append(namespaces, ns)
	}
	sort.Strings(namespaces)
	var out []*v1alpha1.ObservedTraffic
	for _, ns := range namespaces {
		objs, err := shardNamespace(ns, byNS[ns], bucketWidth, now, &opts)
		if err != nil {
			return nil, err
		}
		out = append(out, objs...)
	}
	return out, nil
}

func shardNamespace(ns string, edges []*flows.Edge, width time.Duration, now time.Time, opts *ShardOptions) ([]*v1alpha1.ObservedTraffic, error) {
	sort.Slice(edges, func(i, j int) bool { return edgeHash(edges[i]) < edgeHash(edges[j]) })
	// A first guess from a typical edge size; doubling corrects it.
	count := 1 << bits.Len(uint(len(edges)*1500/opts.MaxObjectBytes))
	for ; count <= maxShards; count *= 2 {
		parts := make([][]*flows.Edge, count)
		for _, e := range edges {
			i := edgeHash(e) % uint64(count)
			parts[i] = append(parts[i], e)
		}
		var objs []*v1alpha1.ObservedTraffic
		fits := true
		for i, part := range parts {
			if len(part) == 0 {
				continue
			}
			obj, size, err := encodeShard(ns, i, count, part, width, now, opts.FineWindow)
			if err != nil {
				return nil, err
			}
			if size > opts.MaxObjectBytes {
				if len(part) == 1 {
					return nil, fmt.Errorf("shard traffic of namespace %s: one edge takes %d bytes, over the %d-byte object bound", ns, size, opts.MaxObjectBytes)
				}
				fits = false
				break
			}
			objs = append(objs, obj)
		}
		if fits {
			return objs, nil
		}
	}
	return nil, fmt.Errorf("shard traffic of namespace %s: %d edges do not fit %d objects of %d bytes", ns, len(edges), maxShards, opts.MaxObjectBytes)
}

// ShardName names shard i of count; a new count gives new names, so objects of an old cut
// are deleted rather than half rewritten.
func ShardName(i, count int) string { return fmt.Sprintf("traffic-%d-of-%d", i, count) }

func encodeShard(ns string, index, count int, edges []*flows.Edge, width time.Duration, now time.Time, fine time.Duration) (*v1alpha1.ObservedTraffic, int, error) {
	obj := &v1alpha1.ObservedTraffic{
		TypeMeta: metav1.TypeMeta{APIVersion: v1alpha1.GroupVersion.String(), Kind: "ObservedTraffic"},
		ObjectMeta: metav1.ObjectMeta{
			Namespace: ns, Name: ShardName(index, count),
			Labels:      map[string]string{v1alpha1.ObservedTrafficManagedByLabel: "flowguard"},
			Annotations: map[string]string{v1alpha1.ObservedTrafficShardAnnotation: strconv.Itoa(index) + "/" + strconv.Itoa(count)},
		},
		BucketSeconds: int64(width / time.Second),
	}
	endpoints := map[string]int32{}
	endpointIndex := func(ep *flows.Endpoint) int32 {
		key := fmt.Sprintf("%d|%s|%s|%s|%s|%s", ep.Type, ep.Namespace, ep.Name, ep.ServiceAccount, ep.IP, ep.Labels)
		if i, ok := endpoints[key]; ok {
			return i
		}
		te := v1alpha1.TrafficEndpoint{Type: ep.Type.String(), Namespace: ep.Namespace, Name: ep.Name, ServiceAccount: ep.ServiceAccount}
		if len(ep.Labels) > 0 {
			te.Labels = ep.Labels.Map()
		}
		if ep.IP.IsValid() {
			te.IP = ep.IP.String()
		}
		i := int32(len(obj.Endpoints))
		obj.Endpoints = append(obj.Endpoints, te)
		endpoints[key] = i
		return i
	}
	cut := now.Add(-fine).Unix()
	var last time.Time
	for _, e := range edges {
		te := v1alpha1.TrafficEdge{
			Source: endpointIndex(&e.Src), Destination: endpointIndex(&e.Dst),
			Protocol: e.Proto.String(), Port: int32(e.DstPort), Action: e.Action.String(), Reporter: e.Reporter.String(),
			Buckets: coarsen(e.Buckets, cut),
		}
		for _, h := range e.Enforced {
			te.Enforced = append(te.Enforced, h.String())
		}
		for _, h := range e.Pending {
			te.Pending = append(te.Pending, h.String())
		}
		obj.Edges = append(obj.Edges, te)
		obj.Summary.Flows += int64(e.Flows)
		if e.LastSeen.After(last) {
			last = e.LastSeen
		}
	}
	obj.Summary.Edges = int64(len(obj.Edges))
	if !last.IsZero() {
		obj.Summary.LastSeen = &metav1.Time{Time: last.UTC()}
	}
	content, err := json.Marshal(struct {
		S int64                      `json:"s"`
		P []v1alpha1.TrafficEndpoint `json:"p"`
		E []v1alpha1.TrafficEdge     `json:"e"`
	}{obj.BucketSeconds, obj.Endpoints, obj.Edges})
	if err != nil {
		return nil, 0, fmt.Errorf("encode traffic shard %s/%s: %w", ns, obj.Name, err)
	}
	sum := sha256.Sum256(content)
	obj.Annotations[v1alpha1.ObservedTrafficContentAnnotation] = hex.EncodeToString(sum[:])
	whole, err := json.Marshal(obj)
	if err != nil {
		return nil, 0, fmt.Errorf("encode traffic shard %s/%s: %w", ns, obj.Name, err)
	}
	return obj, len(whole), nil
}

// coarsen writes buckets newer than cut as they are and merges older ones per UTC day.
func coarsen(buckets []flows.Bucket, cut int64) [][]int64 {
	var rows [][]int64
	for _, b := range buckets {
		start := b.Start.Unix()
		if start < cut {
			start -= start % 86400
		}
		first, last := b.FirstSeen.Unix()-start, b.LastSeen.Unix()-start
		if n := len(rows); n > 0 && rows[n-1][0] == start {
			r := rows[n-1]
			r[1] += int64(b.Flows)
			r[2] += int64(b.Bytes)
			r[3] += int64(b.Packets)
			r[4], r[5] = min(r[4], first), max(r[5], last)
			continue
		}
		rows = append(rows, []int64{start, int64(b.Flows), int64(b.Bytes), int64(b.Packets), first, last})
	}
	return rows
}

// Decode reads an object's edges back; an object that refers outside its endpoint table or
// names unknown values is refused whole, naming the field.
func Decode(obj *v1alpha1.ObservedTraffic) ([]flows.Edge, error) {
	eps := make([]flows.Endpoint, len(obj.Endpoints))
	for i, te := range obj.Endpoints {
		t, ok := flows.ParseEndpointType(te.Type)
		if !ok {
			return nil, fmt.Errorf("decode %s/%s: endpoints[%d].type %q is unknown", obj.Namespace, obj.Name, i, te.Type)
		}
		ep := flows.Endpoint{Type: t, Namespace: te.Namespace, Name: te.Name, ServiceAccount: te.ServiceAccount}
		for k, v := range te.Labels {
			ep.Labels = append(ep.Labels, flows.Label{Key: k, Value: v})
		}
		sort.Slice(ep.Labels, func(a, b int) bool { return ep.Labels[a].Key < ep.Labels[b].Key })
		if te.IP != "" {
			ip, err := netip.ParseAddr(te.IP)
			if err != nil {
				return nil, fmt.Errorf("decode %s/%s: endpoints[%d].ip: %w", obj.Namespace, obj.Name, i, err)
			}
			ep.IP = ip
		}
		eps[i] = ep
	}
	out := make([]flows.Edge, 0, len(obj.Edges))
	for i, te := range obj.Edges {
		e, err := decodeEdge(&te, eps)
		if err != nil {
			return nil, fmt.Errorf("decode %s/%s: edges[%d]%w", obj.Namespace, obj.Name, i, err)
		}
		out = append(out, e)
	}
	return out, nil
}

func decodeEdge(te *v1alpha1.TrafficEdge, eps []flows.Endpoint) (flows.Edge, error) {
	var e flows.Edge
	if te.Source < 0 || int(te.Source) >= len(eps) || te.Destination < 0 || int(te.Destination) >= len(eps) {
		return e, fmt.Errorf(".src/.dst: index outside the %d endpoints", len(eps))
	}
	e.Src, e.Dst = eps[te.Source], eps[te.Destination]
	var ok bool
	if e.Proto, ok = flows.ParseProtocol(te.Protocol); !ok {
		return e, fmt.Errorf(".proto %q is unknown", te.Protocol)
	}
	if e.Action, ok = flows.ParseAction(te.Action); !ok {
		return e, fmt.Errorf(".action %q is unknown", te.Action)
	}
	if e.Reporter, ok = flows.ParseReporter(te.Reporter); !ok {
		return e, fmt.Errorf(".reporter %q is unknown", te.Reporter)
	}
	if te.Port < 0 || te.Port > 65535 {
		return e, fmt.Errorf(".port %d is out of range", te.Port)
	}
	e.DstPort = uint16(te.Port)
	for j, row := range te.Buckets {
		if len(row) != 6 || row[1] < 0 || row[2] < 0 || row[3] < 0 {
			return e, fmt.Errorf(".buckets[%d]: want 6 non-negative counts after the start", j)
		}
		start := time.Unix(row[0], 0)
		e.Buckets = append(e.Buckets, flows.Bucket{
			Start: start, Flows: uint64(row[1]), Bytes: uint64(row[2]), Packets: uint64(row[3]),
			FirstSeen: start.Add(time.Duration(row[4]) * time.Second), LastSeen: start.Add(time.Duration(row[5]) * time.Second),
		})
	}
	for j, s := range te.Enforced {
		h, err := flows.ParsePolicyHit(s)
		if err != nil {
			return e, fmt.Errorf(".enforced[%d]: %w", j, err)
		}
		e.Enforced = append(e.Enforced, h)
	}
	for j, s := range te.Pending {
		h, err := flows.ParsePolicyHit(s)
		if err != nil {
			return e, fmt.Errorf(".pending[%d]: %w", j, err)
		}
		e.Pending = append(e.Pending, h)
	}
	return e, nil
}
