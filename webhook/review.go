package webhook

import (
	"encoding/json"
	"fmt"

	admissionv1 "k8s.io/api/admission/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/flowguard/flowguard/rego"
)

// review is one admission request on its way through the checks. The cheap label views are
// decoded up front; the full objects only when a check needs them.
type review struct {
	req  *admissionv1.AdmissionRequest
	gk   schema.GroupKind
	kind kindInfo
	// view and oldView hold the labels and owners of the object and the old object.
	view, oldView labelView
}

func newReview(req *admission.Request, kind kindInfo) (*review, error) {
	r := &review{
		req:  &req.AdmissionRequest,
		gk:   schema.GroupKind{Group: req.Kind.Group, Kind: req.Kind.Kind},
		kind: kind,
	}
	var err error
	if r.view, err = decodeLabelView(req.Object, kind); err != nil {
		return nil, fmt.Errorf("object: %w", err)
	}
	if r.oldView, err = decodeLabelView(req.OldObject, kind); err != nil {
		return nil, fmt.Errorf("old object: %w", err)
	}
	return r, nil
}

// currentLabels are the object's own labels (the old object's on DELETE).
func (r *review) currentLabels() map[string]string {
	if r.req.Operation == admissionv1.Delete || len(r.req.Object.Raw) == 0 {
		return r.oldView.Metadata.Labels
	}
	return r.view.Metadata.Labels
}

// regoRequest builds the rule input. Objects are decoded into plain maps, the shape Rego reads;
// either may be nil (no object on DELETE, no old object on CREATE).
func (r *review) regoRequest() (rego.AdmissionRequest, error) {
	in := rego.AdmissionRequest{
		UID:       string(r.req.UID),
		Operation: string(r.req.Operation),
		Kind:      r.req.Kind,
		Namespace: r.req.Namespace,
		Name:      r.req.Name,
		UserInfo:  r.req.UserInfo,
		DryRun:    r.req.DryRun != nil && *r.req.DryRun,
	}
	var err error
	if in.Object, err = decodeMap(r.req.Object.Raw); err != nil {
		return in, fmt.Errorf("decode object: %w", err)
	}
	if in.OldObject, err = decodeMap(r.req.OldObject.Raw); err != nil {
		return in, fmt.Errorf("decode old object: %w", err)
	}
	if in.Object != nil {
		in.ObjectJSON = r.req.Object.Raw
	}
	if in.OldObject != nil {
		in.OldObjectJSON = r.req.OldObject.Raw
	}
	return in, nil
}

func decodeMap(raw []byte) (map[string]any, error) {
	if len(raw) == 0 {
		return nil, nil
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, err
	}
	return m, nil
}

// result is what one check found. Field errors and denials refuse the request; warnings and
// audit annotations travel with the answer either way.
type result struct {
	errs     field.ErrorList
	denials  []string
	warnings []string
	audit    map[string]string
}

func (r *result) merge(o result) {
	r.errs = append(r.errs, o.errs...)
	r.denials = append(r.denials, o.denials...)
	r.warnings = append(r.warnings, o.warnings...)
	for k, v := range o.audit {
		if r.audit == nil {
			r.audit = map[string]string{}
		}
		r.audit[k] = v
	}
}
