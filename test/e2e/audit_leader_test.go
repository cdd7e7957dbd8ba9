//go:build e2e

package e2e

import (
	"context"
	"errors"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	clocktesting "k8s.io/utils/clock/testing"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/flowguard/flowguard/api/v1alpha1"
	"github.com/flowguard/flowguard/test/cluster"
)

// crashingClient stops its manager, as a crash would, when the auditor writes the AuditReport of
// one namespace: the run is cut off after the ClusterAuditReport and some namespaced reports.
// From then on it writes nothing, as a crashed process would not: the manager's stop reaches
// the auditor's context only a moment later.
type crashingClient struct {
	client.Client
	namespace string
	crash     atomic.Pointer[func()]
	crashed   atomic.Bool
}

var errCrashed = errors.New("the leader crashed")

func (c *crashingClient) Create(ctx context.Context, obj client.Object, opts ...client.CreateOption) error {
	if c.crashed.Load() {
		return errCrashed
	}
	if r, ok := obj.(*v1alpha1.AuditReport); ok && r.Namespace == c.namespace {
		if crash := c.crash.Load(); crash != nil {
			c.crashed.Store(true)
			(*crash)()
		}
		return errCrashed
	}
	return c.Client.Create(ctx, obj, opts...)
}

func (c *crashingClient) Update(ctx context.Context, obj client.Object, opts ...client.UpdateOption) error {
	if c.crashed.Load() {
		return errCrashed
	}
	return c.Client.Update(ctx, obj, opts...)
}

func (c *crashingClient) Patch(ctx context.Context, obj client.Object, patch client.Patch, opts ...client.PatchOption) error {
	if c.crashed.Load() {
		return errCrashed
	}
	return c.Client.Patch(ctx, obj, patch, opts...)
}

func (c *crashingClient) Delete(ctx context.Context, obj client.Object, opts ...client.DeleteOption) error {
	if c.crashed.Load() {
		return errCrashed
	}
	return c.Client.Delete(ctx, obj, opts...)
}

// TestAuditLeaderChangeLosesNoReport runs two managers with leader election against the real API
// server. The first leader crashes in the middle of writing a run's reports and never records
// the run; the second takes over the lease once it expires, sees the slot as not done, and writes
// the run again under the same name: every report is there once, and the report written before
// the crash is updated in place, not duplicated.
func TestAuditLeaderChangeLosesNoReport(t *testing.T) {
	c := cluster.StartForTest(t, cluster.Options{})
	ctx := t.Context()
	auditFixture(t, ctx, c)
	sched := &v1alpha1.AuditSchedule{
		ObjectMeta: metav1.ObjectMeta{Name: "nightly"},
		Spec: v1alpha1.AuditScheduleSpec{
			Schedule:          "0 3 * * *",
			NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"audit": "on"}},
			StartingDeadline:  &metav1.Duration{Duration: 10 * time.Minute},
		},
	}
	if err := c.Client.Create(ctx, sched); err != nil {
		t.Fatal(err)
	}
	const run = "nightly-20300101-030000"

	// The first leader: crashes when it reaches the second namespace's report.
	clockA := clocktesting.NewFakeClock(auditStart)
	crashing := &crashingClient{namespace: "quiet"}
	first := startAuditManager(t, c, clockA, newFindingSource(clockA, shopFindings), auditManagerOptions{
		leaderElection: true,
		wrap:           func(cl client.Client) client.Client { crashing.Client = cl; return crashing },
	})
	crash := func() { first.cancel() }
	crashing.crash.Store(&crash)
	stepWhenIdle(t, clockA, time.Minute)
	first.wait() // until the crash has stopped it

	var before v1alpha1.ClusterAuditReport
	if err := c.Client.Get(ctx, client.ObjectKey{Name: run}, &before); err != nil {
		t.Fatalf("the first leader wrote no ClusterAuditReport before crashing: %v", err)
	}
	if got := reportNamespaces(t, c, run); !slices.Equal(got, []string{"payments"}) {
		t.Fatalf("before the crash the first leader wrote AuditReports in %v, want only payments", got)
	}
	var s v1alpha1.AuditSchedule
	if err := c.Client.Get(ctx, client.ObjectKey{Name: "nightly"}, &s); err != nil {
		t.Fatal(err)
	}
	if s.Status.LastScheduleTime != nil || s.Status.LastReport != "" {
		t.Fatalf("the crashed run was recorded as done: %+v", s.Status)
	}

	// The second leader: takes the lease once the first one's expires, thirty seconds of fake
	// time later, and repeats the run.
	clockB := clocktesting.NewFakeClock(auditStart.Add(90 * time.Second))
	sourceB := newFindingSource(clockB, shopFindings)
	startAuditManager(t, c, clockB, sourceB, auditManagerOptions{leaderElection: true})
	st := scheduleStatus(t, c, "nightly", "the second leader to finish the run", func(s v1alpha1.AuditScheduleStatus) bool { return s.LastReport != "" })
	if st.LastReport != run || st.LastError != "" || !st.LastScheduleTime.Equal(&metav1.Time{Time: time.Date(2030, 1, 1, 3, 0, 0, 0, time.UTC)}) {
		t.Fatalf("status after the second leader's run = %+v", st)
	}
	if got := reportNamespaces(t, c, run); !slices.Equal(got, auditNamespaces) {
		t.Errorf("after the leader change the run has AuditReports in %v, want %v", got, auditNamespaces)
	}
	if got := runsOf(t, c, "nightly"); !slices.Equal(got, []string{run}) {
		t.Errorf("runs = %v, want the one run, once", got)
	}
	var after v1alpha1.ClusterAuditReport
	if err := c.Client.Get(ctx, client.ObjectKey{Name: run}, &after); err != nil {
		t.Fatal(err)
	}
	if after.UID != before.UID || after.ResourceVersion == before.ResourceVersion {
		t.Errorf("the ClusterAuditReport was not updated in place: uid %s -> %s, resourceVersion %s -> %s",
			before.UID, after.UID, before.ResourceVersion, after.ResourceVersion)
	}
	if n := sourceB.runs.Load(); n != 1 {
		t.Errorf("the second leader evaluated %d times, want once", n)
	}
}

// reportNamespaces lists the namespaces holding an AuditReport of run, sorted.
func reportNamespaces(t *testing.T, c *cluster.Cluster, run string) []string {
	t.Helper()
	var list v1alpha1.AuditReportList
	if err := c.Client.List(t.Context(), &list, client.MatchingLabels{v1alpha1.RunLabel: run}); err != nil {
		t.Fatal(err)
	}
	var nss []string
	for _, r := range list.Items {
		nss = append(nss, r.Namespace)
	}
	slices.Sort(nss)
	return nss
}
