//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	clocktesting "k8s.io/utils/clock/testing"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/flowguard/flowguard/api/v1alpha1"
	"github.com/flowguard/flowguard/audit"
	"github.com/flowguard/flowguard/test/cluster"
)

// TestAuditSchedule runs an Auditor in a manager against the real API server: a schedule runs at
// its cron time, its reports read well in the real kubectl (get and describe, compared with
// golden files), a run-now request runs at once, retention prunes old runs, and a run with ten
// thousand findings writes objects well under etcd's limit with exact counts. The subtests build
// on each other, on one control plane.
func TestAuditSchedule(t *testing.T) {
	c := cluster.StartForTest(t, cluster.Options{})
	ctx := t.Context()
	auditFixture(t, ctx, c)
	clock := clocktesting.NewFakeClock(auditStart)
	source := newFindingSource(clock, shopFindings)
	startAuditManager(t, c, clock, source, auditManagerOptions{})

	keep := int32(2)
	sched := &v1alpha1.AuditSchedule{
		ObjectMeta: metav1.ObjectMeta{Name: "nightly"},
		Spec: v1alpha1.AuditScheduleSpec{
			Schedule:           "0 3 * * *",
			NamespaceSelector:  &metav1.LabelSelector{MatchLabels: map[string]string{"audit": "on"}},
			Rules:              []v1alpha1.AuditRule{{ID: "wider-than-observed"}, {ID: "missing-default-deny"}, {ID: "shadowed-rule"}, {ID: "no-internet-to-database"}},
			ReportHistoryLimit: &keep,
			// The fake clock starts years after the schedule's creation; without a deadline the
			// latest slot missed since then would run at once.
			StartingDeadline: &metav1.Duration{Duration: 10 * time.Minute},
		},
	}
	if err := c.Client.Create(ctx, sched); err != nil {
		t.Fatalf("create AuditSchedule: %v", err)
	}
	firstRun := "nightly-20300101-030000"

	t.Run("the schedule runs at its cron time and not before", func(t *testing.T) {
		stepWhenIdle(t, clock, 30*time.Second) // 02:59:30, still before the slot
		stepWhenIdle(t, clock, 30*time.Second) // 03:00:00
		st := scheduleStatus(t, c, "nightly", "the first run", func(s v1alpha1.AuditScheduleStatus) bool { return s.LastReport != "" })
		if st.LastReport != firstRun || st.LastError != "" || st.LastScore == nil {
			t.Fatalf("status after the first run = %+v", st)
		}
		if got := st.NextRunTime.UTC(); !got.Equal(time.Date(2030, 1, 2, 3, 0, 0, 0, time.UTC)) {
			t.Errorf("next run = %v, want the next day at 03:00", got)
		}
		if n := source.runs.Load(); n != 1 {
			t.Errorf("evaluator ran %d times, want once", n)
		}
	})

	t.Run("kubectl get and describe read the reports as the golden files say", func(t *testing.T) {
		// Events are written asynchronously; wait for the ones describe shows.
		waitForEvent(t, c, "ClusterAuditReport", firstRun, audit.ReasonAuditCompleted)
		waitForEvent(t, c, "NetworkPolicy", "allow-db-from-anywhere", audit.ReasonCriticalFinding)
		for _, k := range []struct {
			golden   string
			args     []string
			describe bool
		}{
			{"get-auditschedules.golden", []string{"get", "auditschedules"}, false},
			{"get-clusterauditreports.golden", []string{"get", "clusterauditreports"}, false},
			{"get-auditreports.golden", []string{"get", "auditreports", "--all-namespaces"}, false},
			{"get-flowguard-wide.golden", []string{"get", "clusterauditreports,auditreports", "-A", "-o", "wide"}, false},
			{"describe-clusterauditreport.golden", []string{"describe", "clusterauditreport", firstRun}, true},
			{"describe-auditreport-shop.golden", []string{"describe", "auditreport", "-n", "shop", firstRun}, true},
			{"describe-auditreport-payments.golden", []string{"describe", "auditreport", "-n", "payments", firstRun}, true},
			// The offending policy carries the critical finding as an Event, next to its spec.
			{"describe-calico-networkpolicy.golden", []string{"describe", "networkpolicies.projectcalico.org", "-n", "shop", "allow-db-from-anywhere"}, true},
		} {
			out, err := c.Kubectl(ctx, k.args...)
			if err != nil {
				t.Fatal(err)
			}
			if k.describe {
				out = normalizeDescribe(out)
			} else {
				out = normalizeTable(out)
			}
			goldenText(t, k.golden, out)
		}
	})

	nowRun := ""
	t.Run("a run-now annotation runs the schedule at once", func(t *testing.T) {
		if _, err := c.Kubectl(ctx, "annotate", "auditschedule", "nightly", v1alpha1.RunNowAnnotation+"=first"); err != nil {
			t.Fatal(err)
		}
		st := scheduleStatus(t, c, "nightly", "the requested run", func(s v1alpha1.AuditScheduleStatus) bool { return s.LastRunRequest == "first" })
		nowRun = st.LastReport
		if !strings.HasPrefix(nowRun, "nightly-now-") || st.LastError != "" {
			t.Fatalf("status after the requested run = %+v", st)
		}
		if got := runsOf(t, c, "nightly"); !slices.Equal(got, []string{firstRun, nowRun}) {
			t.Errorf("runs = %v, want the scheduled and the requested one", got)
		}
	})

	t.Run("retention keeps the newest runs and prunes the rest, namespaced reports included", func(t *testing.T) {
		stepWhenIdle(t, clock, 24*time.Hour)
		scheduleStatus(t, c, "nightly", "the second nightly run", func(s v1alpha1.AuditScheduleStatus) bool { return s.LastReport == "nightly-20300102-030000" })
		stepWhenIdle(t, clock, 24*time.Hour)
		scheduleStatus(t, c, "nightly", "the third nightly run", func(s v1alpha1.AuditScheduleStatus) bool { return s.LastReport == "nightly-20300103-030000" })
		want := []string{"nightly-20300102-030000", "nightly-20300103-030000"}
		if got := runsOf(t, c, "nightly"); !slices.Equal(got, want) {
			t.Errorf("runs kept = %v, want %v", got, want)
		}
		var nsReports v1alpha1.AuditReportList
		if err := c.Client.List(ctx, &nsReports); err != nil {
			t.Fatal(err)
		}
		perRun := map[string][]string{}
		for _, r := range nsReports.Items {
			perRun[r.Name] = append(perRun[r.Name], r.Namespace)
		}
		for _, run := range want {
			if got := perRun[run]; !slices.Equal(sortedCopy(got), auditNamespaces) {
				t.Errorf("run %s has AuditReports in %v, want one in each of %v", run, got, auditNamespaces)
			}
		}
		for _, pruned := range []string{firstRun, nowRun} {
			if got := perRun[pruned]; len(got) > 0 {
				t.Errorf("pruned run %s still has AuditReports in %v", pruned, got)
			}
		}
	})

	t.Run("a run with ten thousand findings stays far under etcd's limit, with exact counts", func(t *testing.T) {
		source.set(func(now time.Time) []audit.Finding {
			var fs []audit.Finding
			sev := []audit.Severity{"critical", "high", "medium", "low", "info"}
			for i := range 10_000 {
				fs = append(fs, audit.Finding{Rule: "denied-traffic", Severity: sev[i%5],
					Resource: audit.Resource{APIVersion: "v1", Kind: "Pod", Namespace: "shop", Name: fmt.Sprintf("pod-%05d", i)},
					Message:  strings.Repeat("flows from shop/frontend to shop/api were denied; ", 20),
					Evidence: audit.Evidence{FlowsTotal: 40, Flows: []audit.Flow{{Source: "shop/frontend", Destination: "shop/api",
						Protocol: "TCP", Port: 8080, Action: "deny", Count: uint64(i + 1), LastSeen: now}}}})
			}
			return fs
		})
		// The most violations a report may list, so the byte budget, not the count, is what holds.
		if _, err := c.Kubectl(ctx, "patch", "auditschedule", "nightly", "--type=merge", "-p",
			fmt.Sprintf(`{"spec":{"maxViolationsPerReport":%d}}`, audit.MaxViolationsLimit)); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Kubectl(ctx, "annotate", "--overwrite", "auditschedule", "nightly", v1alpha1.RunNowAnnotation+"=big"); err != nil {
			t.Fatal(err)
		}
		st := scheduleStatus(t, c, "nightly", "the big run", func(s v1alpha1.AuditScheduleStatus) bool { return s.LastRunRequest == "big" })
		if st.LastError != "" {
			t.Fatalf("big run failed: %s", st.LastError)
		}
		raw, err := c.Kubectl(ctx, "get", "auditreport", "-n", "shop", st.LastReport, "-o", "json")
		if err != nil {
			t.Fatal(err)
		}
		const limit = 1 << 20 // well under etcd's 1.5 MiB request limit
		if len(raw) > limit {
			t.Errorf("AuditReport is %d bytes as JSON, over %d", len(raw), limit)
		}
		var rep v1alpha1.AuditReport
		if err := json.Unmarshal([]byte(raw), &rep); err != nil {
			t.Fatal(err)
		}
		s := rep.Summary
		want := v1alpha1.SeverityCounts{Critical: 2000, High: 2000, Medium: 2000, Low: 2000, Info: 2000}
		if s.Total != 10_000 || s.BySeverity != want || s.Listed+s.Omitted != 10_000 || int(s.Listed) != len(rep.Violations) {
			t.Errorf("summary = total %d, by severity %+v, listed %d, omitted %d, %d violations",
				s.Total, s.BySeverity, s.Listed, s.Omitted, len(rep.Violations))
		}
		if s.Omitted == 0 || !strings.Contains(s.OmittedNote, "flowguard audit") {
			t.Errorf("the report does not say what it left out: omitted %d, note %q", s.Omitted, s.OmittedNote)
		}
		t.Logf("AuditReport with 10000 findings: %d bytes, %d listed, %d omitted", len(raw), s.Listed, s.Omitted)
	})
	t.Run("a failed run is recorded in status and an Event, and the next request runs again", func(t *testing.T) {
		boom := errors.New("the traffic graph is unavailable")
		source.fail.Store(&boom)
		if _, err := c.Kubectl(ctx, "annotate", "--overwrite", "auditschedule", "nightly", v1alpha1.RunNowAnnotation+"=fails"); err != nil {
			t.Fatal(err)
		}
		st := scheduleStatus(t, c, "nightly", "the failed run", func(s v1alpha1.AuditScheduleStatus) bool { return s.LastRunRequest == "fails" })
		ready := meta.FindStatusCondition(st.Conditions, audit.ConditionReady)
		if !strings.Contains(st.LastError, "evaluate rules: the traffic graph is unavailable") || ready == nil ||
			ready.Status != metav1.ConditionFalse || ready.Reason != audit.ReasonRunFailed {
			t.Errorf("status after a failed run: lastError %q, Ready %+v", st.LastError, ready)
		}
		waitForEvent(t, c, "AuditSchedule", "nightly", "AuditFailed")

		source.fail.Store(nil)
		if _, err := c.Kubectl(ctx, "annotate", "--overwrite", "auditschedule", "nightly", v1alpha1.RunNowAnnotation+"=recovers"); err != nil {
			t.Fatal(err)
		}
		st = scheduleStatus(t, c, "nightly", "the next run", func(s v1alpha1.AuditScheduleStatus) bool { return s.LastRunRequest == "recovers" })
		if st.LastError != "" || !meta.IsStatusConditionTrue(st.Conditions, audit.ConditionReady) {
			t.Errorf("status after recovering: %+v", st)
		}
	})

	t.Run("a schedule that does not parse is reported and never runs", func(t *testing.T) {
		before := source.runs.Load()
		bad := &v1alpha1.AuditSchedule{ObjectMeta: metav1.ObjectMeta{Name: "broken"}, Spec: v1alpha1.AuditScheduleSpec{Schedule: "0 25 * * *"}}
		if err := c.Client.Create(ctx, bad); err != nil {
			t.Fatal(err)
		}
		st := scheduleStatus(t, c, "broken", "the schedule error", func(s v1alpha1.AuditScheduleStatus) bool { return s.LastError != "" })
		if !strings.Contains(st.LastError, `spec.schedule "0 25 * * *"`) || st.NextRunTime != nil ||
			meta.FindStatusCondition(st.Conditions, audit.ConditionReady).Reason != audit.ReasonInvalidSchedule {
			t.Errorf("status of an invalid schedule: %+v", st)
		}
		// A day on, the auditor has looked at both schedules again: only nightly ran.
		stepWhenIdle(t, clock, 24*time.Hour)
		stepWhenIdle(t, clock, time.Second)
		if got := source.runs.Load(); got != before+1 {
			t.Errorf("evaluations = %d, want %d: the broken schedule must not run", got, before+1)
		}
		if runs := runsOf(t, c, "broken"); len(runs) != 0 {
			t.Errorf("the broken schedule has runs %v", runs)
		}
	})
}

// runsOf lists the runs (ClusterAuditReport names) of a schedule, sorted.
func runsOf(t *testing.T, c *cluster.Cluster, schedule string) []string {
	t.Helper()
	var list v1alpha1.ClusterAuditReportList
	if err := c.Client.List(t.Context(), &list, client.MatchingLabels{v1alpha1.ScheduleLabel: schedule}); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, r := range list.Items {
		names = append(names, r.Name)
	}
	slices.Sort(names)
	return names
}

func sortedCopy(s []string) []string {
	out := slices.Clone(s)
	slices.Sort(out)
	return out
}

// waitForEvent waits until an Event with reason about kind/name exists.
func waitForEvent(t *testing.T, c *cluster.Cluster, kind, name, reason string) {
	t.Helper()
	eventually(t, fmt.Sprintf("a %s event on %s %s", reason, kind, name), func(ctx context.Context) (bool, error) {
		var evs eventsv1.EventList
		if err := c.Client.List(ctx, &evs); err != nil {
			return false, err
		}
		for _, e := range evs.Items {
			if e.Regarding.Kind == kind && e.Regarding.Name == name && e.Reason == reason {
				return true, nil
			}
		}
		return false, nil
	})
}
