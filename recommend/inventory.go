package recommend

import (
	"cmp"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/flowguard/flowguard/flows"
	"github.com/flowguard/flowguard/netpol"
)

// group is the unit policies select: the workloads of one namespace that share the same
// stable labels (almost always exactly one workload). Workloads no stable label tells apart
// cannot be told apart by any policy either, so they share one.
type group struct {
	ns      string
	members []*netpol.Workload // sorted by name, then kind
	stable  map[string]string
	sel     labelSelector
	// selectable is false when the workload has no stable label at all: no selector could
	// pick its pods without picking every pod of the namespace.
	selectable bool
	// hostNetwork: policies do not apply to pods on the host's network namespace.
	hostNetwork bool
	name        string // policy name (StyleKubernetes)
	key         string // sort key among peers
	// Renderings computed once: the podSelector, the Calico selector, the members and the
	// name for people.
	k8sSel                           metav1.LabelSelector
	calicoSel, memberList, refString string
}

// ref names the group for people: the first member, with the count of the others.
func (g *group) ref() string {
	if g.refString != "" {
		return g.refString
	}
	s := g.members[0].String()
	if n := len(g.members) - 1; n > 0 {
		s += " (+" + strconv.Itoa(n) + " with the same labels)"
	}
	return s
}

// portName returns the name every member gives (proto, port), or "" when they do not agree.
func (g *group) portName(proto flows.Protocol, port uint16) string {
	name := ""
	for i, w := range g.members {
		n := ""
		for _, p := range w.Ports {
			if p.Proto == proto && p.Port == port {
				if n != "" && n != p.Name {
					return "" // two names for one port: let the number speak
				}
				n = p.Name
			}
		}
		if n == "" || (i > 0 && n != name) {
			return ""
		}
		// A name used for two different ports on the pod would resolve ambiguously.
		for _, p := range w.Ports {
			if p.Name == n && p.Proto == proto && p.Port != port {
				return ""
			}
		}
		name = n
	}
	return name
}

// namespaceInv is one namespace of the cluster model.
type namespaceInv struct {
	name   string
	groups []*group
	// byName finds groups by workload name and by the names of the pods folded into them.
	byName map[string][]*group
}

// inventory is the cluster model as recommendations need it.
type inventory struct {
	namespaces map[string]*namespaceInv
	sets       map[[2]string]*netpol.NetworkSet // by namespace ("" for global), name
	byIP       map[netip.Addr]*group
	vol        volatility
}

// newInventory groups the workloads of each namespace and computes their selectors.
func newInventory(c *netpol.Cluster, vol volatility) *inventory {
	inv := &inventory{
		namespaces: map[string]*namespaceInv{},
		sets:       map[[2]string]*netpol.NetworkSet{},
		byIP:       map[netip.Addr]*group{},
		vol:        vol,
	}
	nsOf := func(name string) *namespaceInv {
		n := inv.namespaces[name]
		if n == nil {
			n = &namespaceInv{name: name, byName: map[string][]*group{}}
			inv.namespaces[name] = n
		}
		return n
	}
	for _, ns := range c.Namespaces() {
		nsOf(ns.Name)
	}
	byKey := map[[2]string]*group{}
	for _, w := range c.Workloads() { // sorted by namespace, name, kind
		n := nsOf(w.Namespace)
		stable := vol.stable(w.Labels)
		k := [2]string{w.Namespace, labelKey(stable)}
		g := byKey[k]
		if g == nil {
			g = &group{ns: w.Namespace, stable: stable, selectable: len(stable) > 0}
			byKey[k] = g
			n.groups = append(n.groups, g)
		}
		g.members = append(g.members, w)
		g.hostNetwork = g.hostNetwork || w.HostNetwork
		n.byName[w.Name] = appendUnique(n.byName[w.Name], g)
		for _, p := range w.Pods {
			n.byName[p] = appendUnique(n.byName[p], g)
		}
		for _, ip := range w.IPs {
			inv.byIP[ip] = g
		}
	}
	for _, n := range inv.namespaces {
		n.selectors()
	}
	for _, s := range c.NetworkSets() {
		inv.sets[[2]string{s.Namespace, s.Name}] = s
	}
	return inv
}

// selectors gives each group of the namespace its selector and policy name.
func (n *namespaceInv) selectors() {
	for _, g := range n.groups {
		if !g.selectable {
			continue
		}
		others := make([]map[string]string, 0, len(n.groups)-1)
		for _, o := range n.groups {
			if o != g {
				others = append(others, o.stable)
			}
		}
		g.sel = distinguish(g.stable, others)
	}
	// Policy names: flowguard-<workload>; where two groups would share one (a Deployment and
	// a StatefulSet of the same name), both carry their kind.
	// A workload named like a namespace-wide policy ("default-deny") carries its kind too.
	count := map[string]int{
		strings.TrimPrefix(DefaultDenyName, namePrefix): 1,
		strings.TrimPrefix(AllowDNSName, namePrefix):    1,
	}
	for _, g := range n.groups {
		count[g.members[0].Name]++
	}
	for _, g := range n.groups {
		w := g.members[0]
		base := w.Name
		if count[base] > 1 {
			base = strings.ToLower(w.Kind) + "-" + base
		}
		g.name = policyName(base)
		g.key = "1/" + g.ns + "/" + g.name
		g.k8sSel = g.sel.kubernetes()
		g.calicoSel = g.sel.calico()
		g.memberList = memberList(g)
		g.refString = g.ref()
	}
	slices.SortFunc(n.groups, func(a, b *group) int { return cmp.Compare(a.name, b.name) })
}

func appendUnique(gs []*group, g *group) []*group {
	if slices.Contains(gs, g) {
		return gs
	}
	return append(gs, g)
}

// scopedNamespaces returns the namespaces policies are recommended for, sorted.
func (inv *inventory) scopedNamespaces(o *Options) []string {
	var out []string
	for name := range inv.namespaces {
		if o.inScope(name) {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}
