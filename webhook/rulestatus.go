package webhook

import (
	"context"
	"errors"
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	toolscache "k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/flowguard/flowguard/api/v1alpha1"
	"github.com/flowguard/flowguard/rego"
)

// +kubebuilder:rbac:groups=flowguard.dev,resources=regorules/status,verbs=get;update;patch

// DefaultStatusResync is how often RuleStatusWriter looks at every RegoRule even without an
// event, so that a write that failed is retried.
const DefaultStatusResync = 30 * time.Second

// maxConditionMessage is the API's limit on a condition's message.
const maxConditionMessage = 32768

// RuleStatusWriter records on each RegoRule what flowguard made of it: the effective id, action,
// severity and targets, and a Compiled condition carrying the compiler's errors. Only the leader
// writes; a RegoRule whose status already describes its generation is left alone.
type RuleStatusWriter struct {
	client client.Client
	clock  clock.WithTicker
	resync time.Duration
	kick   chan struct{}
	reg    toolscache.ResourceEventHandlerRegistration
}

// NewRuleStatusWriter returns a writer that reads RegoRules through c (the manager's client,
// which reads from its cache) and writes their status subresource. clk drives the periodic
// resync and stamps conditions; the real clock when nil.
func NewRuleStatusWriter(c client.Client, clk clock.WithTicker) *RuleStatusWriter {
	if clk == nil {
		clk = clock.RealClock{}
	}
	return &RuleStatusWriter{client: c, clock: clk, resync: DefaultStatusResync, kick: make(chan struct{}, 1)}
}

// Watch asks to be told of every RegoRule change.
func (w *RuleStatusWriter) Watch(ctx context.Context, c cache.Cache) error {
	reg, err := notifyOnRegoRules(ctx, c, w.kick)
	w.reg = reg
	return err
}

// notifyOnRegoRules sends on kick, without blocking, after each RegoRule event: a pending signal
// already covers the change.
func notifyOnRegoRules(ctx context.Context, c cache.Cache, kick chan struct{}) (toolscache.ResourceEventHandlerRegistration, error) {
	inf, err := c.GetInformer(ctx, &v1alpha1.RegoRule{})
	if err != nil {
		return nil, fmt.Errorf("watch RegoRules: %w", err)
	}
	notify := func(any) {
		select {
		case kick <- struct{}{}:
		default:
		}
	}
	reg, err := inf.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
		AddFunc:    notify,
		UpdateFunc: func(_, o any) { notify(o) },
		DeleteFunc: notify,
	})
	if err != nil {
		return nil, fmt.Errorf("watch RegoRules: %w", err)
	}
	return reg, nil
}

// Start writes statuses after each change, and every resync period, until ctx ends.
func (w *RuleStatusWriter) Start(ctx context.Context) error {
	log := logf.FromContext(ctx).WithName("regorule-status")
	if w.reg == nil {
		return errors.New("write RegoRule status: Watch was not called")
	}
	if !toolscache.WaitForCacheSync(ctx.Done(), w.reg.HasSynced) {
		return nil
	}
	tick := w.clock.NewTicker(w.resync)
	defer tick.Stop()
	for {
		if err := w.Sync(ctx); err != nil {
			log.Error(err, "Some RegoRule statuses were not written")
		}
		select {
		case <-ctx.Done():
			return nil
		case <-w.kick:
		case <-tick.C():
		}
	}
}

// NeedLeaderElection is true: one writer, or replicas would fight over the same status.
func (w *RuleStatusWriter) NeedLeaderElection() bool { return true }

// Sync writes the status of every RegoRule whose status does not describe its generation.
func (w *RuleStatusWriter) Sync(ctx context.Context) error {
	var list v1alpha1.RegoRuleList
	if err := w.client.List(ctx, &list); err != nil {
		return fmt.Errorf("list RegoRules: %w", err)
	}
	var errs []error
	for i := range list.Items {
		if current(&list.Items[i]) {
			continue
		}
		if err := w.write(ctx, client.ObjectKeyFromObject(&list.Items[i])); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// current reports whether rr's status already describes its spec's generation.
func current(rr *v1alpha1.RegoRule) bool {
	return rr.Status.ObservedGeneration == rr.Generation &&
		meta.FindStatusCondition(rr.Status.Conditions, v1alpha1.RegoRuleConditionCompiled) != nil
}

// write compiles one RegoRule and updates its status, reading it again on a conflict.
func (w *RuleStatusWriter) write(ctx context.Context, key client.ObjectKey) error {
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		var rr v1alpha1.RegoRule
		if err := w.client.Get(ctx, key, &rr); err != nil {
			return client.IgnoreNotFound(err)
		}
		if current(&rr) {
			return nil
		}
		rr.Status = compiledStatus(&rr, metav1.NewTime(w.clock.Now()))
		return w.client.Status().Update(ctx, &rr)
	})
	if err != nil {
		return fmt.Errorf("write status of RegoRule %s: %w", key.Name, err)
	}
	return nil
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
	u, err := userRule(rr)
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
