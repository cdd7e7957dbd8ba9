package netpol

import (
	"errors"
	"fmt"
	"net/netip"

	calicov3 "github.com/projectcalico/api/pkg/apis/projectcalico/v3"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// Operation is an admission operation; the values are admission/v1's, so a webhook can
// convert req.Operation directly.
type Operation string

const (
	Create Operation = "CREATE"
	Update Operation = "UPDATE"
	Delete Operation = "DELETE"
)

// change records what one WithChange did, so Impact can tell which endpoints it may touch.
type change struct {
	// policies changed (old and new compiled forms; either may be nil).
	oldPolicy, newPolicy *Policy
	// tier names a tier whose order or default action changed.
	tier string
	// namespace names the namespace whose objects (labels, workloads, pods, services,
	// service accounts, namespaced sets) changed.
	namespace string
	nsChanged bool
	// sets and hosts: nets and addresses whose membership changed.
	nets  []netip.Prefix
	hosts bool
}

// WithChange returns the cluster after one create, update or delete, leaving c unchanged.
// For Create and Update newObj is added (replacing an object of the same kind and name); for
// Delete oldObj (or newObj when oldObj is nil) is removed.
func (c *Cluster) WithChange(op Operation, oldObj, newObj runtime.Object) (*Cluster, error) {
	next := c.Clone()
	switch op {
	case Create, Update:
		if newObj == nil {
			return nil, fmt.Errorf("%s: no new object", op)
		}
		if err := next.Add(newObj); err != nil {
			return nil, err
		}
	case Delete:
		obj := oldObj
		if obj == nil {
			obj = newObj
		}
		if obj == nil {
			return nil, errors.New("DELETE: no object")
		}
		if err := next.Remove(obj); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("unsupported operation %q", op)
	}
	return next, nil
}

// WithChange returns an engine for the cluster after one create, update or delete of any
// kind netpol reads, sharing with e everything the change cannot affect. Impact(e, result,
// ...) then evaluates only the connections the change can touch. An invalid new object is
// refused with an *ObjectError.
func (e *Engine) WithChange(op Operation, oldObj, newObj runtime.Object) (*Engine, error) {
	next, err := e.cluster.WithChange(op, oldObj, newObj)
	if err != nil {
		return nil, err
	}
	obj := newObj
	if op == Delete && oldObj != nil || obj == nil {
		obj = oldObj
	}
	ch := &change{}
	var keepPolicies *policySet
	if ref, ok := policyRefOf(obj); ok {
		ch.oldPolicy, ch.newPolicy = e.cluster.Policy(ref), next.Policy(ref)
		if ref.Kind.Staged() {
			keepPolicies = e.enforced
		}
	} else {
		keepPolicies = e.enforced
		_, ns, name := describe(obj)
		switch obj.(type) {
		case *calicov3.Tier:
			ch.tier = name
			keepPolicies = nil
		case *corev1.Namespace:
			ch.namespace, ch.nsChanged = name, true
		case *calicov3.GlobalNetworkSet:
			ch.nets = setNets(e.cluster, nsName{"", name}, next)
		case *calicov3.NetworkSet:
			ch.namespace, ch.nsChanged = ns, true
			ch.nets = setNets(e.cluster, nsName{ns, name}, next)
		case *calicov3.HostEndpoint:
			ch.hosts = true
		default:
			ch.namespace, ch.nsChanged = ns, true
		}
	}
	ne := newEngine(next, keepPolicies, e, 1-e.slot)
	ne.parent, ne.change = e, ch
	return ne, nil
}

// setNets returns the nets of a set before and after a change.
func setNets(before *Cluster, k nsName, after *Cluster) []netip.Prefix {
	var out []netip.Prefix
	if s, ok := before.sets.m[k]; ok {
		out = append(out, s.Nets...)
	}
	if s, ok := after.sets.m[k]; ok {
		out = append(out, s.Nets...)
	}
	return out
}

// lineage returns the changes that lead from before to after, and false when after does not
// descend from before within a few WithChange steps.
func lineage(before, after *Engine) ([]*change, bool) {
	var out []*change
	for e := after; e != nil && len(out) <= 16; e = e.parent {
		if e == before {
			return out, true
		}
		if e.change == nil {
			return nil, false
		}
		out = append(out, e.change)
	}
	return nil, false
}
