package audit

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/flowguard/flowguard/api/v1alpha1"
)

// writeBackoff paces the retries of a report write: six tries from 50ms, doubling.
func writeBackoff() wait.Backoff {
	return wait.Backoff{Steps: 6, Duration: 50 * time.Millisecond, Factor: 2, Jitter: 0.2}
}

// retriable says which write errors are worth another try: a conflict (someone wrote the object
// since we read it), a lost create race, and the API server being busy or briefly away.
func retriable(err error) bool {
	return apierrors.IsConflict(err) || apierrors.IsAlreadyExists(err) || apierrors.IsServerTimeout(err) ||
		apierrors.IsTimeout(err) || apierrors.IsTooManyRequests(err) || apierrors.IsServiceUnavailable(err) ||
		apierrors.IsInternalError(err)
}

// writeReports writes one run's reports: the ClusterAuditReport (owned by the schedule, if any),
// then every namespace's AuditReport (owned by the ClusterAuditReport, so the garbage collector
// removes them with it). Objects are written by name, create or replace, so a run written again
// after a leader change ends with the same objects and no duplicates.
func (a *Auditor) writeReports(ctx context.Context, sched *v1alpha1.AuditSchedule, reps Reports) error {
	cluster := reps.Cluster
	if sched != nil {
		cluster.OwnerReferences = []metav1.OwnerReference{ownerRef(sched, "AuditSchedule")}
	}
	if err := a.put(ctx, cluster, &v1alpha1.ClusterAuditReport{}); err != nil {
		return fmt.Errorf("write ClusterAuditReport %s: %w", cluster.Name, err)
	}
	owner := ownerRef(cluster, "ClusterAuditReport")
	var errs []error
	for _, r := range reps.Namespaced {
		r.OwnerReferences = []metav1.OwnerReference{owner}
		if err := a.put(ctx, r, &v1alpha1.AuditReport{}); err != nil {
			errs = append(errs, fmt.Errorf("write AuditReport %s/%s: %w", r.Namespace, r.Name, err))
			if ctx.Err() != nil {
				break
			}
		}
	}
	return errors.Join(errs...)
}

func ownerRef(obj client.Object, kind string) metav1.OwnerReference {
	return metav1.OwnerReference{APIVersion: v1alpha1.GroupVersion.String(), Kind: kind, Name: obj.GetName(), UID: obj.GetUID()}
}

// put creates obj or, when it exists, replaces its labels, owners and content, retrying on
// conflicts. existing is an empty object of obj's type to read into. On success obj carries the
// server's metadata (UID, resourceVersion).
func (a *Auditor) put(ctx context.Context, obj, existing client.Object) error {
	return retry.OnError(writeBackoff(), retriable, func() error {
		fresh := obj.DeepCopyObject().(client.Object)
		err := a.deps.Client.Create(ctx, fresh)
		if err == nil {
			obj.SetUID(fresh.GetUID())
			obj.SetResourceVersion(fresh.GetResourceVersion())
			return nil
		}
		if !apierrors.IsAlreadyExists(err) {
			return err
		}
		if err := a.deps.Reader.Get(ctx, client.ObjectKeyFromObject(obj), existing); err != nil {
			return err
		}
		update := obj.DeepCopyObject().(client.Object)
		update.SetResourceVersion(existing.GetResourceVersion())
		update.SetUID(existing.GetUID())
		update.SetCreationTimestamp(existing.GetCreationTimestamp())
		if err := a.deps.Client.Update(ctx, update); err != nil {
			return err
		}
		obj.SetUID(update.GetUID())
		obj.SetResourceVersion(update.GetResourceVersion())
		return nil
	})
}

// prune deletes the runs of a schedule beyond the newest keep, namespaced reports first so that
// an interrupted prune leaves the ClusterAuditReport to find the rest next time.
func (a *Auditor) prune(ctx context.Context, schedule string, keep int) (int, error) {
	var runs v1alpha1.ClusterAuditReportList
	if err := a.deps.Reader.List(ctx, &runs, client.MatchingLabels{v1alpha1.ScheduleLabel: labelValue(schedule)}); err != nil {
		return 0, fmt.Errorf("list reports of schedule %s: %w", schedule, err)
	}
	items := runs.Items
	// Newest first: by the time of the snapshot, then by name (run names embed their time).
	slices.SortFunc(items, func(x, y v1alpha1.ClusterAuditReport) int {
		return cmp.Or(y.Summary.EvaluatedAt.Compare(x.Summary.EvaluatedAt.Time), cmp.Compare(y.Name, x.Name))
	})
	if len(items) <= keep {
		return 0, nil
	}
	pruned := 0
	for _, old := range items[keep:] {
		var nsReports v1alpha1.AuditReportList
		if err := a.deps.Reader.List(ctx, &nsReports, client.MatchingLabels{v1alpha1.RunLabel: labelValue(old.Name)}); err != nil {
			return pruned, fmt.Errorf("list AuditReports of run %s: %w", old.Name, err)
		}
		for i := range nsReports.Items {
			if err := a.deps.Client.Delete(ctx, &nsReports.Items[i]); client.IgnoreNotFound(err) != nil {
				return pruned, fmt.Errorf("delete AuditReport %s/%s: %w", nsReports.Items[i].Namespace, old.Name, err)
			}
		}
		if err := a.deps.Client.Delete(ctx, &old); client.IgnoreNotFound(err) != nil {
			return pruned, fmt.Errorf("delete ClusterAuditReport %s: %w", old.Name, err)
		}
		pruned++
	}
	return pruned, nil
}
