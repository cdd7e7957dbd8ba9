package webhook

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"runtime/debug"
	"strings"
	"unicode"
	"unicode/utf8"

	admissionv1 "k8s.io/api/admission/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/utils/clock"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/flowguard/flowguard/rego"
)

// Decider evaluates the rules that target one admission request. *rego.Engine is the Decider
// flowguard runs; it honours the context's deadline.
type Decider interface {
	Admit(ctx context.Context, req rego.AdmissionRequest) (rego.Result, error)
}

// Options are a Handler's dependencies.
type Options struct {
	// Decider evaluates the rules. Required.
	Decider Decider
	// Config says how violations and degraded modes are answered.
	Config Config
	// Metrics records requests and decisions. Required.
	Metrics *Metrics
	// Clock times requests; the real clock when nil.
	Clock clock.PassiveClock
}

// Handler is the admission.Handler for every kind flowguard validates.
type Handler struct {
	decider Decider
	decoder admission.Decoder
	cfg     Config
	metrics *Metrics
	clock   clock.PassiveClock
	pool    *evalPool
	// checks run in order on every request that routing and exemptions let through.
	checks []check
}

// check is one link of the chain. It reports what it found; the handler merges the results.
type check func(ctx context.Context, r *review) result

var _ admission.Handler = (*Handler)(nil)

// NewHandler builds the handler.
func NewHandler(opts Options) (*Handler, error) {
	if opts.Decider == nil || opts.Metrics == nil {
		return nil, errors.New("webhook handler: a decider and metrics are required")
	}
	if err := opts.Config.Validate(); err != nil {
		return nil, fmt.Errorf("webhook handler: %w", err)
	}
	scheme, err := NewScheme()
	if err != nil {
		return nil, fmt.Errorf("webhook handler: %w", err)
	}
	if opts.Clock == nil {
		opts.Clock = clock.RealClock{}
	}
	h := &Handler{
		decider: opts.Decider,
		decoder: admission.NewDecoder(scheme),
		cfg:     opts.Config,
		metrics: opts.Metrics,
		clock:   opts.Clock,
		pool:    newEvalPool(opts.Config.Workers, opts.Config.Queue),
	}
	h.checks = []check{h.validateCalico, h.compileRegoRule, h.evaluateRules}
	return h, nil
}

// Close stops the decision workers as their current decisions return. A request after Close is
// answered as under overload.
func (h *Handler) Close() { h.pool.stop() }

// Handle answers one AdmissionReview. It never panics: a panic anywhere below becomes an error
// response, admitted with a warning unless Config.FailClosed.OnError is set.
func (h *Handler) Handle(ctx context.Context, req admission.Request) (resp admission.Response) {
	start := h.clock.Now()
	kind, handled := route(schema.GroupKind{Group: req.Kind.Group, Kind: req.Kind.Kind})
	name := kind.name
	if !handled {
		name = req.Kind.Group + "/" + req.Kind.Kind
	}
	log := logf.FromContext(ctx).WithValues("uid", req.UID, "kind", name, "operation", req.Operation,
		"namespace", req.Namespace, "name", req.Name)
	ctx = logf.IntoContext(ctx, log)
	defer func() {
		if p := recover(); p != nil {
			h.metrics.evalErrors.WithLabelValues(reasonPanic).Inc()
			log.Error(fmt.Errorf("panic: %v", p), "Admission handler panicked", "stack", string(debug.Stack()))
			resp = h.internalError(fmt.Errorf("internal error: panic: %v", p))
		}
		h.metrics.duration.WithLabelValues(name, string(req.Operation)).Observe(h.clock.Since(start).Seconds())
	}()

	if !handled || !kind.wants(req.Operation) {
		return admission.Allowed("")
	}
	r, err := newReview(&req, kind)
	if err != nil {
		// The API server has already checked the object against its schema: what flowguard
		// cannot read is flowguard's failure (a version it does not know, say), not the user's,
		// and it follows --fail-closed-on-error like any other.
		h.metrics.evalErrors.WithLabelValues(reasonError).Inc()
		log.Error(err, "Admission request does not decode")
		return h.internalError(fmt.Errorf("decode %s %s: %w", name, req.Name, err))
	}
	if r.skipCheaply() {
		return admission.Allowed("")
	}
	if reason := h.exempt(r); reason != "" {
		log.V(1).Info("Admitted exempt object", "reason", reason)
		return admission.Allowed(reason)
	}

	var res result
	for _, c := range h.checks {
		// Rules cannot reason about an object that is structurally wrong; report the
		// structural problems, all of them, and stop there.
		if len(res.errs) > 0 {
			break
		}
		res.merge(c(ctx, r))
	}
	resp = respond(r, res)
	log.V(1).Info("Admission decided", "allowed", resp.Allowed, "fieldErrors", len(res.errs),
		"denials", len(res.denials), "warnings", len(res.warnings), "dryRun", len(res.audit) > 0)
	return resp
}

// exempt says why a request skips every check, or "" when it does not.
func (h *Handler) exempt(r *review) string {
	ns := r.req.Namespace
	if r.gk == (schema.GroupKind{Kind: "Namespace"}) {
		ns = r.req.Name
	}
	if h.cfg.namespaceExempt(ns) {
		return "namespace " + ns + " is exempt"
	}
	if h.cfg.ExemptLabel != "" && r.currentLabels()[h.cfg.ExemptLabel] == "true" {
		return "object is labelled " + h.cfg.ExemptLabel + "=true"
	}
	return ""
}

// respond turns the merged result into the AdmissionResponse.
func respond(r *review, res result) admission.Response {
	resp := admission.Response{AdmissionResponse: admissionv1.AdmissionResponse{
		Allowed:          true,
		Result:           &metav1.Status{Code: http.StatusOK},
		Warnings:         sanitizeWarnings(res.warnings),
		AuditAnnotations: res.audit,
	}}
	switch {
	case len(res.errs) > 0:
		gk := r.gk
		invalid := apierrors.NewInvalid(gk, r.req.Name, res.errs)
		status := invalid.Status()
		if len(res.denials) > 0 {
			status.Message += "\n" + strings.Join(res.denials, "\n")
		}
		resp.Allowed = false
		resp.Result = &status
	case len(res.denials) > 0:
		resp.Allowed = false
		resp.Result = &metav1.Status{
			Status:  metav1.StatusFailure,
			Code:    http.StatusForbidden,
			Reason:  metav1.StatusReasonForbidden,
			Message: strings.Join(res.denials, "\n"),
		}
	}
	return resp
}

// internalError answers a request the handler could not finish.
func (h *Handler) internalError(err error) admission.Response {
	if h.cfg.FailClosed.OnError {
		return admission.Errored(http.StatusInternalServerError, fmt.Errorf("flowguard: %w", err))
	}
	resp := admission.Allowed("")
	resp.Result = &metav1.Status{Code: http.StatusInternalServerError, Reason: metav1.StatusReasonInternalError, Message: err.Error()}
	return resp.WithWarnings(sanitizeWarning("flowguard could not check this change (" + err.Error() + "); admitted unchecked"))
}

// maxWarningRunes keeps one warning readable; the API server drops warnings past 4096 runes in
// total, so one long warning must not crowd out the others.
const maxWarningRunes = 512

func sanitizeWarnings(ws []string) []string {
	if len(ws) == 0 {
		return nil
	}
	out := make([]string, 0, len(ws))
	for _, w := range ws {
		out = append(out, sanitizeWarning(w))
	}
	return out
}

// sanitizeWarning makes a warning acceptable to the API server, which silently drops any warning
// holding a control character (a newline included) or invalid UTF-8.
func sanitizeWarning(w string) string {
	w = strings.ToValidUTF8(w, "?")
	w = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, w)
	if utf8.RuneCountInString(w) > maxWarningRunes {
		w = string([]rune(w)[:maxWarningRunes-1]) + "…"
	}
	return w
}
