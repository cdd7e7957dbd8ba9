package audit

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/robfig/cron/v3"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/flowguard/flowguard/api/v1alpha1"
)

// Condition type and reasons on an AuditSchedule.
const (
	ConditionReady        = "Ready"
	ReasonSucceeded       = "Succeeded"
	ReasonRunFailed       = "RunFailed"
	ReasonInvalidSchedule = "InvalidSchedule"
)

// Defaults of an AuditSchedule's optional fields, as the CRD defaults them.
const (
	DefaultLookback           = 24 * time.Hour
	DefaultReportHistoryLimit = 3
)

// run performs one audit for sched and records its outcome in the schedule's status.
func (a *Auditor) run(ctx context.Context, sched *v1alpha1.AuditSchedule, cs cron.Schedule, trig trigger) {
	runName := trig.runName(sched.Name)
	log := logf.FromContext(ctx).WithValues("schedule", sched.Name, "run", runName, "trigger", trig.String())
	ctx = logf.IntoContext(ctx, log)
	start := a.deps.Clock.Now()
	log.Info("audit run started")
	sum, reps, err := a.execute(ctx, sched, runName)
	end := a.deps.Clock.Now()
	if ctx.Err() != nil {
		// Lost leadership or shutting down: leave the status alone, so the next leader sees the
		// run as not done and writes it again under the same name.
		log.Info("audit run interrupted; the next leader repeats it", "error", err)
		return
	}
	a.deps.Metrics.observeRun(sched.Name, trig.String(), end.Sub(start), err)
	if err != nil {
		log.Error(err, "audit run failed")
		a.event(sched, nil, corev1.EventTypeWarning, "AuditFailed", "Audit", "Run %s failed: %s", runName, errorText(err))
	} else {
		log.Info("audit run finished", "score", sum.Score, "findings", sum.Total, "duration", end.Sub(start))
		a.deps.Metrics.observeFindings(sched.Name, sum, reps, end)
	}
	d := a.done[sched.UID]
	if trig.request != "" {
		d.request = trig.request
	} else {
		d.slot = trig.slot
	}
	a.done[sched.UID] = d
	if serr := a.updateStatus(ctx, sched, cs, trig, runName, start, end, sum, err); serr != nil {
		log.Error(serr, "update AuditSchedule status")
	}
}

// execute takes the snapshot, evaluates, and writes, prunes and announces the reports.
func (a *Auditor) execute(ctx context.Context, sched *v1alpha1.AuditSchedule, runName string) (Summary, Reports, error) {
	scope, err := a.scope(ctx, sched)
	if err != nil {
		return Summary{}, Reports{}, err
	}
	res, err := a.deps.Evaluator.Evaluate(ctx, scope)
	if err != nil {
		return Summary{}, Reports{}, fmt.Errorf("evaluate rules: %w", err)
	}
	if res.EvaluatedAt.IsZero() {
		res.EvaluatedAt = a.deps.Clock.Now()
	}
	if res.Namespaces == nil {
		res.Namespaces = scope.Namespaces
	}
	SortFindings(res.Findings)
	maxViolations := DefaultMaxViolations
	if m := sched.Spec.MaxViolationsPerReport; m != nil {
		maxViolations = int(*m)
		if maxViolations == 0 {
			maxViolations = -1 // zero in the spec means list none, not the default
		}
	}
	reps := BuildReports(res, ReportOptions{RunName: runName, Schedule: sched.Name, MaxViolations: maxViolations, OmittedNote: a.deps.OmittedNote})
	a.recommendations(ctx, sched, scope, res.EvaluatedAt, reps)
	if err := a.writeReports(ctx, sched, reps); err != nil {
		return Summary{}, reps, err
	}
	keep := DefaultReportHistoryLimit
	if l := sched.Spec.ReportHistoryLimit; l != nil && *l > 0 {
		keep = int(*l)
	}
	if n, err := a.prune(ctx, sched.Name, keep); err != nil {
		return Summary{}, reps, err
	} else if n > 0 {
		logf.FromContext(ctx).Info("pruned old runs", "runs", n, "kept", keep)
	}
	sum := res.Summarize()
	a.announce(ctx, res, reps)
	return sum, reps, nil
}

// scope lists the namespaces the schedule selects, from the cache, and reads its rules.
func (a *Auditor) scope(ctx context.Context, sched *v1alpha1.AuditSchedule) (Scope, error) {
	sel := labels.Everything()
	if ls := sched.Spec.NamespaceSelector; ls != nil {
		var err error
		if sel, err = metav1.LabelSelectorAsSelector(ls); err != nil {
			return Scope{}, fmt.Errorf("spec.namespaceSelector: %w", err)
		}
	}
	var nss corev1.NamespaceList
	if err := a.deps.Client.List(ctx, &nss, client.MatchingLabelsSelector{Selector: sel}); err != nil {
		return Scope{}, fmt.Errorf("list namespaces: %w", err)
	}
	scope := Scope{Namespaces: []string{}, Lookback: DefaultLookback}
	for _, ns := range nss.Items {
		if ns.DeletionTimestamp == nil {
			scope.Namespaces = append(scope.Namespaces, ns.Name)
		}
	}
	slices.Sort(scope.Namespaces)
	if lb := sched.Spec.Lookback; lb != nil && lb.Duration > 0 {
		scope.Lookback = lb.Duration
	}
	for i, r := range sched.Spec.Rules {
		scope.Rules = append(scope.Rules, r.ID)
		if r.Parameters == nil || len(r.Parameters.Raw) == 0 {
			continue
		}
		var params map[string]any
		if err := json.Unmarshal(r.Parameters.Raw, &params); err != nil {
			return Scope{}, fmt.Errorf("spec.rules[%d].parameters of rule %s: %w", i, r.ID, err)
		}
		if scope.Parameters == nil {
			scope.Parameters = map[string]map[string]any{}
		}
		scope.Parameters[r.ID] = params
	}
	return scope, nil
}

// updateStatus records a run in the schedule's status, re-reading the schedule on conflict.
func (a *Auditor) updateStatus(ctx context.Context, sched *v1alpha1.AuditSchedule, cs cron.Schedule, trig trigger,
	runName string, start, end time.Time, sum Summary, runErr error) error {
	return retry.RetryOnConflict(retry.DefaultBackoff, func() error {
		var cur v1alpha1.AuditSchedule
		if err := a.deps.Reader.Get(ctx, client.ObjectKeyFromObject(sched), &cur); err != nil {
			return client.IgnoreNotFound(err)
		}
		st := &cur.Status
		st.ObservedGeneration = cur.Generation
		st.LastRunTime = ptrTime(start)
		if trig.request != "" {
			st.LastRunRequest = trig.request
		} else {
			st.LastScheduleTime = ptrTime(trig.slot)
		}
		st.NextRunTime = nil
		if !cur.Spec.Suspend {
			if n := cs.Next(end); !n.IsZero() {
				st.NextRunTime = ptrTime(n)
			}
		}
		cond := metav1.Condition{Type: ConditionReady, ObservedGeneration: cur.Generation}
		if runErr != nil {
			st.LastError = errorText(runErr)
			cond.Status, cond.Reason, cond.Message = metav1.ConditionFalse, ReasonRunFailed, "Run "+runName+" failed: "+st.LastError
		} else {
			st.LastError = ""
			st.LastSuccessfulTime = ptrTime(end)
			st.LastReport = runName
			score := int32(sum.Score)
			st.LastScore = &score
			cond.Status, cond.Reason = metav1.ConditionTrue, ReasonSucceeded
			cond.Message = fmt.Sprintf("Run %s: score %d, %d findings (%s)", runName, sum.Score, sum.Total, countsLine(sum.BySeverity))
		}
		meta.SetStatusCondition(&st.Conditions, cond)
		return a.deps.Client.Status().Update(ctx, &cur)
	})
}

// invalidSchedule records a schedule that does not parse; it does not run until fixed.
func (a *Auditor) invalidSchedule(ctx context.Context, sched *v1alpha1.AuditSchedule, perr error) {
	msg := errorText(perr)
	if sched.Status.LastError == msg {
		return
	}
	a.event(sched, nil, corev1.EventTypeWarning, ReasonInvalidSchedule, "Parse", "%s", msg)
	err := retry.RetryOnConflict(retry.DefaultBackoff, func() error {
		var cur v1alpha1.AuditSchedule
		if err := a.deps.Reader.Get(ctx, client.ObjectKeyFromObject(sched), &cur); err != nil {
			return client.IgnoreNotFound(err)
		}
		cur.Status.LastError, cur.Status.NextRunTime, cur.Status.ObservedGeneration = msg, nil, cur.Generation
		meta.SetStatusCondition(&cur.Status.Conditions, metav1.Condition{Type: ConditionReady, Status: metav1.ConditionFalse,
			Reason: ReasonInvalidSchedule, Message: msg, ObservedGeneration: cur.Generation})
		return a.deps.Client.Status().Update(ctx, &cur)
	})
	if err != nil {
		logf.FromContext(ctx).Error(err, "update AuditSchedule status", "schedule", sched.Name)
	}
}

// syncNextRun keeps status.nextRunTime current for a schedule that did not run (a new one, a
// suspended one, one whose schedule changed), so kubectl shows when it will.
func (a *Auditor) syncNextRun(ctx context.Context, sched *v1alpha1.AuditSchedule, next time.Time) {
	cur := sched.Status.NextRunTime
	if (next.IsZero() && cur == nil) || (cur != nil && cur.Time.Equal(next.Truncate(time.Second))) {
		return
	}
	err := retry.RetryOnConflict(retry.DefaultBackoff, func() error {
		var fresh v1alpha1.AuditSchedule
		if err := a.deps.Reader.Get(ctx, client.ObjectKeyFromObject(sched), &fresh); err != nil {
			return client.IgnoreNotFound(err)
		}
		fresh.Status.NextRunTime = nil
		if !next.IsZero() {
			fresh.Status.NextRunTime = ptrTime(next)
		}
		return a.deps.Client.Status().Update(ctx, &fresh)
	})
	if err != nil {
		logf.FromContext(ctx).Error(err, "update AuditSchedule status", "schedule", sched.Name)
	}
}

func ptrTime(t time.Time) *metav1.Time {
	mt := metav1.NewTime(t)
	return &mt
}

func countsLine(c v1alpha1.SeverityCounts) string {
	return fmt.Sprintf("%d critical, %d high, %d medium, %d low, %d info", c.Critical, c.High, c.Medium, c.Low, c.Info)
}
