package netpol

import (
	"maps"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// Namespaces returns the Namespace objects, sorted by name. They must not be modified.
func (c *Cluster) Namespaces() []*corev1.Namespace {
	out := slices.Collect(maps.Values(c.namespaces.m))
	slices.SortFunc(out, func(a, b *corev1.Namespace) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// Workloads returns the workloads: pod-template controllers at the top of their owner chain
// and pods no controller owns, with their pods folded in, sorted by namespace, name and kind.
// They must not be modified.
func (c *Cluster) Workloads() []*Workload {
	return c.identities().workloads()
}

// WorkloadObject returns the object a workload was read from (a Pod or a controller), or nil.
func (c *Cluster) WorkloadObject(ref WorkloadRef) runtime.Object {
	if ref.Kind == "Pod" {
		if p, ok := c.pods.get(nsName{ref.Namespace, ref.Name}); ok {
			return p
		}
		return nil
	}
	return c.controllers.lookup(ref)
}

// HostEndpoints returns the Calico host endpoints, sorted by name. They must not be modified.
func (c *Cluster) HostEndpoints() []*HostEndpoint {
	out := slices.Collect(maps.Values(c.hosts.m))
	slices.SortFunc(out, func(a, b *HostEndpoint) int { return strings.Compare(a.Name, b.Name) })
	return out
}
