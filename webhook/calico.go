package webhook

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	calicov3 "github.com/projectcalico/api/pkg/apis/projectcalico/v3"
	"github.com/projectcalico/api/pkg/lib/numorstring"
	admissionv1 "k8s.io/api/admission/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/flowguard/flowguard/netpol"
	"github.com/flowguard/flowguard/netpol/selector"
)

// validateCalico checks what Calico's own API server would refuse but a CRD schema cannot
// express: selectors that do not parse, global() where Calico does not allow it, ports on a rule
// whose protocol has no ports, unknown actions, malformed CIDRs. Objects being deleted are not
// checked: refusing to delete a malformed object would only keep it around.
func (h *Handler) validateCalico(_ context.Context, r *review) result {
	if !r.kind.calico || r.req.Operation == admissionv1.Delete {
		return result{}
	}
	return result{errs: validateCalicoObject(h.decoder, r.gk.Kind, r.req.Object)}
}

// decoder is the part of admission.Decoder validateCalicoObject needs.
type decoder interface {
	DecodeRaw(raw runtime.RawExtension, into runtime.Object) error
}

func validateCalicoObject(d decoder, kind string, raw runtime.RawExtension) field.ErrorList {
	obj, errs := decodeAndValidate(d, kind, raw)
	if obj == nil || len(errs) > 0 {
		return errs
	}
	// The policy model must accept what is admitted: an object it refuses would be admitted,
	// then silently left out of every later decision.
	err := netpol.NewCluster().Add(obj)
	var oe *netpol.ObjectError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &oe) && len(oe.Fields) > 0:
		return oe.Fields
	}
	return field.ErrorList{field.Invalid(field.NewPath("spec"), "", err.Error())}
}

// decodeAndValidate decodes the object and runs the checks Calico's validator makes.
func decodeAndValidate(d decoder, kind string, raw runtime.RawExtension) (runtime.Object, field.ErrorList) {
	spec := field.NewPath("spec")
	decode := func(into runtime.Object) field.ErrorList {
		if err := d.DecodeRaw(raw, into); err != nil {
			return field.ErrorList{field.Invalid(spec, "", fmt.Sprintf("cannot decode %s: %v", kind, err))}
		}
		return nil
	}
	switch kind {
	case "NetworkPolicy":
		o := &calicov3.NetworkPolicy{}
		if errs := decode(o); errs != nil {
			return nil, errs
		}
		s := o.Spec
		return o, validatePolicy(spec, policyFields{s.Selector, s.ServiceAccountSelector, "", false, s.Types, s.Ingress, s.Egress})
	case "StagedNetworkPolicy":
		o := &calicov3.StagedNetworkPolicy{}
		if errs := decode(o); errs != nil {
			return nil, errs
		}
		s := o.Spec
		errs := validateStagedAction(spec.Child("stagedAction"), s.StagedAction)
		return o, append(errs, validatePolicy(spec, policyFields{s.Selector, s.ServiceAccountSelector, "", false, s.Types, s.Ingress, s.Egress})...)
	case "GlobalNetworkPolicy":
		o := &calicov3.GlobalNetworkPolicy{}
		if errs := decode(o); errs != nil {
			return nil, errs
		}
		s := o.Spec
		return o, validatePolicy(spec, policyFields{s.Selector, s.ServiceAccountSelector, s.NamespaceSelector, true, s.Types, s.Ingress, s.Egress})
	case "StagedGlobalNetworkPolicy":
		o := &calicov3.StagedGlobalNetworkPolicy{}
		if errs := decode(o); errs != nil {
			return nil, errs
		}
		s := o.Spec
		errs := validateStagedAction(spec.Child("stagedAction"), s.StagedAction)
		return o, append(errs, validatePolicy(spec, policyFields{s.Selector, s.ServiceAccountSelector, s.NamespaceSelector, true, s.Types, s.Ingress, s.Egress})...)
	case "StagedKubernetesNetworkPolicy":
		o := &calicov3.StagedKubernetesNetworkPolicy{}
		if errs := decode(o); errs != nil {
			return nil, errs
		}
		return o, validateStagedKubernetes(spec, &o.Spec)
	case "NetworkSet":
		o := &calicov3.NetworkSet{}
		if errs := decode(o); errs != nil {
			return nil, errs
		}
		return o, validateNets(spec.Child("nets"), o.Spec.Nets)
	case "GlobalNetworkSet":
		o := &calicov3.GlobalNetworkSet{}
		if errs := decode(o); errs != nil {
			return nil, errs
		}
		return o, validateNets(spec.Child("nets"), o.Spec.Nets)
	case "Tier":
		o := &calicov3.Tier{}
		if errs := decode(o); errs != nil {
			return nil, errs
		}
		if a := o.Spec.DefaultAction; a != nil && *a != calicov3.Deny && *a != calicov3.Pass {
			return o, field.ErrorList{field.NotSupported(spec.Child("defaultAction"), *a, []calicov3.Action{calicov3.Deny, calicov3.Pass})}
		}
		return o, nil
	}
	return nil, nil
}

// policyFields are the parts of the four Calico policy kinds that validation reads.
type policyFields struct {
	selector, serviceAccountSelector, namespaceSelector string
	global                                              bool
	types                                               []calicov3.PolicyType
	ingress, egress                                     []calicov3.Rule
}

func validatePolicy(spec *field.Path, p policyFields) field.ErrorList {
	var errs field.ErrorList
	errs = append(errs, validateSelector(spec.Child("selector"), p.selector, noGlobal)...)
	errs = append(errs, validateSelector(spec.Child("serviceAccountSelector"), p.serviceAccountSelector, noGlobal)...)
	if p.global {
		errs = append(errs, validateSelector(spec.Child("namespaceSelector"), p.namespaceSelector, noGlobal)...)
	}
	for i, t := range p.types {
		if t != calicov3.PolicyTypeIngress && t != calicov3.PolicyTypeEgress {
			errs = append(errs, field.NotSupported(spec.Child("types").Index(i), t, []calicov3.PolicyType{calicov3.PolicyTypeIngress, calicov3.PolicyTypeEgress}))
		}
	}
	for i, r := range p.ingress {
		errs = append(errs, validateRule(spec.Child("ingress").Index(i), &r, true)...)
	}
	for i, r := range p.egress {
		errs = append(errs, validateRule(spec.Child("egress").Index(i), &r, false)...)
	}
	return errs
}

func validateRule(p *field.Path, r *calicov3.Rule, ingress bool) field.ErrorList {
	var errs field.ErrorList
	ruleActions := []calicov3.Action{calicov3.Allow, calicov3.Deny, calicov3.Log, calicov3.Pass}
	if !slices.Contains(ruleActions, r.Action) {
		errs = append(errs, field.NotSupported(p.Child("action"), r.Action, ruleActions))
	}
	errs = append(errs, validateProtocol(p.Child("protocol"), r.Protocol)...)
	errs = append(errs, validateProtocol(p.Child("notProtocol"), r.NotProtocol)...)
	if r.Protocol == nil || !r.Protocol.SupportsPorts() {
		for _, side := range []struct {
			name string
			e    *calicov3.EntityRule
		}{{"source", &r.Source}, {"destination", &r.Destination}} {
			if len(side.e.Ports) > 0 {
				errs = append(errs, field.Invalid(p.Child(side.name, "ports"), portsString(side.e.Ports), portsNeedProtocol(r.Protocol)))
			}
			if len(side.e.NotPorts) > 0 {
				errs = append(errs, field.Invalid(p.Child(side.name, "notPorts"), portsString(side.e.NotPorts), portsNeedProtocol(r.Protocol)))
			}
		}
	}
	if r.ICMP != nil && (r.Protocol == nil || !isICMP(*r.Protocol)) {
		errs = append(errs, field.Invalid(p.Child("icmp"), "", "icmp matches need protocol ICMP or ICMPv6"))
	}
	errs = append(errs, validateEntity(p.Child("source"), &r.Source)...)
	errs = append(errs, validateEntity(p.Child("destination"), &r.Destination)...)
	// Services name where traffic goes to (ingress source) or comes from (egress destination)
	// only; Calico refuses the other side.
	if ingress && r.Destination.Services != nil {
		errs = append(errs, field.Forbidden(p.Child("destination", "services"), "services are not allowed in an ingress rule's destination"))
	}
	if !ingress && r.Source.Services != nil {
		errs = append(errs, field.Forbidden(p.Child("source", "services"), "services are not allowed in an egress rule's source"))
	}
	return errs
}

func portsNeedProtocol(proto *numorstring.Protocol) string {
	if proto == nil {
		return "rules that specify ports must set protocol to TCP, UDP or SCTP; protocol is not set"
	}
	return fmt.Sprintf("rules that specify ports must set protocol to TCP, UDP or SCTP; protocol %s has no ports", proto.String())
}

func validateProtocol(p *field.Path, proto *numorstring.Protocol) field.ErrorList {
	if proto == nil {
		return nil
	}
	if proto.Type == numorstring.NumOrStringNum {
		if proto.NumVal == 0 {
			return field.ErrorList{field.Invalid(p, proto.NumVal, "protocol numbers run from 1 to 255")}
		}
		return nil
	}
	for _, name := range []string{numorstring.ProtocolTCP, numorstring.ProtocolUDP, numorstring.ProtocolICMP,
		numorstring.ProtocolICMPv6, numorstring.ProtocolSCTP, numorstring.ProtocolUDPLite} {
		if proto.StrVal == name {
			return nil
		}
	}
	return field.ErrorList{field.NotSupported(p, proto.StrVal, []string{"TCP", "UDP", "ICMP", "ICMPv6", "SCTP", "UDPLite", "1-255"})}
}

func isICMP(p numorstring.Protocol) bool {
	if n, err := p.NumValue(); err == nil {
		return n == 1 || n == 58
	}
	return p.StrVal == numorstring.ProtocolICMP || p.StrVal == numorstring.ProtocolICMPv6
}

func validateEntity(p *field.Path, e *calicov3.EntityRule) field.ErrorList {
	var errs field.ErrorList
	errs = append(errs, validateSelector(p.Child("selector"), e.Selector, noGlobal)...)
	errs = append(errs, validateSelector(p.Child("notSelector"), e.NotSelector, noGlobal)...)
	errs = append(errs, validateSelector(p.Child("namespaceSelector"), e.NamespaceSelector, globalAlone)...)
	if e.ServiceAccounts != nil {
		errs = append(errs, validateSelector(p.Child("serviceAccounts", "selector"), e.ServiceAccounts.Selector, noGlobal)...)
	}
	errs = append(errs, validateNets(p.Child("nets"), e.Nets)...)
	errs = append(errs, validateNets(p.Child("notNets"), e.NotNets)...)
	if s := e.Services; s != nil {
		if s.Name == "" {
			errs = append(errs, field.Required(p.Child("services", "name"), "a service rule names its service"))
		}
		if e.Selector != "" || e.NotSelector != "" || e.NamespaceSelector != "" || e.ServiceAccounts != nil {
			errs = append(errs, field.Forbidden(p.Child("services"), "services cannot be combined with selector, notSelector, namespaceSelector or serviceAccounts"))
		}
	}
	return errs
}

// globalUse says where global() may appear in a selector.
type globalUse uint8

const (
	noGlobal    globalUse = iota // global() is refused
	globalAlone                  // global() is allowed as the whole selector (a rule's namespaceSelector)
)

func validateSelector(p *field.Path, s string, g globalUse) field.ErrorList {
	if s == "" {
		return nil
	}
	sel, err := selector.Parse(s)
	if err != nil {
		var pe *selector.ParseError
		if errors.As(err, &pe) {
			return field.ErrorList{field.Invalid(p, s, fmt.Sprintf("position %d: %s", pe.Pos, pe.Msg))}
		}
		return field.ErrorList{field.Invalid(p, s, err.Error())}
	}
	if !sel.UsesGlobal() {
		return nil
	}
	switch {
	case g == noGlobal:
		return field.ErrorList{field.Invalid(p, s, "global() can only be used in a rule's namespaceSelector")}
	case strings.TrimSpace(s) != "global()":
		return field.ErrorList{field.Invalid(p, s, "global() cannot be combined with other selectors")}
	}
	return nil
}

func validateNets(p *field.Path, nets []string) field.ErrorList {
	var errs field.ErrorList
	for i, n := range nets {
		if _, err := netip.ParsePrefix(n); err == nil {
			continue
		}
		if _, err := netip.ParseAddr(n); err == nil {
			continue // Calico reads a bare address as a /32 or /128
		}
		errs = append(errs, field.Invalid(p.Index(i), n, "not a CIDR or IP address"))
	}
	return errs
}

func validateStagedAction(p *field.Path, a calicov3.StagedAction) field.ErrorList {
	stagedActions := []calicov3.StagedAction{calicov3.StagedActionSet, calicov3.StagedActionDelete, calicov3.StagedActionLearn, calicov3.StagedActionIgnore}
	if a == "" || slices.Contains(stagedActions, a) {
		return nil
	}
	return field.ErrorList{field.NotSupported(p, a, stagedActions)}
}

// validateStagedKubernetes checks what the API server checks for a real NetworkPolicy and a CRD
// schema does not: label selectors and ipBlocks.
func validateStagedKubernetes(spec *field.Path, s *calicov3.StagedKubernetesNetworkPolicySpec) field.ErrorList {
	opts := metav1validation.LabelSelectorValidationOptions{}
	errs := validateStagedAction(spec.Child("stagedAction"), s.StagedAction)
	errs = append(errs, metav1validation.ValidateLabelSelector(&s.PodSelector, opts, spec.Child("podSelector"))...)
	peers := func(p *field.Path, ps []networkingv1.NetworkPolicyPeer) {
		for i, peer := range ps {
			pp := p.Index(i)
			if peer.PodSelector != nil {
				errs = append(errs, metav1validation.ValidateLabelSelector(peer.PodSelector, opts, pp.Child("podSelector"))...)
			}
			if peer.NamespaceSelector != nil {
				errs = append(errs, metav1validation.ValidateLabelSelector(peer.NamespaceSelector, opts, pp.Child("namespaceSelector"))...)
			}
			if b := peer.IPBlock; b != nil {
				if _, err := netip.ParsePrefix(b.CIDR); err != nil {
					errs = append(errs, field.Invalid(pp.Child("ipBlock", "cidr"), b.CIDR, "not a CIDR"))
				}
				errs = append(errs, validateNets(pp.Child("ipBlock", "except"), b.Except)...)
			}
		}
	}
	for i, r := range s.Ingress {
		peers(spec.Child("ingress").Index(i).Child("from"), r.From)
	}
	for i, r := range s.Egress {
		peers(spec.Child("egress").Index(i).Child("to"), r.To)
	}
	return errs
}

func portsString(ps []numorstring.Port) string {
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = p.String()
	}
	return strings.Join(s, ",")
}
