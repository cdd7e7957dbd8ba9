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
// that writes copies the map of namespaces and the one namespace's map, not every object.
type nsCow[K namespacedKey, V any] struct {
	parts map[string]map[K]V
	// shared says parts and every map in it may be held by other copies; owned lists the
	// namespace maps this copy made since.
	shared bool
	owned  map[string]bool
}

func (c *nsCow[K, V]) get(k K) (V, bool) {
	v, ok := c.parts[k.namespace()][k]
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
	if _, ok := c.parts[ns][k]; !ok {
		return false
	}
	m := c.own(ns)
	delete(m, k)
	if len(m) == 0 {
		delete(c.parts, ns)
		delete(c.owned, ns)
	}
	return true
}

// own returns namespace ns's map, copied first unless this copy made it.
func (c *nsCow[K, V]) own(ns string) map[K]V {
	if c.shared || c.parts == nil {
		c.parts = maps.Clone(c.parts)
		if c.parts == nil {
			c.parts = map[string]map[K]V{}
		}
		c.shared, c.owned = false, map[string]bool{}
	}
	m := c.parts[ns]
	if !c.owned[ns] {
		m = maps.Clone(m)
		if m == nil {
			m = map[K]V{}
		}
		c.parts[ns] = m
		c.owned[ns] = true
	}
	return m
}

// share marks the maps as shared with a copy.
func (c *nsCow[K, V]) share() {
	c.shared, c.owned = true, nil
}

// inNamespace returns namespace ns's entries, which must not be modified.
func (c *nsCow[K, V]) inNamespace(ns string) map[K]V { return c.parts[ns] }

// all yields every entry.
func (c *nsCow[K, V]) all() iter.Seq2[K, V] {
	return func(yield func(K, V) bool) {
		for _, m := range c.parts {
			for k, v := range m {
				if !yield(k, v) {
					return
				}
			}
		}
	}
}
