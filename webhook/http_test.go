package webhook

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/go-logr/logr"
	admissionv1 "k8s.io/api/admission/v1"
)

// TestServeReviews checks the HTTP side: the answer comes back as the AdmissionReview version
// asked in, with the request's UID, and a body that is no AdmissionReview is answered with an
// error naming what is wrong.
func TestServeReviews(t *testing.T) {
	h, _ := newTestHandler(t, &ruleDecider{rules: testRules(), graphLoaded: true}, DefaultConfig("flowguard-system"))
	srv := serveReviews(h, logr.Discard())
	req := newRequest(t, gvkNetworkPolicy, admissionv1.Create, forbiddenPolicy, "")
	review := func(apiVersion string) string {
		b, err := json.Marshal(map[string]any{"apiVersion": apiVersion, "kind": "AdmissionReview", "request": req.AdmissionRequest})
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	tests := map[string]struct {
		contentType, body string
		// wantVersion is the answer's apiVersion; wantAllowed its verdict; wantCode and
		// wantMessage the error status of an unreadable request (0: none).
		wantVersion string
		wantAllowed bool
		wantCode    int32
		wantMessage string
	}{
		"v1":                {"application/json", review("admission.k8s.io/v1"), "admission.k8s.io/v1", false, 0, ""},
		"v1beta1":           {"application/json", review("admission.k8s.io/v1beta1"), "admission.k8s.io/v1beta1", false, 0, ""},
		"not JSON":          {"application/json", "{not json", "admission.k8s.io/v1", false, 400, "decode AdmissionReview"},
		"another version":   {"application/json", review("admission.k8s.io/v2"), "admission.k8s.io/v1", false, 400, `apiVersion "admission.k8s.io/v2"`},
		"no request":        {"application/json", `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"}`, "admission.k8s.io/v1", false, 400, "with a request"},
		"another kind":      {"application/json", strings.Replace(review("admission.k8s.io/v1"), "AdmissionReview", "Pod", 1), "admission.k8s.io/v1", false, 400, "with a request"},
		"YAML":              {"application/yaml", review("admission.k8s.io/v1"), "admission.k8s.io/v1", false, 400, `content type "application/yaml"`},
		"over the size cap": {"application/json", strings.Repeat(" ", maxReviewBytes+1), "admission.k8s.io/v1", false, 413, "over 7340032 bytes"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			w := httptest.NewRecorder()
			hr := httptest.NewRequest(http.MethodPost, Path, bytes.NewReader([]byte(tc.body)))
			hr.Header.Set("Content-Type", tc.contentType)
			srv.ServeHTTP(w, hr)
			if w.Code != http.StatusOK || w.Header().Get("Content-Type") != "application/json" {
				t.Fatalf("HTTP %d, %s; the API server reads the answer from a 200's JSON body", w.Code, w.Header().Get("Content-Type"))
			}
			var got reviewEnvelope
			if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil {
				t.Fatalf("answer is not JSON: %v: %s", err, w.Body)
			}
			if got.APIVersion != tc.wantVersion || got.Kind != "AdmissionReview" || got.Response == nil {
				t.Fatalf("answer = %s", w.Body)
			}
			resp := got.Response
			if tc.wantCode != 0 {
				if resp.Allowed || resp.Result == nil || resp.Result.Code != tc.wantCode || !strings.Contains(resp.Result.Message, tc.wantMessage) {
					t.Errorf("answer = %+v, want refused with %d and %q", resp, tc.wantCode, tc.wantMessage)
				}
				return
			}
			if resp.UID != req.UID || resp.Allowed != tc.wantAllowed || resp.Result == nil || resp.Result.Code == 0 {
				t.Errorf("answer = %+v, want uid %s, allowed %v and a status code", resp, req.UID, tc.wantAllowed)
			}
		})
	}
}
