package audit

import (
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/flowguard/flowguard/api/v1alpha1"
)

func at(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

func schedule(spec string, mods ...func(*v1alpha1.AuditSchedule)) *v1alpha1.AuditSchedule {
	s := &v1alpha1.AuditSchedule{
		ObjectMeta: metav1.ObjectMeta{Name: "nightly", CreationTimestamp: metav1.NewTime(at("2026-03-01T00:00:00Z"))},
		Spec:       v1alpha1.AuditScheduleSpec{Schedule: spec},
	}
	for _, m := range mods {
		m(s)
	}
	return s
}

func TestDue(t *testing.T) {
	lastRunAt := func(ts string) func(*v1alpha1.AuditSchedule) {
		return func(s *v1alpha1.AuditSchedule) { s.Status.LastScheduleTime = ptrTime(at(ts)) }
	}
	tests := map[string]struct {
		sched    *v1alpha1.AuditSchedule
		now      string
		wantDue  bool
		wantSlot string
	}{
		"not due before the first slot after creation": {
			sched: schedule("0 3 * * *"), now: "2026-03-01T02:59:59Z",
		},
		"due at the first slot": {
			sched: schedule("0 3 * * *"), now: "2026-03-01T03:00:00Z", wantDue: true, wantSlot: "2026-03-01T03:00:00Z",
		},
		"not due again once the slot is recorded": {
			sched: schedule("0 3 * * *", lastRunAt("2026-03-01T03:00:00Z")), now: "2026-03-01T15:00:00Z",
		},
		"slots missed while no leader ran collapse into the latest one": {
			sched: schedule("0 3 * * *", lastRunAt("2026-03-01T03:00:00Z")), now: "2026-03-05T04:00:00Z",
			wantDue: true, wantSlot: "2026-03-05T03:00:00Z",
		},
		"a slot missed by more than the starting deadline is skipped": {
			sched: schedule("0 3 * * *", func(s *v1alpha1.AuditSchedule) {
				s.Spec.StartingDeadline = &metav1.Duration{Duration: 10 * time.Minute}
			}), now: "2026-03-01T03:11:00Z",
		},
		"a slot missed by less than the starting deadline still runs": {
			sched: schedule("0 3 * * *", func(s *v1alpha1.AuditSchedule) {
				s.Spec.StartingDeadline = &metav1.Duration{Duration: 10 * time.Minute}
			}), now: "2026-03-01T03:09:00Z", wantDue: true, wantSlot: "2026-03-01T03:00:00Z",
		},
		"a suspended schedule is never due": {
			sched: schedule("0 3 * * *", func(s *v1alpha1.AuditSchedule) { s.Spec.Suspend = true }), now: "2026-03-02T03:00:00Z",
		},
		"descriptors work": {
			sched: schedule("@every 6h"), now: "2026-03-01T13:00:00Z", wantDue: true, wantSlot: "2026-03-01T12:00:00Z",
		},
		"a schedule in a time zone fires at local time": {
			sched: schedule("0 3 * * *", func(s *v1alpha1.AuditSchedule) { s.Spec.TimeZone = "Europe/Berlin" }),
			now:   "2026-03-01T02:30:00Z", wantDue: true, wantSlot: "2026-03-01T02:00:00Z",
		},
		"a very frequent schedule left alone for a month still finds its latest slot": {
			sched: schedule("@every 1s"), now: "2026-04-01T00:00:00Z", wantDue: true, wantSlot: "2026-04-01T00:00:00Z",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			cs, err := parseCron(tc.sched.Spec.Schedule, tc.sched.Spec.TimeZone)
			if err != nil {
				t.Fatal(err)
			}
			slot, ok := due(tc.sched, cs, at(tc.now))
			if ok != tc.wantDue {
				t.Fatalf("due = %v (slot %v), want %v", ok, slot, tc.wantDue)
			}
			if ok && !slot.Equal(at(tc.wantSlot)) {
				t.Errorf("slot = %v, want %v", slot.UTC(), tc.wantSlot)
			}
		})
	}
}

func TestParseCronErrors(t *testing.T) {
	tests := map[string]struct {
		spec, tz, want string
	}{
		"too few fields":    {spec: "0 3 *", want: `spec.schedule "0 3 *"`},
		"an unknown zone":   {spec: "0 3 * * *", tz: "Mars/Olympus", want: `spec.timeZone "Mars/Olympus"`},
		"a bad descriptor":  {spec: "@fortnightly", want: `spec.schedule "@fortnightly"`},
		"out of range hour": {spec: "0 25 * * *", want: "spec.schedule"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := parseCron(tc.spec, tc.tz)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("parseCron(%q, %q) error = %v, want it to contain %q", tc.spec, tc.tz, err, tc.want)
			}
		})
	}
}

func TestRunNames(t *testing.T) {
	long := strings.Repeat("a-very-long-schedule-name-", 8)
	tests := map[string]struct {
		got, want string
	}{
		"a scheduled run is named for its slot, in UTC": {
			got: scheduledRunName("nightly", at("2026-03-01T04:00:00+01:00")), want: "nightly-20260301-030000",
		},
		"a requested run is named for its request": {
			got: requestedRunName("nightly", "2026-03-01 manual"), want: "nightly-now-" + shortHash("2026-03-01 manual"),
		},
		"a long schedule name is cut and made unique": {
			got: scheduledRunName(long, at("2026-03-01T03:00:00Z")), want: long[:31] + "-" + shortHash(long) + "-20260301-030000",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if tc.got != tc.want {
				t.Errorf("got %q, want %q", tc.got, tc.want)
			}
			if len(tc.got) > 63 {
				t.Errorf("%q is longer than a label value may be", tc.got)
			}
		})
	}
	if v := labelValue(long); len(v) != 63 || labelValue("short") != "short" {
		t.Errorf("labelValue(long) = %q (%d)", v, len(v))
	}
}

func TestRunRequested(t *testing.T) {
	s := schedule("0 3 * * *", func(s *v1alpha1.AuditSchedule) {
		s.Annotations = map[string]string{v1alpha1.RunNowAnnotation: "1"}
	})
	if req, ok := runRequested(s); !ok || req != "1" {
		t.Errorf("a new request is not seen: %q %v", req, ok)
	}
	s.Status.LastRunRequest = "1"
	if _, ok := runRequested(s); ok {
		t.Error("a handled request is seen again")
	}
	s.Annotations[v1alpha1.RunNowAnnotation] = "2"
	if req, ok := runRequested(s); !ok || req != "2" {
		t.Errorf("a changed request is not seen: %q %v", req, ok)
	}
}
