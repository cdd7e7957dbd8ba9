package webhook

import (
	"context"
	"fmt"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/flowguard/flowguard/api/v1alpha1"
	"github.com/flowguard/flowguard/rego"
	"github.com/flowguard/flowguard/rego/rulefile"
)

// +kubebuilder:rbac:groups=flowguard.dev,resources=regorules/status,verbs=get;update;patch

// maxConditionMessage is the API's limit on a condition's message.
const maxConditionMessage = 32768

// RuleStatusWriter records on each RegoRule what flowguard made of it: the effective id, action,
// severity and targets, and a Compiled condition carrying the compiler's errors. It is a
// controller-runtime reconciler that only the leader runs, over RegoRules filtered by
// predicate.GenerationChangedPredicate (its own status writes do not bring it back); a RegoRule whose status already
// describes its generation is left alone, and a write that fails is retried by the work queue.
type RuleStatusWriter struct {
	client client.Client
	clock  clock.Clock
}

// NewRuleStatusWriter returns a writer that reads RegoRules through c (the manager's client,
// which reads from its cache) and writes their status subresource. clk stamps conditions; the
// real clock when nil.
func NewRuleStatusWriter(c client.Client, clk clock.Clock) *RuleStatusWriter {
	if clk == nil {
		clk = clock.RealClock{}
	}
	return &RuleStatusWriter{client: c, clock: clk}
}

// Reconcile writes the status of one RegoRule unless it already describes its generation. A
// conflict is returned, so that the work queue retries with the object as it now is.
func (w *RuleStatusWriter) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	var rr v1alpha1.RegoRule
	if err := w.client.Get(ctx, req.NamespacedName, &rr); err != nil {
		return reconcile.Result{}, client.IgnoreNotFound(err)
	}
	if current(&rr) {
		return reconcile.Result{}, nil
	}
	rr.Status = compiledStatus(&rr, metav1.NewTime(w.clock.Now()))
	if err := w.client.Status().Update(ctx, &rr); err != nil {
		return reconcile.Result{}, fmt.Errorf("write status of RegoRule %s: %w", req.Name, err)
	}
	return reconcile.Result{}, nil
}

// current reports whether rr's status already describes its spec's generation.
func current(rr *v1alpha1.RegoRule) bool {
	return rr.Status.ObservedGeneration == rr.Generation &&
		meta.FindStatusCondition(rr.Status.Conditions, v1alpha1.RegoRuleConditionCompiled) != nil
}

// compiledStatus is rr's status after compiling its module: the rule's METADATA with the spec's
// overrides applied as the engine applies them, or the compiler's errors.
func compiledStatus(rr *v1alpha1.RegoRule, now metav1.Time) v1alpha1.RegoRuleStatus {
	st := v1alpha1.RegoRuleStatus{ObservedGeneration: rr.Generation, Conditions: rr.Status.Conditions}
	cond := metav1.Condition{
		Type:               v1alpha1.RegoRuleConditionCompiled,
		Status:             metav1.ConditionTrue,
		Reason:             "Compiled",
		Message:            "The rule is in force",
		ObservedGeneration: rr.Generation,
		LastTransitionTime: now,
	}
	u, err := rulefile.FromRegoRule(rr)
	var r rego.Rule
	if err == nil {
		r, err = u.Compile()
	}
	if err != nil {
		cond.Status, cond.Reason, cond.Message = metav1.ConditionFalse, "CompileError", truncate(err.Error(), maxConditionMessage)
	} else {
		st.ID = r.ID
		st.Action, st.Severity, st.Targets = string(r.Action), string(r.Severity), r.Targets
	}
	meta.SetStatusCondition(&st.Conditions, cond)
	return st
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-3] + "..."
}
