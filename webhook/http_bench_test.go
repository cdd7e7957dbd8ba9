package webhook

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/go-logr/logr"
	admissionv1 "k8s.io/api/admission/v1"

	"github.com/flowguard/flowguard/webhook/webhooktest"
)

// BenchmarkServeHTTP measures what the webhook costs around a decision: reading and decoding the
// AdmissionReview, the handler's own checks, and encoding the answer. The decider is the test
// fixture's, so the rule engine is left out.
//
//	go test ./webhook -run '^$' -bench ServeHTTP -benchmem
func BenchmarkServeHTTP(b *testing.B) {
	h, _ := newTestHandler(b, &ruleDecider{rules: testRules(), graphLoaded: true}, DefaultConfig("flowguard-system"))
	srv := serveReviews(h, logr.Discard())
	for name, req := range map[string]struct {
		gvk      string
		op       admissionv1.Operation
		obj, old string
	}{
		"policy create":      {"np", admissionv1.Create, narrowPolicy, ""},
		"deployment relabel": {"deploy", admissionv1.Update, deploymentRelabelled, deployment},
		"deployment scale":   {"deploy", admissionv1.Update, deploymentScaled, deployment},
	} {
		r := newRequest(b, fixtureKind(req.gvk), req.op, req.obj, req.old)
		body, err := webhooktest.Body(&r.AdmissionRequest)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				w := httptest.NewRecorder()
				hr := httptest.NewRequest(http.MethodPost, Path, bytes.NewReader(body))
				hr.Header.Set("Content-Type", "application/json")
				srv.ServeHTTP(w, hr)
				if w.Code != http.StatusOK {
					b.Fatalf("HTTP %d: %s", w.Code, w.Body)
				}
			}
		})
	}
}
