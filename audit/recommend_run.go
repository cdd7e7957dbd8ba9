package audit

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/flowguard/flowguard/api/v1alpha1"
	"github.com/flowguard/flowguard/recommend"
)

// What writing staged policies needs, for `make manifests`: applying the Tier and the
// StagedNetworkPolicies (server-side apply is a patch; create for a first apply).
//
// +kubebuilder:rbac:groups=projectcalico.org,resources=stagednetworkpolicies;tiers,verbs=create;update;patch

// RecommenderFieldManager is the field manager of the staged policies the auditor applies, so
// that `kubectl get --show-managed-fields` tells them from anyone else's edits.
const RecommenderFieldManager = "flowguard-recommender"

// Recommender computes a recommendation over the same snapshot the rules judge: in the cluster,
// the informer-backed cluster model and traffic graph (see recommend.Recommend).
type Recommender func(ctx context.Context, opts recommend.Options) (*recommend.Result, error)

// recommendations computes the schedule's recommendation once for the run, applies the stable
// namespaces' staged policies when the schedule asks, and adds both to reps. A recommendation
// that cannot be computed or written does not fail the audit: the cluster report says why.
func (a *Auditor) recommendations(ctx context.Context, sched *v1alpha1.AuditSchedule, scope Scope, at time.Time, reps Reports) {
	rs := sched.Spec.Recommendations
	if rs == nil {
		return
	}
	log := logf.FromContext(ctx)
	style := recommend.Style(rs.Style)
	if style == "" {
		style = recommend.StyleKubernetes
	}
	fail := func(err error) {
		log.Error(err, "recommendation")
		if reps.Cluster != nil {
			reps.Cluster.Summary.Recommendations = &v1alpha1.RecommendationsSummary{
				Style: v1alpha1.RecommendationStyle(style), Error: errorText(err)}
		}
	}
	if a.deps.Recommend == nil {
		fail(errors.New("this auditor has no recommender"))
		return
	}
	opts := recommend.Options{Style: style, Tier: rs.Tier, At: at, Since: at.Add(-scope.Lookback),
		Namespaces: recommendedNamespaces(scope.Namespaces)}
	if len(opts.Namespaces) == 0 {
		// Every namespace in scope is a system namespace: an empty list would mean all of them.
		_ = AttachRecommendation(reps, &recommend.Result{Style: style}, RecommendationOptions{})
		return
	}
	rec, err := a.deps.Recommend(ctx, opts)
	if err != nil {
		fail(fmt.Errorf("recommend policies: %w", err))
		return
	}
	ro := RecommendationOptions{}
	var applyErr error
	if rs.WriteStagedPolicies && style == recommend.StyleCalicoStaged {
		ro.Staged, applyErr = a.applyStaged(ctx, sched, rec)
		ro.StagedWritten = len(ro.Staged)
	}
	if err := AttachRecommendation(reps, rec, ro); err != nil {
		fail(err)
		return
	}
	if applyErr != nil {
		log.Error(applyErr, "write staged policies")
		reps.Cluster.Summary.Recommendations.Error = errorText(applyErr)
	}
	log.Info("recommendation computed", "style", style, "policies", rec.Stats.Policies, "stagedWritten", ro.StagedWritten)
}

// recommendedNamespaces are the namespaces in scope that policies are recommended for: the
// system namespaces, where a default deny can take the cluster down, are left out as
// `flowguard recommend` leaves them out.
func recommendedNamespaces(inScope []string) []string {
	var out []string
next:
	for _, ns := range inScope {
		for _, p := range recommend.DefaultSkipNamespacePrefixes {
			if strings.HasPrefix(ns, p) {
				continue next
			}
		}
		out = append(out, ns)
	}
	return out
}

// applyStaged applies the Tier, then the StagedNetworkPolicy of every namespace whose
// recommendation is stable, and returns the namespaces applied. Only stable recommendations are
// written: learning and stabilizing ones still change from run to run, and a staged policy that
// churns makes Calico's preview of it meaningless; they stay readable in the reports.
func (a *Auditor) applyStaged(ctx context.Context, sched *v1alpha1.AuditSchedule, rec *recommend.Result) (map[string]bool, error) {
	staged := map[string]bool{}
	var objs []client.Object
	var owners []string
	for _, ns := range rec.Namespaces {
		if ns.Status != recommend.StatusStable || len(ns.Objects) == 0 {
			continue
		}
		objs = append(objs, ns.Objects...)
		for range ns.Objects {
			owners = append(owners, ns.Name)
		}
	}
	if len(objs) == 0 {
		return staged, nil
	}
	for _, obj := range rec.ClusterObjects {
		if err := a.apply(ctx, obj, nil); err != nil {
			return staged, err
		}
	}
	var errs []error
	for i, obj := range objs {
		if err := a.apply(ctx, obj, map[string]string{v1alpha1.ScheduleLabel: labelValue(sched.Name)}); err != nil {
			errs = append(errs, err)
			if ctx.Err() != nil {
				break
			}
			continue
		}
		staged[owners[i]] = true
	}
	return staged, errors.Join(errs...)
}

// apply server-side applies obj as the recommender's field manager, with extra labels.
func (a *Auditor) apply(ctx context.Context, obj client.Object, labels map[string]string) error {
	var buf bytes.Buffer
	if err := recommend.WriteJSON(&buf, []client.Object{obj}); err != nil {
		return err
	}
	var list struct {
		Items []map[string]any `json:"items"`
	}
	if err := json.Unmarshal(buf.Bytes(), &list); err != nil || len(list.Items) != 1 {
		return fmt.Errorf("apply %s %s: cannot convert it: %w", obj.GetObjectKind().GroupVersionKind().Kind, obj.GetName(), err)
	}
	u := &unstructured.Unstructured{Object: list.Items[0]}
	if len(labels) > 0 {
		l := u.GetLabels()
		if l == nil {
			l = map[string]string{}
		}
		maps.Copy(l, labels)
		u.SetLabels(l)
	}
	if err := a.deps.Client.Apply(ctx, client.ApplyConfigurationFromUnstructured(u),
		client.FieldOwner(RecommenderFieldManager), client.ForceOwnership); err != nil {
		what := u.GetKind() + " " + u.GetName()
		if ns := u.GetNamespace(); ns != "" {
			what = u.GetKind() + " " + ns + "/" + u.GetName()
		}
		return fmt.Errorf("apply %s: %w", what, err)
	}
	return nil
}
