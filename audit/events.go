package audit

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/flowguard/flowguard/api/v1alpha1"
)

// Event reasons the auditor uses.
const (
	ReasonAuditCompleted   = "AuditCompleted"
	ReasonFindings         = "Findings"
	ReasonCriticalFinding  = "CriticalFinding"
	eventActionAudit       = "Audit"
	maxNamespaceEventNotes = 3
)

func (a *Auditor) event(regarding, related runtime.Object, typ, reason, action, note string, args ...any) {
	if a.deps.Recorder == nil {
		return
	}
	a.deps.Recorder.Eventf(regarding, related, typ, reason, action, note, args...)
}

// announce emits the Events of a written run: one on the ClusterAuditReport, one on each
// AuditReport with critical or high findings (so that `kubectl describe` and namespace owners'
// event feeds show them), and one on each object with a critical finding, in its own namespace,
// up to MaxPolicyEvents per run.
func (a *Auditor) announce(ctx context.Context, res Result, reps Reports) {
	if a.deps.Recorder == nil {
		return
	}
	cs := reps.Cluster.Summary
	a.event(reps.Cluster, nil, corev1.EventTypeNormal, ReasonAuditCompleted, eventActionAudit,
		"Score %d, %d findings (%s) in %d namespaces", cs.Score, cs.Total, countsLine(cs.BySeverity), cs.NamespaceCount)
	for _, r := range reps.Namespaced {
		c := r.Summary.BySeverity
		if c.Critical+c.High == 0 {
			continue
		}
		a.event(r, nil, corev1.EventTypeWarning, ReasonFindings, eventActionAudit,
			"Score %d, %d findings (%s)", r.Summary.Score, r.Summary.Total, countsLine(c))
	}
	sent := 0
	for _, f := range res.Findings {
		if f.Severity != v1alpha1.SeverityCritical || sent == a.deps.MaxPolicyEvents {
			break // findings are sorted, most severe first
		}
		obj, err := a.offending(ctx, f.Resource)
		if err != nil {
			logf.FromContext(ctx).V(1).Info("no event on offending object", "resource", f.Resource.String(), "error", err.Error())
			continue
		}
		report := runtime.Object(reps.Cluster)
		if ns := f.Namespace(); ns != "" {
			for _, r := range reps.Namespaced {
				if r.Namespace == ns {
					report = r
				}
			}
		}
		a.event(obj, report, corev1.EventTypeWarning, ReasonCriticalFinding, eventActionAudit, "%s: %s",
			f.Rule, truncate(f.Message, 900))
		sent++
	}
}

// offending reads the metadata of the object a finding names, so that its Event carries the UID
// kubectl describe matches events by.
func (a *Auditor) offending(ctx context.Context, r Resource) (runtime.Object, error) {
	gv, err := schema.ParseGroupVersion(r.APIVersion)
	if err != nil || r.APIVersion == "" {
		return nil, fmt.Errorf("resource %s has no usable apiVersion %q", r, r.APIVersion)
	}
	obj := &metav1.PartialObjectMetadata{}
	gvk := gv.WithKind(r.Kind)
	obj.SetGroupVersionKind(gvk)
	if err := a.deps.Reader.Get(ctx, client.ObjectKey{Namespace: r.Namespace, Name: r.Name}, obj); err != nil {
		return nil, err
	}
	obj.SetGroupVersionKind(gvk)
	return obj, nil
}
