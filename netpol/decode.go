package netpol

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"

	calicov3 "github.com/projectcalico/api/pkg/apis/projectcalico/v3"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	kjson "sigs.k8s.io/json"
	anp "sigs.k8s.io/network-policy-api/apis/v1alpha1"
	cnp "sigs.k8s.io/network-policy-api/apis/v1alpha2"
)

// kindInfo says how to build a typed object of one kind and whether it is namespaced.
type kindInfo struct {
	new        func() runtime.Object
	namespaced bool
}

// kinds are the API kinds flowguard reads, by group and kind. Calico's CRD group
// (crd.projectcalico.org/v1) carries the same shapes as projectcalico.org/v3.
var kinds = map[string]map[string]kindInfo{
	"v1": {
		"Namespace":             {func() runtime.Object { return &corev1.Namespace{} }, false},
		"Pod":                   {func() runtime.Object { return &corev1.Pod{} }, true},
		"ServiceAccount":        {func() runtime.Object { return &corev1.ServiceAccount{} }, true},
		"Service":               {func() runtime.Object { return &corev1.Service{} }, true},
		"ReplicationController": {func() runtime.Object { return &corev1.ReplicationController{} }, true},
	},
	"apps/v1": {
		"Deployment":  {func() runtime.Object { return &appsv1.Deployment{} }, true},
		"StatefulSet": {func() runtime.Object { return &appsv1.StatefulSet{} }, true},
		"DaemonSet":   {func() runtime.Object { return &appsv1.DaemonSet{} }, true},
		"ReplicaSet":  {func() runtime.Object { return &appsv1.ReplicaSet{} }, true},
	},
	"batch/v1": {
		"Job":     {func() runtime.Object { return &batchv1.Job{} }, true},
		"CronJob": {func() runtime.Object { return &batchv1.CronJob{} }, true},
	},
	"networking.k8s.io/v1": {
		"NetworkPolicy": {func() runtime.Object { return &networkingv1.NetworkPolicy{} }, true},
	},
	"policy.networking.k8s.io/v1alpha1": {
		"AdminNetworkPolicy":         {func() runtime.Object { return &anp.AdminNetworkPolicy{} }, false},
		"BaselineAdminNetworkPolicy": {func() runtime.Object { return &anp.BaselineAdminNetworkPolicy{} }, false},
	},
	"policy.networking.k8s.io/v1alpha2": {
		"ClusterNetworkPolicy": {func() runtime.Object { return &cnp.ClusterNetworkPolicy{} }, false},
	},
	"projectcalico.org/v3":     calicoKinds,
	"crd.projectcalico.org/v1": calicoKinds,
}

var calicoKinds = map[string]kindInfo{
	"NetworkPolicy":                 {func() runtime.Object { return &calicov3.NetworkPolicy{} }, true},
	"GlobalNetworkPolicy":           {func() runtime.Object { return &calicov3.GlobalNetworkPolicy{} }, false},
	"StagedNetworkPolicy":           {func() runtime.Object { return &calicov3.StagedNetworkPolicy{} }, true},
	"StagedGlobalNetworkPolicy":     {func() runtime.Object { return &calicov3.StagedGlobalNetworkPolicy{} }, false},
	"StagedKubernetesNetworkPolicy": {func() runtime.Object { return &calicov3.StagedKubernetesNetworkPolicy{} }, true},
	"NetworkSet":                    {func() runtime.Object { return &calicov3.NetworkSet{} }, true},
	"GlobalNetworkSet":              {func() runtime.Object { return &calicov3.GlobalNetworkSet{} }, false},
	"Tier":                          {func() runtime.Object { return &calicov3.Tier{} }, false},
	"HostEndpoint":                  {func() runtime.Object { return &calicov3.HostEndpoint{} }, false},
}

// ownedGroups are the API groups whose kinds flowguard knows; an unknown kind in one of them is
// an error (most likely a typo), while kinds of other groups are skipped.
var ownedGroups = map[string]bool{
	"": true, "apps": true, "batch": true, "networking.k8s.io": true,
	"projectcalico.org": true, "crd.projectcalico.org": true, "policy.networking.k8s.io": true,
}

// irrelevantCoreKinds are kinds of owned groups that say nothing about network policy.
var irrelevantCoreKinds = map[string]bool{
	"ConfigMap": true, "Secret": true, "PersistentVolumeClaim": true, "PersistentVolume": true,
	"Endpoints": true, "Event": true, "LimitRange": true, "ResourceQuota": true, "Node": true,
	"PodTemplate": true, "ControllerRevision": true, "Ingress": true, "IngressClass": true,
	"ServiceCIDR": true, "IPAddress": true, "ComponentStatus": true, "Binding": true,
	"IPPool": true, "IPReservation": true, "BGPConfiguration": true, "BGPPeer": true, "BGPFilter": true,
	"FelixConfiguration": true, "KubeControllersConfiguration": true, "ClusterInformation": true,
	"IPAMConfiguration": true, "BlockAffinity": true, "CalicoNodeStatus": true, "Profile": true,
	"IPAMBlock": true, "IPAMHandle": true,
}

// errSkipped marks a document of a kind flowguard does not read; it is not reported.
var errSkipped = errors.New("kind not read by flowguard")

// decoded is one object read from a document, or the error that prevented it.
type decoded struct {
	obj runtime.Object
	src Source
	err *ObjectError
}

// decodeDocument turns one JSON document into typed objects, unfolding Lists.
func decodeDocument(data []byte, src Source, out []decoded) []decoded {
	var head struct {
		metav1.TypeMeta `json:",inline"`
		Metadata        struct{ Name, Namespace any } `json:"metadata"`
		Items           []json.RawMessage             `json:"items"`
	}
	if err := json.Unmarshal(data, &head); err != nil {
		return append(out, decoded{src: src, err: &ObjectError{Source: src, Err: fmt.Errorf("read object: %w", err)}})
	}
	fail := func(err error) []decoded {
		return append(out, decoded{src: src, err: &ObjectError{Source: src, Kind: head.Kind,
			Namespace: scalar(head.Metadata.Namespace), Name: scalar(head.Metadata.Name), Err: err}})
	}
	if head.Kind == "" {
		return fail(errors.New("kind: Required value"))
	}
	if head.APIVersion == "" {
		return fail(errors.New("apiVersion: Required value"))
	}
	gv, err := schema.ParseGroupVersion(head.APIVersion)
	if err != nil {
		return fail(fmt.Errorf("apiVersion: %w", err))
	}
	if strings.HasSuffix(head.Kind, "List") && head.Items != nil {
		for i, item := range head.Items {
			isrc := src
			isrc.Item = fmt.Sprintf("items[%d]", i)
			if src.Item != "" {
				isrc.Item = src.Item + "." + isrc.Item
			}
			if head.Kind != "List" {
				item = withListItemType(item, head.APIVersion, strings.TrimSuffix(head.Kind, "List"))
			}
			out = decodeDocument(item, isrc, out)
		}
		return out
	}
	obj, err := decodeTyped(data, gv, head.Kind)
	if errors.Is(err, errSkipped) {
		return out
	}
	if err != nil {
		return fail(err)
	}
	return append(out, decoded{obj: obj, src: src})
}

// withListItemType gives an item of a typed list (PodList, NetworkPolicyList) the kind and
// apiVersion the API server leaves out of its items.
func withListItemType(item []byte, apiVersion, kind string) []byte {
	var tm metav1.TypeMeta
	t := bytes.TrimSpace(item)
	if json.Unmarshal(t, &tm) != nil || len(t) < 2 || t[0] != '{' || (tm.Kind != "" && tm.APIVersion != "") {
		return item
	}
	var fields []string
	if tm.Kind == "" {
		fields = append(fields, fmt.Sprintf("%q:%q", "kind", kind))
	}
	if tm.APIVersion == "" {
		fields = append(fields, fmt.Sprintf("%q:%q", "apiVersion", apiVersion))
	}
	sep := ","
	if len(bytes.TrimSpace(t[1:])) == 1 { // "{}"
		sep = ""
	}
	return slices.Concat([]byte("{"), []byte(strings.Join(fields, ",")+sep), t[1:])
}

// scalar renders a metadata field for messages, whatever YAML made of it.
func scalar(v any) string {
	if v == nil {
		return ""
	}
	return fmt.Sprint(v)
}

// decodeTyped decodes strictly: unknown and duplicate fields are errors, as the API server's
// strict field validation (kubectl's default) makes them.
func decodeTyped(data []byte, gv schema.GroupVersion, kind string) (runtime.Object, error) {
	byKind, ok := kinds[gv.String()]
	info, known := byKind[kind]
	if !ok || !known {
		switch {
		case !ownedGroups[gv.Group] || irrelevantCoreKinds[kind]:
			return nil, errSkipped
		case ok:
			return nil, fmt.Errorf("kind: Unsupported value: %q is not a kind of %s that flowguard reads", kind, gv)
		}
		return nil, fmt.Errorf("apiVersion: Unsupported value: %q (flowguard reads %s)", gv.String(), supportedVersions(gv.Group))
	}
	obj := info.new()
	strict, err := kjson.UnmarshalStrict(data, obj, kjson.DisallowDuplicateFields, kjson.DisallowUnknownFields)
	if err != nil {
		if path, perr := plainTypeError(err); path != "" {
			return nil, &fieldTypeError{path: path, err: perr}
		}
		return nil, fmt.Errorf("decode %s: %w", kind, err)
	}
	// The API server keeps a status block on kinds that no longer have one (NetworkPolicy's
	// was removed in Kubernetes 1.31) and dumps carry it; it says nothing about policy.
	strict = slices.DeleteFunc(strict, func(e error) bool {
		return e.Error() == `unknown field "status"` && !hasStatus(obj)
	})
	if len(strict) > 0 {
		var unknown unknownFields
		var other []string
		for _, e := range strict {
			if fe, ok := errors.AsType[kjson.FieldError](e); ok && strings.HasPrefix(e.Error(), "unknown field") {
				unknown = append(unknown, fe.FieldPath())
				continue
			}
			other = append(other, e.Error())
		}
		if len(other) > 0 {
			return nil, fmt.Errorf("strict decoding: %s", strings.Join(append(other, unknown.Error()), "; "))
		}
		return nil, unknown
	}
	// Objects from the CRD group are stored under projectcalico.org/v3 like the rest.
	obj.GetObjectKind().SetGroupVersionKind(schema.GroupVersionKind{Group: gv.Group, Version: gv.Version, Kind: kind})
	if m, err := meta.Accessor(obj); err == nil {
		if info.namespaced && m.GetNamespace() == "" {
			m.SetNamespace(metav1.NamespaceDefault)
		}
		if !info.namespaced && m.GetNamespace() != "" {
			return nil, fmt.Errorf("metadata.namespace: Forbidden: %s is cluster-scoped", kind)
		}
		if m.GetName() == "" {
			return nil, errors.New("metadata.name: Required value")
		}
	}
	return obj, nil
}

// hasStatus reports whether a typed object has a status field.
func hasStatus(obj runtime.Object) bool {
	_, ok := reflect.TypeOf(obj).Elem().FieldByName("Status")
	return ok
}

func supportedVersions(group string) string {
	var vs []string
	for gv := range kinds {
		g, _ := schema.ParseGroupVersion(gv)
		if g.Group == group {
			vs = append(vs, gv)
		}
	}
	return strings.Join(vs, ", ")
}

// describe returns the kind, namespace and name of a typed object.
func describe(obj runtime.Object) (kind, ns, name string) {
	if obj == nil {
		return "", "", ""
	}
	kind = kindOf(obj)
	if m, err := meta.Accessor(obj); err == nil {
		ns, name = m.GetNamespace(), m.GetName()
	}
	return kind, ns, name
}

// kindOf names the kind of a typed object from its Go type, so objects from informers (whose
// TypeMeta is often empty) are named too.
func kindOf(obj runtime.Object) string {
	switch obj.(type) {
	case *networkingv1.NetworkPolicy:
		return "NetworkPolicy"
	case *calicov3.NetworkPolicy:
		return "NetworkPolicy.projectcalico.org"
	}
	t := fmt.Sprintf("%T", obj)
	return t[strings.LastIndexByte(t, '.')+1:]
}
