package netpol

import (
	"iter"
	"maps"
)

// cow is a map shared between cluster copies until one of them writes to it.
type cow[K comparable, V any] struct {
	m      map[K]V
	shared bool
}

func (c *cow[K, V]) set(k K, v V) {
	c.own()
	c.m[k] = v
}

func (c *cow[K, V]) del(k K) bool {
	if _, ok := c.m[k]; !ok {
		return false
	}
	c.own()
	delete(c.m, k)
	return true
}

func (c *cow[K, V]) own() {
	if c.shared || c.m == nil {
		c.m = maps.Clone(c.m)
		if c.m == nil {
			c.m = map[K]V{}
		}
		c.shared = false
	}
}

// namespacedKey is a key of a namespaced object (namespace "" for cluster-scoped ones).
type namespacedKey interface {
	comparable
	namespace() string
}

func (k nsName) namespace() string      { return k.Namespace }
func (r PolicyRef) namespace() string   { return r.Namespace }
func (r WorkloadRef) namespace() string { return r.Namespace }

// nsCow is a cow map split by namespace, for the kinds a cluster has thousands of: a copy
// that writes copies the one namespace's map, and a few entries of the map of namespaces.
type nsCow[K namespacedKey, V any] struct {
	parts layered[map[K]V]
	// owned lists the namespace maps this copy made since it last shared its maps.
	owned map[string]bool
}

func (c *nsCow[K, V]) get(k K) (V, bool) {
	m, _ := c.parts.get(k.namespace())
	v, ok := m[k]
	return v, ok
}

// lookup returns the value of k, or the zero value.
func (c *nsCow[K, V]) lookup(k K) V {
	v, _ := c.get(k)
	return v
}

func (c *nsCow[K, V]) set(k K, v V) {
	c.own(k.namespace())[k] = v
}

func (c *nsCow[K, V]) del(k K) bool {
	ns := k.namespace()
	if _, ok := c.get(k); !ok {
		return false
	}
	m := c.own(ns)
	delete(m, k)
	if len(m) == 0 {
		c.parts = c.parts.with(ns, nil, false)
		delete(c.owned, ns)
	}
	return true
}

// own returns namespace ns's map, copied first unless this copy made it.
func (c *nsCow[K, V]) own(ns string) map[K]V {
	m, _ := c.parts.get(ns)
	if !c.owned[ns] {
		m = maps.Clone(m)
		if m == nil {
			m = map[K]V{}
		}
		c.parts = c.parts.with(ns, m, true)
		if c.owned == nil {
			c.owned = map[string]bool{}
		}
		c.owned[ns] = true
	}
	return m
}

// share marks the maps as shared with a copy.
func (c *nsCow[K, V]) share() { c.owned = nil }

// inNamespace returns namespace ns's entries, which must not be modified.
func (c *nsCow[K, V]) inNamespace(ns string) map[K]V {
	m, _ := c.parts.get(ns)
	return m
}

// all yields every entry.
func (c *nsCow[K, V]) all() iter.Seq2[K, V] {
	return func(yield func(K, V) bool) {
		for _, m := range c.parts.all() {
			for k, v := range m {
				if !yield(k, v) {
					return
				}
			}
		}
	}
}

// namespaces yields the namespaces that hold entries.
func (c *nsCow[K, V]) namespaces() iter.Seq[string] {
	return func(yield func(string) bool) {
		for ns, m := range c.parts.all() {
			if len(m) > 0 && !yield(ns) {
				return
			}
		}
	}
}

// layered maps namespaces to values and is never modified: with returns a new map. To
// spare copying every namespace's entry for a change to one, a layered map is the map it
// started from and the entries changed since; past maxLayered of those it is merged into a
// new map.
type layered[V any] struct {
	base    map[string]V
	changed map[string]layer[V]
}

// layer is a changed entry: a new value, or a deletion.
type layer[V any] struct {
	v  V
	ok bool
}

const maxLayered = 8

func (l layered[V]) get(k string) (V, bool) {
	if e, in := l.changed[k]; in {
		return e.v, e.ok
	}
	v, ok := l.base[k]
	return v, ok
}

// with returns the map with k set to v, or deleted when ok is false.
func (l layered[V]) with(k string, v V, ok bool) layered[V] {
	changed := make(map[string]layer[V], len(l.changed)+1)
	maps.Copy(changed, l.changed)
	changed[k] = layer[V]{v: v, ok: ok}
	if len(changed) <= maxLayered {
		return layered[V]{base: l.base, changed: changed}
	}
	base := maps.Clone(l.base)
	if base == nil {
		base = map[string]V{}
	}
	for k, e := range changed {
		if e.ok {
			base[k] = e.v
		} else {
			delete(base, k)
		}
	}
	return layered[V]{base: base}
}

// all yields every entry.
func (l layered[V]) all() iter.Seq2[string, V] {
	return func(yield func(string, V) bool) {
		for k, v := range l.base {
			if _, in := l.changed[k]; !in && !yield(k, v) {
				return
			}
		}
		for k, e := range l.changed {
			if e.ok && !yield(k, e.v) {
				return
			}
		}
	}
}

// keys yields every key.
func (l layered[V]) keys() iter.Seq[string] {
	return func(yield func(string) bool) {
		for k := range l.all() {
			if !yield(k) {
				return
			}
		}
	}
}
