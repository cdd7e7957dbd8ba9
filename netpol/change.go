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

// change records what one WithChange did: for Impact, which endpoints it may touch; for the
// derived engine, what it may share with its parent (derive.go).
type change struct {
	// policy is set for a change to the policy ref names; oldPolicy and newPolicy are its
	// compiled forms before and after (either may be nil).
	policy               bool
	ref                  PolicyRef
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

	// identity says which identity objects changed, and set which set, for sets.
	identity identityChange
	set      nsName
	// cuts are the nets the changed object cuts address space at after the change.
	cuts []netip.Prefix
}

// identityChange classifies changes by the identity objects (everything endpoints resolve
// against) they alter.
type identityChange uint8

const (
	identityNone       identityChange = iota // policies and tiers
	identityNamespace                        // a Namespace (its labels)
	identityNamespaced                       // workloads, pods, service accounts or Services of one namespace
	identitySets                             // a NetworkSet or GlobalNetworkSet
	identityHosts                            // a HostEndpoint
)

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
	if ref, ok := policyRefOf(obj); ok {
		ch.policy, ch.ref = true, ref
		ch.oldPolicy, ch.newPolicy = e.cluster.Policy(ref), next.Policy(ref)
		if ch.newPolicy != nil {
			ch.cuts = policyCuts(nil, ch.newPolicy)
		}
	} else {
		_, ns, name := describe(obj)
		switch obj.(type) {
		case *calicov3.Tier:
			ch.tier = name
		case *corev1.Namespace:
			ch.namespace, ch.nsChanged, ch.identity = name, true, identityNamespace
		case *calicov3.GlobalNetworkSet:
			ch.identity, ch.set = identitySets, nsName{"", name}
			ch.nets, ch.cuts = setNets(e.cluster, ch.set, next)
		case *calicov3.NetworkSet:
			ch.namespace, ch.nsChanged = ns, true
			ch.identity, ch.set = identitySets, nsName{ns, name}
			ch.nets, ch.cuts = setNets(e.cluster, ch.set, next)
		case *calicov3.HostEndpoint:
			ch.hosts, ch.identity = true, identityHosts
		default:
			ch.namespace, ch.nsChanged, ch.identity = ns, true, identityNamespaced
		}
	}
	return newEngine(next, e, ch), nil
}

// setNets returns the nets of a set before and after a change, and after it alone.
func setNets(before *Cluster, k nsName, after *Cluster) (both, now []netip.Prefix) {
	if s, ok := before.sets.m[k]; ok {
		both = append(both, s.Nets...)
	}
	if s, ok := after.sets.m[k]; ok {
		both = append(both, s.Nets...)
		now = s.Nets
	}
	return both, now
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
