package netpol

import (
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strings"

	calicov3 "github.com/projectcalico/api/pkg/apis/projectcalico/v3"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	anp "sigs.k8s.io/network-policy-api/apis/v1alpha1"
	cnp "sigs.k8s.io/network-policy-api/apis/v1alpha2"

	"github.com/flowguard/flowguard/flows"
)

// nsName keys namespaced objects; Namespace is empty for cluster-scoped ones.
type nsName struct{ Namespace, Name string }

// NetworkSet is a compiled NetworkSet (Namespace set) or GlobalNetworkSet (Namespace empty).
type NetworkSet struct {
	Namespace, Name string
	Labels          map[string]string
	Nets            []netip.Prefix
}

// Global reports whether the set is a GlobalNetworkSet.
func (s *NetworkSet) Global() bool { return s.Namespace == "" }

// HostEndpoint is a compiled Calico HostEndpoint.
type HostEndpoint struct {
	Name, Node string
	Labels     map[string]string
	IPs        []netip.Addr
	Ports      []NamedPort
	// Profiles decide after all tiers; a host endpoint with none denies what no policy
	// allowed, as Felix does outside its failsafe ports.
	Profiles []string
}

// Cluster is the set of objects policy semantics depend on. Objects are defaulted, validated
// and (policies, tiers, sets) compiled when added. A Cluster is not safe for concurrent
// mutation; Clone is cheap (copy-on-write), and an Engine works on its own frozen clone.
type Cluster struct {
	namespaces  cow[string, *corev1.Namespace]
	pods        nsCow[nsName, *corev1.Pod]
	controllers nsCow[WorkloadRef, runtime.Object]
	accounts    nsCow[nsName, *corev1.ServiceAccount]
	services    cow[nsName, *corev1.Service]
	policies    nsCow[PolicyRef, *Policy]
	tiers       cow[string, *Tier]
	sets        cow[nsName, *NetworkSet]
	hosts       cow[string, *HostEndpoint]

	// ids is derived from the identity objects (everything but namespaces, policies and
	// tiers) and rebuilt lazily after they change, namespace by namespace; it is immutable
	// and shared between clones. dirtyNS, dirtySets and dirtyHosts say what changed since it
	// was built.
	ids                   *identityIndex
	dirtyNS               map[string]bool
	dirtySets, dirtyHosts bool
	// frozen marks an engine's snapshot: it is never written again, so cloning it (from
	// concurrent WithChange calls) must not write either.
	frozen bool
}

// NewCluster returns an empty cluster.
func NewCluster() *Cluster { return &Cluster{} }

// Clone returns a copy that shares storage with c until either is modified.
func (c *Cluster) Clone() *Cluster {
	if !c.frozen {
		c.share()
	}
	cp := *c
	cp.frozen = false
	cp.dirtyNS = maps.Clone(c.dirtyNS)
	return &cp
}

// share marks every map as shared with copies, so that the next write copies it first.
func (c *Cluster) share() {
	c.pods.share()
	c.controllers.share()
	c.accounts.share()
	c.policies.share()
	c.namespaces.shared, c.services.shared = true, true
	c.tiers.shared, c.sets.shared, c.hosts.shared = true, true, true
}

// freeze makes c an engine's snapshot: never written again, so its maps are marked shared
// once and for all (clones of a frozen cluster must copy before writing, and cannot mark it).
func (c *Cluster) freeze() {
	c.share()
	c.frozen = true
}

// Add creates or replaces obj (a typed object of a kind netpol reads). The object is
// defaulted (on a copy) and validated; an invalid object is refused with an *ObjectError
// naming the fields, and the cluster is unchanged.
func (c *Cluster) Add(obj runtime.Object) error {
	if oe := c.add(obj, Source{}); oe != nil {
		return oe
	}
	return nil
}

func (c *Cluster) add(obj runtime.Object, src Source) *ObjectError {
	if c.frozen {
		return &ObjectError{Source: src, Err: errors.New("the cluster is an engine's snapshot: Clone it before changing it")}
	}
	if obj == nil {
		return &ObjectError{Source: src, Err: errors.New("nil object")}
	}
	obj = Defaulted(obj)
	kind, ns, name := describe(obj)
	switch o := obj.(type) {
	case *corev1.Namespace:
		c.namespaces.set(o.Name, o)
	case *corev1.Pod:
		c.pods.set(nsName{ns, name}, o)
	case *corev1.ServiceAccount:
		c.accounts.set(nsName{ns, name}, o)
	case *corev1.Service:
		c.services.set(nsName{ns, name}, o)
	case *networkingv1.NetworkPolicy:
		p, errs := compileKubernetesPolicy(o)
		if len(errs) > 0 {
			return objectError(obj, src, errs, nil)
		}
		c.policies.set(p.Ref, p)
	case *calicov3.StagedKubernetesNetworkPolicy:
		p, errs := compileStagedKubernetesPolicy(o)
		if len(errs) > 0 {
			return objectError(obj, src, errs, nil)
		}
		c.policies.set(p.Ref, p)
	case *calicov3.NetworkPolicy, *calicov3.GlobalNetworkPolicy, *calicov3.StagedNetworkPolicy, *calicov3.StagedGlobalNetworkPolicy:
		p, errs := compileCalicoPolicy(obj)
		if len(errs) > 0 {
			return objectError(obj, src, errs, nil)
		}
		c.policies.set(p.Ref, p)
	case *anp.AdminNetworkPolicy, *anp.BaselineAdminNetworkPolicy, *cnp.ClusterNetworkPolicy:
		p, errs := compileAdminPolicy(obj)
		if len(errs) > 0 {
			return objectError(obj, src, errs, nil)
		}
		c.policies.set(p.Ref, p)
	case *calicov3.Tier:
		t, errs := compileTier(o)
		if len(errs) > 0 {
			return objectError(obj, src, errs, nil)
		}
		c.tiers.set(t.Name, t)
	case *calicov3.NetworkSet:
		s, errs := compileNetworkSet(ns, name, o.Labels, o.Spec.Nets)
		if len(errs) > 0 {
			return objectError(obj, src, errs, nil)
		}
		c.sets.set(nsName{ns, name}, s)
	case *calicov3.GlobalNetworkSet:
		s, errs := compileNetworkSet("", name, o.Labels, o.Spec.Nets)
		if len(errs) > 0 {
			return objectError(obj, src, errs, nil)
		}
		c.sets.set(nsName{"", name}, s)
	case *calicov3.HostEndpoint:
		h, errs := compileHostEndpoint(o)
		if len(errs) > 0 {
			return objectError(obj, src, errs, nil)
		}
		c.hosts.set(name, h)
	default:
		if podTemplateOf(obj) == nil {
			return objectError(obj, src, nil, errUnsupportedKind(obj))
		}
		c.controllers.set(WorkloadRef{Kind: kind, Namespace: ns, Name: name}, obj)
	}
	c.touchFor(obj, ns)
	return nil
}

// touchFor marks what an added or removed object changes in the identity index: namespaces,
// policies and tiers are not in it.
func (c *Cluster) touchFor(obj runtime.Object, ns string) {
	switch obj.(type) {
	case *corev1.Namespace, *calicov3.Tier:
	case *calicov3.NetworkSet, *calicov3.GlobalNetworkSet:
		c.dirtySets = true
	case *calicov3.HostEndpoint:
		c.dirtyHosts = true
	default:
		if _, isPolicy := policyRefOf(obj); !isPolicy {
			if c.dirtyNS == nil {
				c.dirtyNS = map[string]bool{}
			}
			c.dirtyNS[ns] = true
		}
	}
}

// Remove deletes the object with obj's kind, namespace and name; removing an object that is
// not there is not an error.
func (c *Cluster) Remove(obj runtime.Object) error {
	if c.frozen {
		return errors.New("remove: the cluster is an engine's snapshot: Clone it before changing it")
	}
	if obj == nil {
		return errors.New("remove: nil object")
	}
	kind, ns, name := describe(obj)
	if ref, ok := policyRefOf(obj); ok {
		c.policies.del(ref)
		return nil
	}
	switch obj.(type) {
	case *corev1.Namespace:
		c.namespaces.del(name)
	case *corev1.Pod:
		c.pods.del(nsName{ns, name})
	case *corev1.ServiceAccount:
		c.accounts.del(nsName{ns, name})
	case *corev1.Service:
		c.services.del(nsName{ns, name})
	case *calicov3.Tier:
		c.tiers.del(name)
		return nil
	case *calicov3.NetworkSet:
		c.sets.del(nsName{ns, name})
	case *calicov3.GlobalNetworkSet:
		c.sets.del(nsName{"", name})
	case *calicov3.HostEndpoint:
		c.hosts.del(name)
	default:
		if podTemplateOf(obj) == nil {
			return fmt.Errorf("remove %s %s/%s: %w", kind, ns, name, errUnsupportedKind(obj))
		}
		c.controllers.del(WorkloadRef{Kind: kind, Namespace: ns, Name: name})
	}
	c.touchFor(obj, ns)
	return nil
}

// policyRefOf returns the PolicyRef of a policy object.
func policyRefOf(obj runtime.Object) (PolicyRef, bool) {
	_, ns, name := describe(obj)
	switch obj.(type) {
	case *networkingv1.NetworkPolicy:
		return PolicyRef{KindKubernetesNetworkPolicy, ns, name}, true
	case *calicov3.NetworkPolicy:
		return PolicyRef{KindNetworkPolicy, ns, name}, true
	case *calicov3.GlobalNetworkPolicy:
		return PolicyRef{KindGlobalNetworkPolicy, "", name}, true
	case *calicov3.StagedNetworkPolicy:
		return PolicyRef{KindStagedNetworkPolicy, ns, name}, true
	case *calicov3.StagedGlobalNetworkPolicy:
		return PolicyRef{KindStagedGlobalNetworkPolicy, "", name}, true
	case *calicov3.StagedKubernetesNetworkPolicy:
		return PolicyRef{KindStagedKubernetesNetworkPolicy, ns, name}, true
	case *anp.AdminNetworkPolicy:
		return PolicyRef{KindAdminNetworkPolicy, "", name}, true
	case *anp.BaselineAdminNetworkPolicy:
		return PolicyRef{KindBaselineAdminNetworkPolicy, "", name}, true
	case *cnp.ClusterNetworkPolicy:
		return PolicyRef{KindClusterNetworkPolicy, "", name}, true
	}
	return PolicyRef{}, false
}

func compileTier(t *calicov3.Tier) (*Tier, field.ErrorList) {
	out := &Tier{Name: t.Name, DefaultAction: ActionDeny}
	if t.Spec.Order != nil {
		out.Order, out.HasOrder = *t.Spec.Order, true
	}
	if t.Spec.DefaultAction != nil {
		switch *t.Spec.DefaultAction {
		case calicov3.Deny:
		case calicov3.Pass:
			out.DefaultAction = ActionPass
		default:
			return nil, field.ErrorList{field.NotSupported(field.NewPath("spec", "defaultAction"), *t.Spec.DefaultAction,
				[]calicov3.Action{calicov3.Deny, calicov3.Pass})}
		}
	}
	return out, nil
}

func compileNetworkSet(ns, name string, labels map[string]string, nets []string) (*NetworkSet, field.ErrorList) {
	var errs field.ErrorList
	s := &NetworkSet{Namespace: ns, Name: name, Labels: labels}
	s.Nets = compileNets(nets, field.NewPath("spec", "nets"), &errs)
	return s, errs
}

func compileHostEndpoint(h *calicov3.HostEndpoint) (*HostEndpoint, field.ErrorList) {
	var errs field.ErrorList
	out := &HostEndpoint{Name: h.Name, Node: h.Spec.Node, Labels: h.Labels, Profiles: h.Spec.Profiles}
	for i, ip := range h.Spec.ExpectedIPs {
		a, err := netip.ParseAddr(ip)
		if err != nil {
			errs = append(errs, field.Invalid(field.NewPath("spec", "expectedIPs").Index(i), ip, "must be an IP address"))
			continue
		}
		out.IPs = append(out.IPs, a)
	}
	for i, p := range h.Spec.Ports {
		proto := compileProtocol(&p.Protocol, field.NewPath("spec", "ports").Index(i).Child("protocol"), &errs)
		out.Ports = append(out.Ports, NamedPort{Name: p.Name, Proto: flows.Protocol(proto.num), Port: p.Port})
	}
	return out, errs
}

// Policies returns every policy, staged ones included, ordered by kind, namespace and name.
func (c *Cluster) Policies() []*Policy {
	var out []*Policy
	for _, p := range c.policies.all() {
		out = append(out, p)
	}
	slices.SortFunc(out, func(a, b *Policy) int { return compareRefs(a.Ref, b.Ref) })
	return out
}

// Policy returns the policy ref names, or nil.
func (c *Cluster) Policy(ref PolicyRef) *Policy { return c.policies.lookup(ref) }

func compareRefs(a, b PolicyRef) int {
	if a.Kind != b.Kind {
		return int(a.Kind) - int(b.Kind)
	}
	if c := strings.Compare(a.Namespace, b.Namespace); c != 0 {
		return c
	}
	return strings.Compare(a.Name, b.Name)
}

// Tiers returns the tiers in evaluation order, tier "default" included even when no Tier
// object names it, and the tiers Calico creates for the admin policy kinds when a policy is
// in one.
func (c *Cluster) Tiers() []*Tier {
	out := slices.Collect(maps.Values(c.tiers.m))
	builtin := map[string]bool{DefaultTier: true}
	for _, p := range c.policies.all() {
		if _, ok := builtinTier(p.Tier); ok {
			builtin[p.Tier] = true
		}
	}
	for name := range builtin {
		if _, ok := c.tiers.m[name]; !ok {
			t, _ := builtinTier(name)
			out = append(out, t)
		}
	}
	slices.SortFunc(out, compareTiers)
	return out
}

// tier returns the named tier; a policy naming a tier that does not exist is placed in one
// with no order (last) and the default action Deny.
func (c *Cluster) tier(name string) *Tier {
	if t, ok := c.tiers.m[name]; ok {
		return t
	}
	if t, ok := builtinTier(name); ok {
		return t
	}
	return &Tier{Name: name, DefaultAction: ActionDeny}
}

func compareTiers(a, b *Tier) int {
	return compareOrder(a.Order, a.HasOrder, b.Order, b.HasOrder, a.Name, b.Name)
}

// compareOrder sorts by order ascending, unordered last, then by name.
func compareOrder(ao float64, ah bool, bo float64, bh bool, an, bn string) int {
	switch {
	case ah && !bh:
		return -1
	case !ah && bh:
		return 1
	case ah && bh && ao != bo:
		if ao < bo {
			return -1
		}
		return 1
	}
	return strings.Compare(an, bn)
}

// NetworkSets returns every NetworkSet and GlobalNetworkSet, global ones first, by name.
func (c *Cluster) NetworkSets() []*NetworkSet {
	out := slices.Collect(maps.Values(c.sets.m))
	slices.SortFunc(out, func(a, b *NetworkSet) int {
		if c := strings.Compare(a.Namespace, b.Namespace); c != 0 {
			return c
		}
		return strings.Compare(a.Name, b.Name)
	})
	return out
}

// NamespaceLabels returns the labels of a namespace as policies see them: its own labels plus
// the automatic kubernetes.io/metadata.name, and Calico's projectcalico.org/name. A namespace
// without a Namespace object has the automatic labels only; known reports which.
func (c *Cluster) NamespaceLabels(name string) (labels map[string]string, known bool) {
	ns, known := c.namespaces.m[name]
	labels = map[string]string{}
	if known {
		maps.Copy(labels, ns.Labels)
	}
	labels[corev1.LabelMetadataName] = name
	labels[labelCalicoName] = name
	return labels, known
}
