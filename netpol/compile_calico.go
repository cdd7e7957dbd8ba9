package netpol

import (
	"net/netip"
	"strings"

	calicov3 "github.com/projectcalico/api/pkg/apis/projectcalico/v3"
	"github.com/projectcalico/api/pkg/lib/numorstring"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/flowguard/flowguard/netpol/selector"
)

// calicoPolicySpec is what the four Calico policy kinds have in common.
type calicoPolicySpec struct {
	tier                   string
	order                  *float64
	ingress, egress        []calicov3.Rule
	selector               string
	types                  []calicov3.PolicyType
	serviceAccountSelector string
	namespaceSelector      string // global kinds only
	staged                 calicov3.StagedAction
	hostOnly               bool // doNotTrack or preDNAT: applies to host endpoints only
}

// compileCalicoPolicy validates and compiles any of NetworkPolicy, GlobalNetworkPolicy,
// StagedNetworkPolicy and StagedGlobalNetworkPolicy.
func compileCalicoPolicy(obj runtime.Object) (*Policy, field.ErrorList) {
	var ref PolicyRef
	var s calicoPolicySpec
	switch o := obj.(type) {
	case *calicov3.NetworkPolicy:
		ref = PolicyRef{Kind: KindNetworkPolicy, Namespace: o.Namespace, Name: o.Name}
		sp := o.Spec
		s = calicoPolicySpec{tier: sp.Tier, order: sp.Order, ingress: sp.Ingress, egress: sp.Egress,
			selector: sp.Selector, types: sp.Types, serviceAccountSelector: sp.ServiceAccountSelector}
	case *calicov3.StagedNetworkPolicy:
		ref = PolicyRef{Kind: KindStagedNetworkPolicy, Namespace: o.Namespace, Name: o.Name}
		sp := o.Spec
		s = calicoPolicySpec{tier: sp.Tier, order: sp.Order, ingress: sp.Ingress, egress: sp.Egress,
			selector: sp.Selector, types: sp.Types, serviceAccountSelector: sp.ServiceAccountSelector,
			staged: sp.StagedAction}
	case *calicov3.GlobalNetworkPolicy:
		ref = PolicyRef{Kind: KindGlobalNetworkPolicy, Name: o.Name}
		sp := o.Spec
		s = calicoPolicySpec{tier: sp.Tier, order: sp.Order, ingress: sp.Ingress, egress: sp.Egress,
			selector: sp.Selector, types: sp.Types, serviceAccountSelector: sp.ServiceAccountSelector,
			namespaceSelector: sp.NamespaceSelector, hostOnly: sp.DoNotTrack || sp.PreDNAT}
	case *calicov3.StagedGlobalNetworkPolicy:
		ref = PolicyRef{Kind: KindStagedGlobalNetworkPolicy, Name: o.Name}
		sp := o.Spec
		s = calicoPolicySpec{tier: sp.Tier, order: sp.Order, ingress: sp.Ingress, egress: sp.Egress,
			selector: sp.Selector, types: sp.Types, serviceAccountSelector: sp.ServiceAccountSelector,
			namespaceSelector: sp.NamespaceSelector, staged: sp.StagedAction, hostOnly: sp.DoNotTrack || sp.PreDNAT}
	default:
		return nil, field.ErrorList{field.InternalError(nil, errUnsupportedKind(obj))}
	}
	return compileCalicoShaped(ref, s, obj)
}

func compileCalicoShaped(ref PolicyRef, s calicoPolicySpec, obj runtime.Object) (*Policy, field.ErrorList) {
	spec := field.NewPath("spec")
	var errs field.ErrorList
	p := &Policy{Ref: ref, Tier: s.tier, Object: obj, namespace: ref.Namespace, hostOnly: s.hostOnly}
	if p.Tier == "" {
		p.Tier = DefaultTier
	}
	if s.order != nil {
		p.Order, p.HasOrder = *s.order, true
	}
	p.felixName = felixName(ref)
	p.sel = parseSelector(s.selector, spec.Child("selector"), false, &errs)
	if s.serviceAccountSelector != "" {
		p.saSel = parseSelector(s.serviceAccountSelector, spec.Child("serviceAccountSelector"), false, &errs)
	}
	if s.namespaceSelector != "" {
		p.nsSel = parseSelector(s.namespaceSelector, spec.Child("namespaceSelector"), false, &errs)
	}
	if ref.Kind.Staged() {
		sa, e := compileStagedAction(s.staged, spec.Child("stagedAction"))
		errs = append(errs, e...)
		p.StagedAction = sa
	}

	types := s.types
	if len(types) == 0 {
		types = inferCalicoTypes(len(s.ingress) > 0, len(s.egress) > 0)
	}
	for i, t := range types {
		switch t {
		case calicov3.PolicyTypeIngress:
			p.Types[Ingress] = true
		case calicov3.PolicyTypeEgress:
			p.Types[Egress] = true
		default:
			errs = append(errs, field.NotSupported(spec.Child("types").Index(i), t,
				[]calicov3.PolicyType{calicov3.PolicyTypeIngress, calicov3.PolicyTypeEgress}))
		}
	}
	if len(s.ingress) > 0 && !p.Types[Ingress] {
		errs = append(errs, field.Invalid(spec.Child("ingress"), len(s.ingress), "ingress rules need Ingress in types"))
	}
	if len(s.egress) > 0 && !p.Types[Egress] {
		errs = append(errs, field.Invalid(spec.Child("egress"), len(s.egress), "egress rules need Egress in types"))
	}
	for i := range s.ingress {
		r := compileCalicoRule(&s.ingress[i], i, Ingress, ref.Namespace, spec.Child("ingress").Index(i), &errs)
		p.Rules[Ingress] = append(p.Rules[Ingress], r)
	}
	for i := range s.egress {
		r := compileCalicoRule(&s.egress[i], i, Egress, ref.Namespace, spec.Child("egress").Index(i), &errs)
		p.Rules[Egress] = append(p.Rules[Egress], r)
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return p, nil
}

// inferCalicoTypes is Calico's inference for an empty types list: egress rules only gives
// [Egress], both kinds give both, anything else [Ingress].
func inferCalicoTypes(hasIngress, hasEgress bool) []calicov3.PolicyType {
	switch {
	case hasEgress && hasIngress:
		return []calicov3.PolicyType{calicov3.PolicyTypeIngress, calicov3.PolicyTypeEgress}
	case hasEgress:
		return []calicov3.PolicyType{calicov3.PolicyTypeEgress}
	}
	return []calicov3.PolicyType{calicov3.PolicyTypeIngress}
}

// parseSelector parses a Calico selector field, refusing global() outside namespaceSelectors
// as Calico's validation does.
func parseSelector(s string, path *field.Path, globalOK bool, errs *field.ErrorList) *selector.Selector {
	sel, err := selector.Parse(s)
	if err != nil {
		*errs = append(*errs, field.Invalid(path, s, err.Error()))
		return nil
	}
	if !globalOK && sel.UsesGlobal() {
		*errs = append(*errs, field.Invalid(path, s, "global() is only allowed in a rule's namespaceSelector"))
		return nil
	}
	return sel
}

func compileCalicoRule(r *calicov3.Rule, idx int, dir Direction, ns string, path *field.Path, errs *field.ErrorList) Rule {
	out := Rule{Index: idx, HTTP: r.HTTP != nil}
	switch r.Action {
	case calicov3.Allow:
		out.Action = ActionAllow
	case calicov3.Deny:
		out.Action = ActionDeny
	case calicov3.Pass:
		out.Action = ActionPass
	case calicov3.Log:
		out.Action = ActionLog
	default:
		*errs = append(*errs, field.NotSupported(path.Child("action"), r.Action,
			[]calicov3.Action{calicov3.Allow, calicov3.Deny, calicov3.Log, calicov3.Pass}))
	}
	if r.IPVersion != nil {
		if *r.IPVersion != 4 && *r.IPVersion != 6 {
			*errs = append(*errs, field.Invalid(path.Child("ipVersion"), *r.IPVersion, "must be 4 or 6"))
		}
		out.IPVersion = *r.IPVersion
	}
	out.Protocol = compileProtocol(r.Protocol, path.Child("protocol"), errs)
	out.NotProtocol = compileProtocol(r.NotProtocol, path.Child("notProtocol"), errs)
	out.ICMP = compileICMP(r.ICMP, out.Protocol, path.Child("icmp"), errs)
	out.NotICMP = compileICMP(r.NotICMP, out.Protocol, path.Child("notICMP"), errs)
	out.Src = compileEntity(&r.Source, ns, out.Protocol, path.Child("source"), errs)
	out.Dst = compileEntity(&r.Destination, ns, out.Protocol, path.Child("destination"), errs)
	if r.Source.Services != nil && (len(r.Source.Ports) > 0 || len(r.Source.NotPorts) > 0) {
		*errs = append(*errs, field.Forbidden(path.Child("source", "ports"), "may not be combined with source services"))
	}
	if dir == Egress && r.Destination.Services != nil && (len(r.Destination.Ports) > 0 || len(r.Destination.NotPorts) > 0) {
		*errs = append(*errs, field.Forbidden(path.Child("destination", "ports"), "only ingress rules may combine ports with destination services"))
	}
	return out
}

// protocolNumbers maps the names Calico accepts (case-insensitively) to IANA numbers.
var protocolNumbers = map[string]uint8{"tcp": 6, "udp": 17, "icmp": 1, "icmpv6": 58, "sctp": 132, "udplite": 136}

func compileProtocol(p *numorstring.Protocol, path *field.Path, errs *field.ErrorList) protoMatch {
	if p == nil {
		return protoMatch{}
	}
	if p.Type == numorstring.NumOrStringNum {
		if p.NumVal == 0 {
			*errs = append(*errs, field.Invalid(path, p.NumVal, "must be between 1 and 255"))
		}
		return protoMatch{set: true, num: p.NumVal}
	}
	if n, ok := protocolNumbers[strings.ToLower(p.StrVal)]; ok {
		return protoMatch{set: true, num: n}
	}
	*errs = append(*errs, field.NotSupported(path, p.StrVal, []string{"TCP", "UDP", "ICMP", "ICMPv6", "SCTP", "UDPLite", "1-255"}))
	return protoMatch{}
}

func compileICMP(f *calicov3.ICMPFields, proto protoMatch, path *field.Path, errs *field.ErrorList) *ICMPMatch {
	if f == nil {
		return nil
	}
	if !proto.set || (proto.num != 1 && proto.num != 58) {
		*errs = append(*errs, field.Forbidden(path, "needs protocol ICMP or ICMPv6"))
	}
	m := &ICMPMatch{Type: -1, Code: -1}
	if f.Type != nil {
		if *f.Type < 0 || *f.Type > 254 {
			*errs = append(*errs, field.Invalid(path.Child("type"), *f.Type, "must be between 0 and 254"))
		}
		m.Type = *f.Type
	}
	if f.Code != nil {
		if f.Type == nil {
			*errs = append(*errs, field.Required(path.Child("type"), "must be set when code is"))
		}
		if *f.Code < 0 || *f.Code > 255 {
			*errs = append(*errs, field.Invalid(path.Child("code"), *f.Code, "must be between 0 and 255"))
		}
		m.Code = *f.Code
	}
	return m
}

func compileEntity(e *calicov3.EntityRule, ns string, proto protoMatch, path *field.Path, errs *field.ErrorList) Entity {
	var out Entity
	out.Nets = compileNets(e.Nets, path.Child("nets"), errs)
	out.NotNets = compileNets(e.NotNets, path.Child("notNets"), errs)
	if e.Selector != "" {
		out.Sel = parseSelector(e.Selector, path.Child("selector"), false, errs)
	}
	if e.NotSelector != "" {
		out.NotSel = parseSelector(e.NotSelector, path.Child("notSelector"), false, errs)
	}
	if e.NamespaceSelector != "" {
		out.NSSel = parseSelector(e.NamespaceSelector, path.Child("namespaceSelector"), true, errs)
	}
	if e.ServiceAccounts != nil {
		sa := &SAMatch{Names: e.ServiceAccounts.Names}
		if e.ServiceAccounts.Selector != "" {
			sa.Sel = parseSelector(e.ServiceAccounts.Selector, path.Child("serviceAccounts", "selector"), false, errs)
		}
		out.SA = sa
	}
	// Calico namespaces a rule's selector as soon as any selector field is used (Felix's
	// getEndpointSelector): an explicit namespaceSelector, else the policy's own namespace.
	// A global policy without a namespaceSelector has a positive selector only when selector
	// or serviceAccounts is set; a lone notSelector there matches any address.
	switch {
	case e.NamespaceSelector != "":
		out.scope = scopeSelected
	case ns != "" && (e.Selector != "" || e.NotSelector != "" || e.ServiceAccounts != nil):
		out.scope, out.ns = scopeOwn, ns
	case ns == "" && (e.Selector != "" || e.ServiceAccounts != nil):
		out.scope = scopeAll
	}
	if e.Services != nil {
		if e.Services.Name == "" {
			*errs = append(*errs, field.Required(path.Child("services", "name"), "must name a service"))
		}
		svcNS := e.Services.Namespace
		if svcNS == "" {
			if ns == "" {
				*errs = append(*errs, field.Required(path.Child("services", "namespace"), "must be set in a global policy"))
			}
			svcNS = ns
		}
		if e.Selector != "" || e.NotSelector != "" || e.NamespaceSelector != "" || e.ServiceAccounts != nil ||
			len(e.Nets) > 0 || len(e.NotNets) > 0 {
			*errs = append(*errs, field.Forbidden(path.Child("services"), "may not be combined with selectors, nets or serviceAccounts"))
		}
		out.Services = &ServiceRef{Namespace: svcNS, Name: e.Services.Name}
	}
	out.Ports = compileCalicoPorts(e.Ports, proto, path.Child("ports"), errs)
	out.NotPorts = compileCalicoPorts(e.NotPorts, proto, path.Child("notPorts"), errs)
	return out
}

// compileNets accepts CIDRs and bare addresses, as Calico's "net" validation does.
func compileNets(nets []string, path *field.Path, errs *field.ErrorList) []netip.Prefix {
	var out []netip.Prefix
	for i, n := range nets {
		p, err := parseNet(n)
		if err != nil {
			*errs = append(*errs, field.Invalid(path.Index(i), n, "must be an IP address or CIDR"))
			continue
		}
		out = append(out, p)
	}
	return out
}

func parseNet(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		return p.Masked(), err
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}

func compileCalicoPorts(ports []numorstring.Port, proto protoMatch, path *field.Path, errs *field.ErrorList) []PortMatch {
	if len(ports) == 0 {
		return nil
	}
	if !proto.set || (proto.num != 6 && proto.num != 17 && proto.num != 132) {
		*errs = append(*errs, field.Forbidden(path, "ports need protocol TCP, UDP or SCTP"))
	}
	out := make([]PortMatch, 0, len(ports))
	for i, p := range ports {
		if p.PortName != "" {
			out = append(out, PortMatch{Name: p.PortName})
			continue
		}
		if p.MinPort > p.MaxPort {
			*errs = append(*errs, field.Invalid(path.Index(i), p.String(), "minimum port is greater than maximum"))
		}
		out = append(out, PortMatch{Lo: p.MinPort, Hi: p.MaxPort})
	}
	return out
}
