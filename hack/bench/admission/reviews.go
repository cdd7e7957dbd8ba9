package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	admissionv1 "k8s.io/api/admission/v1"
	appsv1 "k8s.io/api/apps/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/flowguard/flowguard/test/cluster"
)

// review is one AdmissionReview of the mix and the verdicts each server must give it.
type review struct {
	name string
	uid  types.UID
	body []byte
	// allowed is flowguard's verdict; Gatekeeper's constraint admits every review.
	allowed bool
}

// mix is what the reviews of a size change: the namespace, the Deployment, and the policies.
type mix struct {
	namespace, deployment string
	// allow is a narrow Kubernetes NetworkPolicy flowguard admits; refuse a Calico one denying
	// observed traffic (Kubernetes policies only add), which breaking-change refuses naming the flow.
	allow, refuse string
}

var mixes = map[string]mix{
	"shop": {namespace: "storefront", deployment: "web",
		allow: `
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: bench-allow, namespace: storefront, labels: {owner: bench}}
spec:
  podSelector: {matchLabels: {app: cart}}
  ingress: [{from: [{podSelector: {matchLabels: {app: web}}}], ports: [{port: 8080, protocol: TCP}]}]`,
		refuse: `
apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata: {name: bench-refuse, namespace: storefront, labels: {owner: bench}}
spec:
  order: 1
  selector: app == 'web'
  types: [Ingress]
  ingress: [{action: Deny, source: {nets: [0.0.0.0/0]}}]`},
	"10k": {namespace: "team-003", deployment: "svc-02",
		allow: `
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: bench-allow, namespace: team-003, labels: {owner: bench}}
spec:
  podSelector: {matchLabels: {app: svc-02}}
  ingress: [{from: [{podSelector: {matchLabels: {app: svc-01}}}], ports: [{port: 8002, protocol: TCP}]}]`,
		refuse: `
apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata: {name: bench-refuse, namespace: team-003, labels: {owner: bench}}
spec:
  order: 1
  selector: app == 'svc-02'
  types: [Ingress]
  ingress: [{action: Deny, source: {selector: app == 'svc-01'}}]`},
}

// buildReviews makes the mix of size from the live objects the API server holds: a
// NetworkPolicy admitted, one refused by breaking-change naming the flow, an update of a
// Deployment's pod template labels, and a namespace relabel.
func buildReviews(ctx context.Context, c *cluster.Cluster, size string) ([]review, error) {
	m, ok := mixes[size]
	if !ok {
		return nil, fmt.Errorf("no review mix for size %q", size)
	}
	var out []review
	add := func(name string, op admissionv1.Operation, allowed bool, obj, old client.Object) error {
		gvk, err := apiutil.GVKForObject(obj, c.Scheme)
		if err != nil {
			return fmt.Errorf("review %s: %w", name, err)
		}
		mapping, err := c.Client.RESTMapper().RESTMapping(gvk.GroupKind(), gvk.Version)
		if err != nil {
			return fmt.Errorf("review %s: %w", name, err)
		}
		obj.GetObjectKind().SetGroupVersionKind(gvk)
		uid := types.UID(fmt.Sprintf("bench-%d-%s", len(out), name))
		req := &admissionv1.AdmissionRequest{
			UID: uid, Kind: metav1.GroupVersionKind(gvk), RequestKind: ptrGVK(gvk.Group, gvk.Version, gvk.Kind),
			Resource:  metav1.GroupVersionResource(mapping.Resource),
			Namespace: obj.GetNamespace(), Name: obj.GetName(), Operation: op,
			UserInfo: authenticationv1.UserInfo{Username: "bench", Groups: []string{"system:authenticated"}},
			Object:   raw(obj),
		}
		if mapping.Scope.Name() == "root" {
			req.Namespace = ""
		}
		if old != nil {
			old.GetObjectKind().SetGroupVersionKind(gvk)
			req.OldObject = raw(old)
		}
		body, err := json.Marshal(admissionv1.AdmissionReview{
			TypeMeta: metav1.TypeMeta{APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview"}, Request: req})
		if err != nil {
			return fmt.Errorf("encode review %s: %w", name, err)
		}
		out = append(out, review{name: name, uid: uid, body: body, allowed: allowed})
		return nil
	}
	for _, p := range []struct {
		name, yaml string
		allowed    bool
	}{{"policy-allowed", m.allow, true}, {"policy-refused", m.refuse, false}} {
		obj, err := decode(c.Scheme, p.yaml)
		if err != nil {
			return nil, fmt.Errorf("review %s: %w", p.name, err)
		}
		if err := add(p.name, admissionv1.Create, p.allowed, obj, nil); err != nil {
			return nil, err
		}
	}
	var dep appsv1.Deployment
	if err := c.Client.Get(ctx, client.ObjectKey{Namespace: m.namespace, Name: m.deployment}, &dep); err != nil {
		return nil, fmt.Errorf("read Deployment %s/%s: %w", m.namespace, m.deployment, err)
	}
	newDep := dep.DeepCopy()
	newDep.Spec.Template.Labels["version"] = "v2"
	if err := add("deployment-label", admissionv1.Update, true, newDep, &dep); err != nil {
		return nil, err
	}
	var ns corev1.Namespace
	if err := c.Client.Get(ctx, client.ObjectKey{Name: m.namespace}, &ns); err != nil {
		return nil, fmt.Errorf("read Namespace %s: %w", m.namespace, err)
	}
	newNS := ns.DeepCopy()
	newNS.Labels["cost-centre"] = "bench"
	if err := add("namespace-relabel", admissionv1.Update, true, newNS, &ns); err != nil {
		return nil, err
	}
	return out, nil
}

func ptrGVK(group, version, kind string) *metav1.GroupVersionKind {
	return &metav1.GroupVersionKind{Group: group, Version: version, Kind: kind}
}

func raw(obj runtime.Object) runtime.RawExtension {
	data, err := json.Marshal(obj)
	if err != nil {
		panic(fmt.Sprintf("encode %T: %v", obj, err)) // typed API objects always encode
	}
	return runtime.RawExtension{Raw: data}
}

// decode reads one object of a known kind from YAML.
func decode(scheme *runtime.Scheme, doc string) (client.Object, error) {
	var tm metav1.TypeMeta
	if err := sigsyaml.Unmarshal([]byte(doc), &tm); err != nil {
		return nil, err
	}
	obj, err := scheme.New(tm.GroupVersionKind())
	if err != nil {
		return nil, err
	}
	if err := sigsyaml.UnmarshalStrict([]byte(strings.TrimSpace(doc)), obj); err != nil {
		return nil, err
	}
	co, ok := obj.(client.Object)
	if !ok {
		return nil, fmt.Errorf("%T is not a client.Object", obj)
	}
	return co, nil
}

// verdict checks one answer: a valid admission.k8s.io/v1 AdmissionReview for r's request with
// the verdict expected. unchecked reports an answer admitted without a decision (deadline or
// overload), which is also a wrong verdict when r must be refused.
func (r review) verdict(body []byte, want bool) (unchecked bool, err error) {
	var got admissionv1.AdmissionReview
	if err := json.Unmarshal(body, &got); err != nil {
		return false, fmt.Errorf("%s: not an AdmissionReview: %w", r.name, err)
	}
	if got.APIVersion != "admission.k8s.io/v1" || got.Kind != "AdmissionReview" || got.Response == nil {
		return false, fmt.Errorf("%s: answer is %s %s without a response", r.name, got.APIVersion, got.Kind)
	}
	if got.Response.UID != r.uid {
		return false, fmt.Errorf("%s: response uid %q, want %q", r.name, got.Response.UID, r.uid)
	}
	for _, w := range got.Response.Warnings {
		if strings.Contains(w, "admitted unchecked") {
			unchecked = true
		}
	}
	if got.Response.Allowed != want {
		msg := ""
		if got.Response.Result != nil {
			msg = got.Response.Result.Message
		}
		return unchecked, fmt.Errorf("%s: allowed = %v, want %v: %.300s", r.name, got.Response.Allowed, want, msg)
	}
	return unchecked, nil
}

// refusalMessage is the message of a refusal, for the warm-up's check that the flow is named.
func refusalMessage(body []byte) string {
	var got admissionv1.AdmissionReview
	if json.Unmarshal(body, &got) != nil || got.Response == nil || got.Response.Result == nil {
		return ""
	}
	return got.Response.Result.Message
}
