package netpol

import (
	calicov3 "github.com/projectcalico/api/pkg/apis/projectcalico/v3"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// Defaulted returns a deep copy of obj with the defaults the API server (and Calico's API
// server) apply before an admission webhook sees the object: NetworkPolicy policyTypes and
// port protocol TCP; Calico policy tier "default" and types inferred from the rules; Tier
// defaultAction Deny; container and Service port protocol TCP; Service targetPort = port; pod
// serviceAccountName "default". Objects that are already defaulted come back equal.
func Defaulted(obj runtime.Object) runtime.Object {
	obj = obj.DeepCopyObject()
	switch o := obj.(type) {
	case *networkingv1.NetworkPolicy:
		defaultK8sPolicy(&o.Spec.PolicyTypes, o.Spec.Ingress, o.Spec.Egress)
	case *calicov3.StagedKubernetesNetworkPolicy:
		defaultK8sPolicy(&o.Spec.PolicyTypes, o.Spec.Ingress, o.Spec.Egress)
		if o.Spec.StagedAction == "" {
			o.Spec.StagedAction = calicov3.StagedActionSet
		}
	case *calicov3.NetworkPolicy:
		defaultCalicoPolicy(&o.Spec.Tier, &o.Spec.Types, o.Spec.Ingress, o.Spec.Egress)
	case *calicov3.GlobalNetworkPolicy:
		defaultCalicoPolicy(&o.Spec.Tier, &o.Spec.Types, o.Spec.Ingress, o.Spec.Egress)
	case *calicov3.StagedNetworkPolicy:
		defaultCalicoPolicy(&o.Spec.Tier, &o.Spec.Types, o.Spec.Ingress, o.Spec.Egress)
		if o.Spec.StagedAction == "" {
			o.Spec.StagedAction = calicov3.StagedActionSet
		}
	case *calicov3.StagedGlobalNetworkPolicy:
		defaultCalicoPolicy(&o.Spec.Tier, &o.Spec.Types, o.Spec.Ingress, o.Spec.Egress)
		if o.Spec.StagedAction == "" {
			o.Spec.StagedAction = calicov3.StagedActionSet
		}
	case *calicov3.Tier:
		if o.Spec.DefaultAction == nil {
			deny := calicov3.Deny
			o.Spec.DefaultAction = &deny
		}
		if o.Name == DefaultTier && o.Spec.Order == nil {
			order := calicov3.DefaultTierOrder
			o.Spec.Order = &order
		}
	case *corev1.Pod:
		defaultPodSpec(&o.Spec)
	case *corev1.Service:
		for i := range o.Spec.Ports {
			p := &o.Spec.Ports[i]
			if p.Protocol == "" {
				p.Protocol = corev1.ProtocolTCP
			}
			if p.TargetPort.Type == intstr.Int && p.TargetPort.IntVal == 0 {
				p.TargetPort = intstr.FromInt32(p.Port)
			}
		}
	default:
		if t := podTemplateOf(obj); t != nil {
			defaultPodSpec(&t.Spec)
		}
	}
	return obj
}

func defaultK8sPolicy(types *[]networkingv1.PolicyType, in []networkingv1.NetworkPolicyIngressRule, eg []networkingv1.NetworkPolicyEgressRule) {
	if len(*types) == 0 {
		*types = defaultPolicyTypes(len(eg) > 0)
	}
	tcp := corev1.ProtocolTCP
	for i := range in {
		for j := range in[i].Ports {
			if in[i].Ports[j].Protocol == nil {
				in[i].Ports[j].Protocol = &tcp
			}
		}
	}
	for i := range eg {
		for j := range eg[i].Ports {
			if eg[i].Ports[j].Protocol == nil {
				eg[i].Ports[j].Protocol = &tcp
			}
		}
	}
}

func defaultCalicoPolicy(tier *string, types *[]calicov3.PolicyType, in, eg []calicov3.Rule) {
	if *tier == "" {
		*tier = DefaultTier
	}
	if len(*types) == 0 {
		*types = inferCalicoTypes(len(in) > 0, len(eg) > 0)
	}
}

func defaultPodSpec(s *corev1.PodSpec) {
	if s.ServiceAccountName == "" {
		s.ServiceAccountName = "default"
	}
	for _, cs := range [][]corev1.Container{s.InitContainers, s.Containers} {
		for i := range cs {
			for j := range cs[i].Ports {
				if cs[i].Ports[j].Protocol == "" {
					cs[i].Ports[j].Protocol = corev1.ProtocolTCP
				}
			}
		}
	}
}
