package rego

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	calicov3 "github.com/projectcalico/api/pkg/apis/projectcalico/v3"

	"github.com/flowguard/flowguard/flows"
	"github.com/flowguard/flowguard/netpol"
	"github.com/flowguard/flowguard/netpol/selector"
)

// ruleUse is what the observed traffic did through one rule.
type ruleUse struct {
	flows uint64
	last  time.Time
	peers map[string]*flows.Endpoint
	ports map[portUse]bool
}

type portUse struct {
	proto flows.Protocol
	port  uint16
}

func (u *ruleUse) add(peer *flows.Endpoint, c *conn, t tally) {
	if u.peers == nil {
		u.peers, u.ports = map[string]*flows.Endpoint{}, map[portUse]bool{}
	}
	u.flows += t.flows
	if t.last.After(u.last) {
		u.last = t.last
	}
	u.peers[endpointText(peer)] = peer
	u.ports[portUse{c.key.proto, c.key.port}] = true
}

// ruleUsage answers flowguard.rule_usage(policy): per rule of the policy, the observed flows in
// the lookback window that it decided (a flow is credited to the rule that decided it, the
// first in evaluation order, so a rule that only repeats an earlier one decides nothing), the
// peers and ports they used, the flows that reached the endpoints the policy selects in that
// direction, and the rule narrowed to the observed traffic.
func (d *decision) ruleUsage(args []*ast.Term) (ast.Value, error) {
	obj, ref, err := d.policyArg(args[0])
	if err != nil {
		return nil, err
	}
	g, err := d.traffic()
	if err != nil {
		return nil, err
	}
	w, err := d.world()
	if err != nil {
		return nil, err
	}
	p := w.Cluster().Policy(ref)
	if p == nil {
		return ast.NewArray(), nil // deleted, or not a policy netpol could compile
	}
	subject := newSubjectMatcher(w.Cluster(), p)
	out := ast.NewArray()
	for _, dir := range []netpol.Direction{netpol.Ingress, netpol.Egress} {
		rules := p.Rules[dir]
		if !p.Applies(dir) || len(rules) == 0 {
			continue
		}
		q := d.window()
		f := flows.EndpointFilter{Namespace: p.Ref.Namespace, Match: subject.selects}
		if dir == netpol.Ingress {
			q.Dst = f
		} else {
			q.Src = f
		}
		uses := make([]ruleUse, len(rules))
		var selectedFlows uint64
		conns, err := d.connections(g, q)
		if err != nil {
			return nil, err
		}
		for i, c := range conns {
			if i%verdictCheckEvery == verdictCheckEvery-1 {
				if err := d.ctx.Err(); err != nil {
					return nil, fmt.Errorf("rule usage: stopped after %d of %d connections: %w", i, len(conns), err)
				}
			}
			self, peer, denied := &c.dst, &c.src, c.deniedIngress()
			if dir == netpol.Egress {
				self, peer, denied = &c.src, &c.dst, c.deniedEgress()
			}
			if !subject.selects(self) {
				continue
			}
			selectedFlows += c.allowed().merge(denied).flows
			v := w.Verdict(d.endpoint(g, c.key.src, &c.src), d.endpoint(g, c.key.dst, &c.dst), netpol.PacketOf(c.key.proto, c.key.port))
			hit := v.Ingress.Hit
			if dir == netpol.Egress {
				hit = v.Egress.Hit
			}
			if hit.Reason != netpol.ReasonRule || hit.Policy == nil || hit.Policy.Ref != p.Ref {
				continue
			}
			i := slices.IndexFunc(rules, func(r netpol.Rule) bool { return r.Index == hit.RuleIndex })
			if i < 0 {
				continue
			}
			credit := c.allowed()
			if rules[i].Action == netpol.ActionDeny {
				credit = denied
			}
			if credit.flows > 0 {
				uses[i].add(peer, c, credit)
			}
		}
		for i, r := range rules {
			out = out.Append(ast.NewTerm(usageValue(p, obj, dir, r, uses[i], selectedFlows)))
		}
	}
	return out, nil
}

func usageValue(p *netpol.Policy, obj map[string]any, dir netpol.Direction, r netpol.Rule, u ruleUse, selectedFlows uint64) ast.Object {
	peers := slices.Sorted(func(yield func(string) bool) {
		for k := range u.peers {
			if !yield(k) {
				return
			}
		}
	})
	ports := portList(u.ports)
	peerNames, portNames := ast.NewArray(), ast.NewArray()
	for _, n := range peers {
		peerNames = peerNames.Append(ast.StringTerm(n))
	}
	for _, pu := range ports {
		portNames = portNames.Append(ast.StringTerm(fmt.Sprintf("%s/%d", protoName(pu.proto), pu.port)))
	}
	narrowed := ast.NewArray()
	if u.flows > 0 {
		original := dig(obj, "spec")[dirName(dir)]
		var orig map[string]any
		if list, ok := original.([]any); ok && r.Index < len(list) {
			orig, _ = list[r.Index].(map[string]any)
		}
		for _, rule := range narrowRule(p, dir, orig, peers, u.peers, ports) {
			if v, err := ast.InterfaceToValue(rule); err == nil {
				narrowed = narrowed.Append(ast.NewTerm(v))
			}
		}
	}
	return ast.NewObject(
		ast.Item(ast.StringTerm("direction"), ast.StringTerm(dirName(dir))),
		ast.Item(ast.StringTerm("index"), ast.IntNumberTerm(r.Index)),
		ast.Item(ast.StringTerm("path"), ast.StringTerm(fmt.Sprintf("spec.%s[%d]", dirName(dir), r.Index))),
		ast.Item(ast.StringTerm("action"), ast.StringTerm(r.Action.String())),
		ast.Item(ast.StringTerm("flows"), ast.UIntNumberTerm(u.flows)),
		ast.Item(ast.StringTerm("last_seen"), ast.StringTerm(timeText(u.last))),
		ast.Item(ast.StringTerm("selected_flows"), ast.UIntNumberTerm(selectedFlows)),
		ast.Item(ast.StringTerm("peer_names"), ast.NewTerm(peerNames)),
		ast.Item(ast.StringTerm("opaque_peers"), ast.IntNumberTerm(opaquePeers(u.peers))),
		ast.Item(ast.StringTerm("port_names"), ast.NewTerm(portNames)),
		ast.Item(ast.StringTerm("narrowed"), ast.NewTerm(narrowed)),
	)
}

func portList(m map[portUse]bool) []portUse {
	out := make([]portUse, 0, len(m))
	for pu := range m {
		out = append(out, pu)
	}
	slices.SortFunc(out, func(a, b portUse) int { return cmp.Or(cmp.Compare(a.proto, b.proto), cmp.Compare(a.port, b.port)) })
	return out
}

// subjectMatcher tells whether a flow endpoint is one a policy selects, from the labels the
// flow reported: the policy's namespace (or, for a global policy, its namespaceSelector) and
// its selector.
type subjectMatcher struct {
	cluster *netpol.Cluster
	p       *netpol.Policy
	nsSel   *selector.Selector
	nsOK    map[string]bool
}

func newSubjectMatcher(c *netpol.Cluster, p *netpol.Policy) *subjectMatcher {
	m := &subjectMatcher{cluster: c, p: p, nsOK: map[string]bool{}}
	var nsSel string
	switch o := p.Object.(type) {
	case *calicov3.GlobalNetworkPolicy:
		nsSel = o.Spec.NamespaceSelector
	case *calicov3.StagedGlobalNetworkPolicy:
		nsSel = o.Spec.NamespaceSelector
	}
	if nsSel != "" {
		m.nsSel, _ = selector.Parse(nsSel)
	}
	return m
}

func (m *subjectMatcher) selects(e *flows.Endpoint) bool {
	if e.Type != flows.TypeWorkload {
		return false
	}
	if m.p.Ref.Namespace != "" && e.Namespace != m.p.Ref.Namespace {
		return false
	}
	if m.nsSel != nil {
		ok, seen := m.nsOK[e.Namespace]
		if !seen {
			labels, _ := m.cluster.NamespaceLabels(e.Namespace)
			ok = m.nsSel.MatchesNamespaceOf(selector.Map(labels))
			m.nsOK[e.Namespace] = ok
		}
		if !ok {
			return false
		}
	}
	return m.p.Selector() == nil || m.p.Selector().Matches(e.Labels)
}

// policyRefOf names the policy an object is, when it is one.
func policyRefOf(obj map[string]any) (netpol.PolicyRef, bool) {
	meta, _ := obj["metadata"].(map[string]any)
	ns, name := str(meta["namespace"]), str(meta["name"])
	var k netpol.PolicyKind
	switch objectKind(obj) {
	case "NetworkPolicy":
		k = netpol.KindKubernetesNetworkPolicy
	case "projectcalico.org/NetworkPolicy":
		k = netpol.KindNetworkPolicy
	case "projectcalico.org/GlobalNetworkPolicy":
		k, ns = netpol.KindGlobalNetworkPolicy, ""
	case "projectcalico.org/StagedNetworkPolicy":
		k = netpol.KindStagedNetworkPolicy
	case "projectcalico.org/StagedGlobalNetworkPolicy":
		k, ns = netpol.KindStagedGlobalNetworkPolicy, ""
	case "projectcalico.org/StagedKubernetesNetworkPolicy":
		k = netpol.KindStagedKubernetesNetworkPolicy
	case adminGroup + "/AdminNetworkPolicy":
		k, ns = netpol.KindAdminNetworkPolicy, ""
	case adminGroup + "/BaselineAdminNetworkPolicy":
		k, ns = netpol.KindBaselineAdminNetworkPolicy, ""
	case adminGroup + "/ClusterNetworkPolicy":
		k, ns = netpol.KindClusterNetworkPolicy, ""
	default:
		return netpol.PolicyRef{}, false
	}
	if ns == "" && !k.Global() {
		ns = "default"
	}
	return netpol.PolicyRef{Kind: k, Namespace: ns, Name: name}, true
}

// keyLabels picks the labels that name a workload's pods: the first of the well-known
// application labels it has, else every label but the volatile ones (netpol.VolatileLabels),
// the same labels recommend never selects on.
func keyLabels(l flows.Labels) map[string]string {
	for _, k := range []string{"app.kubernetes.io/name", "app", "k8s-app", "name", "component"} {
		if v, ok := l.Get(k); ok {
			return map[string]string{k: v}
		}
	}
	out := map[string]string{}
	for _, kv := range l {
		if !netpol.VolatileLabel(kv.Key) {
			out[kv.Key] = kv.Value
		}
	}
	return out
}

// dirName is the direction as policies spell their rule lists: "ingress" or "egress".
func dirName(d netpol.Direction) string { return strings.ToLower(d.String()) }

// opaquePeers counts the peers a rule cannot name narrower than an address range: aggregated
// networks ("pub", "pvt"), network sets and hosts.
func opaquePeers(peers map[string]*flows.Endpoint) int {
	n := 0
	for _, e := range peers {
		if e.Type != flows.TypeWorkload && !e.IP.IsValid() {
			n++
		}
	}
	return n
}
