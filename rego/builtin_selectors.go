package rego

import (
	"fmt"
	"maps"
	"slices"
	"sync"

	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/flowguard/flowguard/netpol"
	"github.com/flowguard/flowguard/netpol/selector"
)

// inventory is what selectors can match in one cluster snapshot, with the labels policies see
// (Calico's automatic labels included), indexed by namespace.
type inventory struct {
	workloads  map[string][]selector.Map // by namespace
	namespaces []string
	nsLabels   map[string]selector.Map
	sets       map[string][]selector.Map // by namespace; "" for global sets
	hosts      []selector.Map
}

func buildInventory(c *netpol.Cluster) *inventory {
	inv := &inventory{workloads: map[string][]selector.Map{}, nsLabels: map[string]selector.Map{}, sets: map[string][]selector.Map{}}
	addNS := func(ns string) {
		if _, ok := inv.nsLabels[ns]; !ok && ns != "" {
			l, _ := c.NamespaceLabels(ns)
			inv.nsLabels[ns] = l
		}
	}
	for _, ns := range c.Namespaces() {
		addNS(ns.Name)
	}
	for _, w := range c.Workloads() {
		l := selector.Map{}
		maps.Copy(l, w.Labels)
		l["projectcalico.org/namespace"] = w.Namespace
		l["projectcalico.org/orchestrator"] = "k8s"
		if w.ServiceAccount != "" {
			l["projectcalico.org/serviceaccount"] = w.ServiceAccount
		}
		inv.workloads[w.Namespace] = append(inv.workloads[w.Namespace], l)
		addNS(w.Namespace)
	}
	for _, s := range c.NetworkSets() {
		inv.sets[s.Namespace] = append(inv.sets[s.Namespace], selector.Map(s.Labels))
	}
	for _, h := range c.HostEndpoints() {
		inv.hosts = append(inv.hosts, selector.Map(h.Labels))
	}
	inv.namespaces = slices.Sorted(maps.Keys(inv.nsLabels))
	return inv
}

// inventories keeps the inventory of the latest cluster snapshot.
type inventories struct {
	mu      sync.Mutex
	cluster *netpol.Cluster
	inv     *inventory
}

func (i *inventories) get(c *netpol.Cluster) *inventory {
	i.mu.Lock()
	defer i.mu.Unlock()
	if i.cluster != c || i.inv == nil {
		i.cluster, i.inv = c, buildInventory(c)
	}
	return i.inv
}

// selectorUse is one selector of a policy and how many things it matches.
type selectorUse struct {
	path, selector, what string
	matches              int
}

// selectors answers flowguard.selectors(policy): every non-empty selector of the policy (its
// subject selector, each peer's pod and namespace selectors, each Calico rule's selector and
// namespaceSelector) with how many workloads, namespaces, network sets or host endpoints it
// matches in the cluster. Selectors that match by design whatever exists (podSelector {},
// all()) and negative ones (notSelector) are left out. Workloads and namespaces are those of
// the State's cluster: a policy change does not change them.
func (d *decision) selectors(args []*ast.Term) (ast.Value, error) {
	_, ref, err := d.policyArg(args[0])
	if err != nil {
		return nil, err
	}
	w, err := d.world()
	if err != nil {
		return nil, err
	}
	p := w.Cluster().Policy(ref)
	if p == nil {
		return ast.NewArray(), nil
	}
	inv := d.shared.inventories.get(d.base().Cluster())
	var uses []selectorUse
	subjectNS := []string{p.Ref.Namespace}
	if p.Ref.Namespace == "" {
		subjectNS = inv.namespaces
	}
	if sel := p.Selector(); sel != nil && !sel.IsAll() {
		path, what := "spec.selector", "endpoints"
		if p.Kubernetes {
			path, what = "spec.podSelector", "pods in namespace "+p.Ref.Namespace
		} else if p.Ref.Namespace != "" {
			what = "workloads in namespace " + p.Ref.Namespace
		}
		n := inv.countWorkloads(sel, subjectNS, (*selector.Selector).Matches)
		if p.Ref.Namespace == "" {
			n += countMaps(sel, inv.hosts)
		}
		uses = append(uses, selectorUse{path: path, selector: sel.String(), what: what, matches: n})
	}
	for _, dir := range []netpol.Direction{netpol.Ingress, netpol.Egress} {
		for _, r := range p.Rules[dir] {
			base := fmt.Sprintf("spec.%s[%d]", dirName(dir), r.Index)
			if p.Kubernetes {
				uses = append(uses, inv.kubernetesPeers(p, dir, r, base)...)
			} else {
				uses = append(uses, inv.calicoEntity(p, r.Src, base+".source")...)
				uses = append(uses, inv.calicoEntity(p, r.Dst, base+".destination")...)
			}
		}
	}
	out := ast.NewArray()
	for _, u := range uses {
		out = out.Append(ast.NewTerm(ast.NewObject(
			ast.Item(ast.StringTerm("path"), ast.StringTerm(u.path)),
			ast.Item(ast.StringTerm("selector"), ast.StringTerm(u.selector)),
			ast.Item(ast.StringTerm("what"), ast.StringTerm(u.what)),
			ast.Item(ast.StringTerm("matches"), ast.IntNumberTerm(u.matches)),
		)))
	}
	return out, nil
}

func (inv *inventory) kubernetesPeers(p *netpol.Policy, dir netpol.Direction, r netpol.Rule, base string) []selectorUse {
	field, peers := "from", r.Src.Peers
	if dir == netpol.Egress {
		field, peers = "to", r.Dst.Peers
	}
	var uses []selectorUse
	for j, peer := range peers {
		if peer.IPBlock != nil {
			continue
		}
		path := fmt.Sprintf("%s.%s[%d]", base, field, j)
		scope := []string{p.Ref.Namespace}
		what := "pods in namespace " + p.Ref.Namespace
		if peer.NS != nil {
			scope = inv.matchingNamespaces(peer.NS, (*selector.Selector).Matches)
			what = "pods in the namespaces its namespaceSelector selects"
			if !peer.NS.IsAll() {
				uses = append(uses, selectorUse{path: path + ".namespaceSelector", selector: peer.NS.String(), what: "namespaces", matches: len(scope)})
				if len(scope) == 0 {
					continue // reported once, at the namespaceSelector
				}
			}
		}
		if peer.Pods != nil && !peer.Pods.IsAll() {
			uses = append(uses, selectorUse{path: path + ".podSelector", selector: peer.Pods.String(), what: what,
				matches: inv.countWorkloads(peer.Pods, scope, (*selector.Selector).Matches)})
		}
	}
	return uses
}

func (inv *inventory) calicoEntity(p *netpol.Policy, e netpol.Entity, path string) []selectorUse {
	var uses []selectorUse
	scope := []string{p.Ref.Namespace}
	what := "workloads or network sets in namespace " + p.Ref.Namespace
	global := p.Ref.Namespace == ""
	if global {
		scope, what = inv.namespaces, "endpoints or network sets"
	}
	if e.NSSel != nil {
		scope = inv.matchingNamespaces(e.NSSel, (*selector.Selector).MatchesNamespaceOf)
		global = e.NSSel.UsesGlobal() || e.NSSel.MatchesNamespaceOf(nil)
		what = "endpoints or network sets in the namespaces its namespaceSelector selects"
		if !e.NSSel.IsAll() {
			n := len(scope)
			if global {
				n++ // global() stands for everything outside namespaces
			}
			uses = append(uses, selectorUse{path: path + ".namespaceSelector", selector: e.NSSel.String(), what: "namespaces", matches: n})
			if n == 0 {
				return uses
			}
		}
	}
	if e.Sel != nil && !e.Sel.IsAll() {
		n := inv.countWorkloads(e.Sel, scope, (*selector.Selector).Matches)
		for _, ns := range scope {
			n += countMaps(e.Sel, inv.sets[ns])
		}
		if global {
			n += countMaps(e.Sel, inv.sets[""]) + countMaps(e.Sel, inv.hosts)
		}
		uses = append(uses, selectorUse{path: path + ".selector", selector: e.Sel.String(), what: what, matches: n})
	}
	return uses
}

// matchingNamespaces lists the namespaces whose labels a namespace selector matches.
func (inv *inventory) matchingNamespaces(sel *selector.Selector, match func(*selector.Selector, selector.Labels) bool) []string {
	var out []string
	for _, ns := range inv.namespaces {
		if match(sel, inv.nsLabels[ns]) {
			out = append(out, ns)
		}
	}
	return out
}

func (inv *inventory) countWorkloads(sel *selector.Selector, namespaces []string, match func(*selector.Selector, selector.Labels) bool) int {
	n := 0
	for _, ns := range namespaces {
		for _, l := range inv.workloads[ns] {
			if match(sel, l) {
				n++
			}
		}
	}
	return n
}

func countMaps(sel *selector.Selector, labels []selector.Map) int {
	n := 0
	for _, l := range labels {
		if sel.Matches(l) {
			n++
		}
	}
	return n
}
