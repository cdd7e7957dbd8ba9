package webhook

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/go-logr/logr"
	admissionv1 "k8s.io/api/admission/v1"
	admissionv1beta1 "k8s.io/api/admission/v1beta1"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"
)

// maxReviewBytes bounds a request body, as controller-runtime does: the API server's own limit
// on an object is 3 MiB, and a review carries two.
const maxReviewBytes = 7 << 20

// reviewServer is the HTTP side of the webhook: it reads one AdmissionReview, hands its request
// to the Handler and writes the answer as the same AdmissionReview version.
//
// controller-runtime's admission.Webhook does the same but decodes every review twice (once to
// find its apiVersion and kind, once into the review) through the API machinery's universal
// decoder; from outside that was as much CPU as the handler's own checks. A review is plain JSON
// whose two versions (v1, v1beta1) have one shape, so one pass with encoding/json reads it.
type reviewServer struct {
	handler *Handler
	log     logr.Logger
}

func serveReviews(h *Handler, log logr.Logger) http.Handler {
	return &reviewServer{handler: h, log: log}
}

// reviewEnvelope is the AdmissionReview both versions share.
type reviewEnvelope struct {
	APIVersion string                         `json:"apiVersion"`
	Kind       string                         `json:"kind"`
	Request    *admissionv1.AdmissionRequest  `json:"request,omitempty"`
	Response   *admissionv1.AdmissionResponse `json:"response,omitempty"`
}

func (s *reviewServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	version := admissionv1.SchemeGroupVersion.String()
	fail := func(code int, err error) {
		s.log.Error(err, "Unreadable admission request", "remote", r.RemoteAddr)
		resp := admission.Errored(int32(code), err)
		s.write(w, version, &resp.AdmissionResponse)
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/json" {
		fail(http.StatusBadRequest, fmt.Errorf("content type %q, want application/json", ct))
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxReviewBytes+1))
	switch {
	case err != nil:
		fail(http.StatusBadRequest, fmt.Errorf("read the request body: %w", err))
		return
	case len(body) > maxReviewBytes:
		fail(http.StatusRequestEntityTooLarge, fmt.Errorf("request body is over %d bytes", maxReviewBytes))
		return
	}
	var in reviewEnvelope
	if err := json.Unmarshal(body, &in); err != nil {
		fail(http.StatusBadRequest, fmt.Errorf("decode AdmissionReview: %w", err))
		return
	}
	switch in.APIVersion {
	case admissionv1.SchemeGroupVersion.String(), admissionv1beta1.SchemeGroupVersion.String():
		version = in.APIVersion
	default:
		fail(http.StatusBadRequest, fmt.Errorf("apiVersion %q is not an AdmissionReview version flowguard reads (admission.k8s.io/v1, v1beta1)", in.APIVersion))
		return
	}
	if in.Kind != "AdmissionReview" || in.Request == nil {
		fail(http.StatusBadRequest, errors.New("body is not an AdmissionReview with a request"))
		return
	}
	req := admission.Request{AdmissionRequest: *in.Request}
	resp := s.handler.Handle(logf.IntoContext(r.Context(), s.log), req)
	if err := resp.Complete(req); err != nil { // only a JSON patch can fail, and flowguard sends none
		resp = admission.Errored(http.StatusInternalServerError, fmt.Errorf("encode the answer: %w", err))
		resp.UID = req.UID
	}
	s.write(w, version, &resp.AdmissionResponse)
}

// write answers with an AdmissionReview of version holding resp. The status is 200 whatever
// the verdict: the API server reads the answer from the body.
func (s *reviewServer) write(w http.ResponseWriter, version string, resp *admissionv1.AdmissionResponse) {
	w.Header().Set("Content-Type", "application/json")
	out := reviewEnvelope{APIVersion: version, Kind: "AdmissionReview", Response: resp}
	if err := json.NewEncoder(w).Encode(&out); err != nil {
		// The answer always encodes; what fails is the connection, and nothing more can be sent.
		s.log.Error(err, "Writing the admission answer failed")
	}
}
