package webhook

import (
	"context"
	"errors"
	"fmt"

	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/flowguard/flowguard/api/v1alpha1"
	"github.com/flowguard/flowguard/rego"
)

// compileRegoRule refuses a RegoRule whose module does not compile, breaks the sandbox or lacks
// the metadata a rule needs, with one field error per compiler message, each naming its line.
// Compiling on admission is what lets a broken rule be refused instead of silently skipped
// later by every replica.
func (h *Handler) compileRegoRule(_ context.Context, r *review) result {
	if !r.kind.regoRule {
		return result{}
	}
	p := field.NewPath("spec", "module")
	var rr v1alpha1.RegoRule
	if err := h.decoder.DecodeRaw(r.req.Object, &rr); err != nil {
		return result{errs: field.ErrorList{field.Invalid(field.NewPath("spec"), "", fmt.Sprintf("cannot decode RegoRule: %v", err))}}
	}
	if rr.Spec.Module == "" {
		return result{errs: field.ErrorList{field.Required(p, "a RegoRule carries its Rego module")}}
	}
	_, err := rego.CompileUserRule(r.req.Name, rr.Spec.Module)
	if err == nil {
		return result{}
	}
	var cerrs rego.CompileErrors
	if !errors.As(err, &cerrs) {
		return result{errs: field.ErrorList{field.Invalid(p, "", err.Error())}}
	}
	var errs field.ErrorList
	for _, ce := range cerrs {
		if ce.File != "" && ce.File != r.req.Name {
			continue // the built-in library compiled beside it is not the author's problem
		}
		errs = append(errs, field.Invalid(p, sourceLine(rr.Spec.Module, ce.Line), ce.InModule()))
	}
	if len(errs) == 0 {
		errs = field.ErrorList{field.Invalid(p, "", err.Error())}
	}
	return result{errs: errs}
}

// sourceLine returns line n (1-based) of src, which a field error shows as the invalid value so
// that the author sees the offending text next to the message.
func sourceLine(src string, n int) string {
	if n <= 0 {
		return ""
	}
	line := 1
	start := 0
	for i := 0; i < len(src); i++ {
		if src[i] != '\n' {
			continue
		}
		if line == n {
			return src[start:i]
		}
		line++
		start = i + 1
	}
	if line == n {
		return src[start:]
	}
	return ""
}
