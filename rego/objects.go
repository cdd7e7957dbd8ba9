package rego

import (
	"encoding/json"
	"fmt"

	calicov3 "github.com/projectcalico/api/pkg/apis/projectcalico/v3"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	anp "sigs.k8s.io/network-policy-api/apis/v1alpha1"
	cnp "sigs.k8s.io/network-policy-api/apis/v1alpha2"

	"github.com/flowguard/flowguard/netpol"
)

// adminGroup is the API group of the Kubernetes admin policy kinds (AdminNetworkPolicy,
// BaselineAdminNetworkPolicy, ClusterNetworkPolicy).
const adminGroup = "policy.networking.k8s.io"

// newTyped returns an empty typed object of a kind netpol reads, by its rule kind name.
func newTyped(kind string) (runtime.Object, bool) {
	switch kind {
	case "Namespace":
		return &corev1.Namespace{}, true
	case "Pod":
		return &corev1.Pod{}, true
	case "ServiceAccount":
		return &corev1.ServiceAccount{}, true
	case "Service":
		return &corev1.Service{}, true
	case "ReplicationController":
		return &corev1.ReplicationController{}, true
	case "Deployment":
		return &appsv1.Deployment{}, true
	case "StatefulSet":
		return &appsv1.StatefulSet{}, true
	case "DaemonSet":
		return &appsv1.DaemonSet{}, true
	case "ReplicaSet":
		return &appsv1.ReplicaSet{}, true
	case "Job":
		return &batchv1.Job{}, true
	case "CronJob":
		return &batchv1.CronJob{}, true
	case "NetworkPolicy":
		return &networkingv1.NetworkPolicy{}, true
	case "projectcalico.org/NetworkPolicy":
		return &calicov3.NetworkPolicy{}, true
	case "projectcalico.org/GlobalNetworkPolicy":
		return &calicov3.GlobalNetworkPolicy{}, true
	case "projectcalico.org/StagedNetworkPolicy":
		return &calicov3.StagedNetworkPolicy{}, true
	case "projectcalico.org/StagedGlobalNetworkPolicy":
		return &calicov3.StagedGlobalNetworkPolicy{}, true
	case "projectcalico.org/StagedKubernetesNetworkPolicy":
		return &calicov3.StagedKubernetesNetworkPolicy{}, true
	case "projectcalico.org/NetworkSet":
		return &calicov3.NetworkSet{}, true
	case "projectcalico.org/GlobalNetworkSet":
		return &calicov3.GlobalNetworkSet{}, true
	case "projectcalico.org/Tier":
		return &calicov3.Tier{}, true
	case "projectcalico.org/HostEndpoint":
		return &calicov3.HostEndpoint{}, true
	case adminGroup + "/AdminNetworkPolicy":
		return &anp.AdminNetworkPolicy{}, true
	case adminGroup + "/BaselineAdminNetworkPolicy":
		return &anp.BaselineAdminNetworkPolicy{}, true
	case adminGroup + "/ClusterNetworkPolicy":
		return &cnp.ClusterNetworkPolicy{}, true
	}
	return nil, false
}

// objectKind is the rule kind name of an object given as a map ("NetworkPolicy",
// "projectcalico.org/GlobalNetworkPolicy"); Calico's crd.projectcalico.org group counts as
// projectcalico.org.
func objectKind(obj map[string]any) string {
	apiVersion, _ := obj["apiVersion"].(string)
	kind, _ := obj["kind"].(string)
	group := groupOf(apiVersion)
	if group == "crd.projectcalico.org" {
		group = "projectcalico.org"
	}
	return KindName(group, kind)
}

// typedObject converts an object from the rule input to the typed object netpol reads. It
// returns (nil, nil) for kinds netpol does not read: they cannot change policy semantics.
func typedObject(obj map[string]any) (runtime.Object, error) {
	return typedObjectJSON(obj, nil)
}

// typedObjectJSON is typedObject given, when data is not nil, the JSON obj was decoded from.
func typedObjectJSON(obj map[string]any, data []byte) (runtime.Object, error) {
	if obj == nil {
		return nil, nil
	}
	kind := objectKind(obj)
	typed, ok := newTyped(kind)
	if !ok {
		return nil, nil
	}
	// Through JSON rather than the unstructured converter: rule inputs carry json.Number and
	// float64 numbers that the converter refuses for some fields (Calico's order).
	if data == nil {
		var err error
		if data, err = json.Marshal(obj); err != nil {
			return nil, fmt.Errorf("decode %s: %w", kind, err)
		}
	}
	if err := json.Unmarshal(data, typed); err != nil {
		return nil, fmt.Errorf("decode %s: %w", kind, err)
	}
	gv, err := schema.ParseGroupVersion(str(obj["apiVersion"]))
	if err != nil {
		return nil, fmt.Errorf("decode %s: apiVersion: %w", kind, err)
	}
	if gv.Group == "crd.projectcalico.org" {
		gv = calicov3.SchemeGroupVersion
	}
	typed.GetObjectKind().SetGroupVersionKind(gv.WithKind(str(obj["kind"])))
	return typed, nil
}

// toMap converts a typed object to the map form rules see.
func toMap(obj runtime.Object) (map[string]any, error) {
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		return nil, err
	}
	return m, nil
}

// enforcedTwin converts a staged policy into the change that enforcing it makes: the enforced
// object to create or update (with the twin it replaces), or (stagedAction Delete) the
// enforced twin to delete. ok is false when enforcing changes nothing.
func enforcedTwin(cluster *netpol.Cluster, staged runtime.Object) (op netpol.Operation, oldObj, newObj runtime.Object, ok bool) {
	var action calicov3.StagedAction
	var enforced runtime.Object
	var ref netpol.PolicyRef
	switch s := staged.(type) {
	case *calicov3.StagedNetworkPolicy:
		a, p := calicov3.ConvertStagedPolicyToEnforced(s)
		p.SetGroupVersionKind(calicov3.SchemeGroupVersion.WithKind("NetworkPolicy"))
		action, enforced = a, p
		ref = netpol.PolicyRef{Kind: netpol.KindNetworkPolicy, Namespace: p.Namespace, Name: p.Name}
	case *calicov3.StagedGlobalNetworkPolicy:
		a, p := calicov3.ConvertStagedGlobalPolicyToEnforced(s)
		p.SetGroupVersionKind(calicov3.SchemeGroupVersion.WithKind("GlobalNetworkPolicy"))
		action, enforced = a, p
		ref = netpol.PolicyRef{Kind: netpol.KindGlobalNetworkPolicy, Name: p.Name}
	case *calicov3.StagedKubernetesNetworkPolicy:
		a, p := calicov3.ConvertStagedKubernetesPolicyToK8SEnforced(s)
		p.SetGroupVersionKind(networkingv1.SchemeGroupVersion.WithKind("NetworkPolicy"))
		action, enforced = a, p
		ref = netpol.PolicyRef{Kind: netpol.KindKubernetesNetworkPolicy, Namespace: p.Namespace, Name: p.Name}
	default:
		return "", nil, nil, false
	}
	existing := cluster.Policy(ref)
	switch {
	case action == calicov3.StagedActionDelete && existing == nil:
		return "", nil, nil, false
	case action == calicov3.StagedActionDelete:
		return netpol.Delete, existing.Object, nil, true
	case existing != nil:
		return netpol.Update, existing.Object, enforced, true
	}
	return netpol.Create, nil, enforced, true
}

// policyText names a policy for messages as the Rego helper flowguard.policy.describe does:
// "NetworkPolicy shop/web" (Kubernetes), "Calico NetworkPolicy shop/web",
// "GlobalNetworkPolicy allow-dns".
func policyText(ref netpol.PolicyRef) string {
	var kind string
	switch ref.Kind {
	case netpol.KindKubernetesNetworkPolicy:
		kind = "NetworkPolicy"
	case netpol.KindNetworkPolicy, netpol.KindStagedNetworkPolicy:
		kind = "Calico " + ref.Kind.String()
	default:
		kind = ref.Kind.String()
	}
	if ref.Namespace == "" {
		return kind + " " + ref.Name
	}
	return kind + " " + ref.Namespace + "/" + ref.Name
}
