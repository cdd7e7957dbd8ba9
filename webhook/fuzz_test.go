package webhook

import (
	"context"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
	admissionv1 "k8s.io/api/admission/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"
)

// FuzzHandle feeds arbitrary objects of every handled kind through the handler: whatever the
// API server sends, the handler answers, and never by recovering from a panic.
func FuzzHandle(f *testing.F) {
	kinds := []metav1.GroupVersionKind{gvkNetworkPolicy, gvkCalicoPolicy, gvkGlobalPolicy, gvkNamespace, gvkPod,
		gvkDeployment, gvkCronJob, gvkCalicoTier, gvkCalicoSet, gvkStagedK8sPolicy, gvkRegoRule}
	ops := []admissionv1.Operation{admissionv1.Create, admissionv1.Update, admissionv1.Delete}
	for i, obj := range []string{openPolicy, calicoPolicy(`  ingress: [{action: Allow, source: {selector: "a == 'b'"}}]`), pod, deployment, cronJob, namespaceShop} {
		raw := rawYAML(f, obj).Raw
		f.Add(uint8(i), uint8(i), raw, raw)
	}
	f.Add(uint8(0), uint8(1), []byte(`{"metadata":{"labels":{"a":1}}}`), []byte(`{}`))
	f.Add(uint8(1), uint8(0), []byte(`{"spec":{"ingress":[{"action":"Allow","destination":{"ports":["1:2:3"]}}]}}`), []byte(nil))

	d := &ruleDecider{rules: testRules(), graphLoaded: true}
	h, m := newTestHandler(f, d, DefaultConfig("flowguard-system"))
	f.Fuzz(func(t *testing.T, kind, op uint8, obj, old []byte) {
		req := admission.Request{AdmissionRequest: admissionv1.AdmissionRequest{
			UID:       "fuzz",
			Kind:      kinds[int(kind)%len(kinds)],
			Operation: ops[int(op)%len(ops)],
			Name:      "x",
			Namespace: "shop",
			Object:    runtime.RawExtension{Raw: obj},
			OldObject: runtime.RawExtension{Raw: old},
		}}
		resp := h.Handle(context.Background(), req)
		if resp.Result == nil {
			t.Fatalf("response without a result: %+v", resp)
		}
		if n := testutil.ToFloat64(m.evalErrors.WithLabelValues(reasonPanic)); n != 0 {
			t.Fatalf("the handler recovered from %v panics on kind %s, object %q", n, req.Kind.Kind, obj)
		}
	})
}
