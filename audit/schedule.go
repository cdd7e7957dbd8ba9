package audit

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/flowguard/flowguard/api/v1alpha1"
)

// parseCron reads the five-field standard syntax and the @descriptors (@daily, @every 6h), in
// the schedule's time zone (UTC when empty).
func parseCron(spec, timeZone string) (cron.Schedule, error) {
	if timeZone != "" {
		if _, err := time.LoadLocation(timeZone); err != nil {
			return nil, fmt.Errorf("spec.timeZone %q: %w", timeZone, err)
		}
		spec = "CRON_TZ=" + timeZone + " " + spec
	}
	s, err := cron.ParseStandard(spec)
	if err != nil {
		return nil, fmt.Errorf("spec.schedule %q: %w", spec, err)
	}
	return s, nil
}

// maxMissedSlots bounds the walk over missed cron slots (an "@every 1s" schedule left alone for a
// week); past it only the most recent slot matters, as for a CronJob.
const maxMissedSlots = 10_000

// lastSlot returns the most recent cron time in (after, now], or the zero time if there is none.
func lastSlot(s cron.Schedule, after, now time.Time) time.Time {
	var last time.Time
	t := s.Next(after)
	for i := 0; !t.IsZero() && !t.After(now); i++ {
		last = t
		if i == maxMissedSlots {
			// Too many slots to walk: restart close to now. Two consecutive slots give the
			// period; a slot within one period before now is the latest.
			period := s.Next(t).Sub(t)
			if period <= 0 {
				break
			}
			t = s.Next(now.Add(-2 * period))
			i = 0
			continue
		}
		t = s.Next(t)
	}
	return last
}

// due says whether a schedule owes a scheduled run at now, and for which cron time: the latest
// slot after the last completed one (or after the schedule's creation). A slot missed while no
// auditor was leading is run late, once, unless it is later than spec.startingDeadline.
func due(sched *v1alpha1.AuditSchedule, s cron.Schedule, now time.Time) (time.Time, bool) {
	if sched.Spec.Suspend {
		return time.Time{}, false
	}
	after := sched.CreationTimestamp.Time
	if st := sched.Status.LastScheduleTime; st != nil && st.After(after) {
		after = st.Time
	}
	slot := lastSlot(s, after, now)
	if d := sched.Spec.StartingDeadline; d != nil && d.Duration > 0 && now.Sub(slot) > d.Duration {
		return time.Time{}, false
	}
	return slot, !slot.IsZero()
}

// runRequested returns the run-now request a schedule carries that has not been handled yet.
func runRequested(sched *v1alpha1.AuditSchedule) (string, bool) {
	v, ok := sched.Annotations[v1alpha1.RunNowAnnotation]
	if !ok || v == sched.Status.LastRunRequest {
		return "", false
	}
	return v, true
}

// Run names are deterministic, so that a run repeated after a leader change writes the same
// objects: a scheduled run is named for its cron time, a requested run for its request.
func scheduledRunName(schedule string, slot time.Time) string {
	return namePrefix(schedule) + "-" + slot.UTC().Format("20060102-150405")
}

func requestedRunName(schedule, request string) string {
	return namePrefix(schedule) + "-now-" + shortHash(request)
}

// namePrefix keeps run names within the 63 characters of a label value (the run label carries
// the name): long schedule names are cut and made unique with a hash.
func namePrefix(schedule string) string {
	const maxPrefix = 40
	if len(schedule) <= maxPrefix {
		return schedule
	}
	return schedule[:maxPrefix-9] + "-" + shortHash(schedule)
}

// labelValue fits a value into a label: values over 63 characters are cut and made unique with
// a hash.
func labelValue(s string) string {
	if len(s) <= 63 {
		return s
	}
	return s[:54] + "-" + shortHash(s)
}

func shortHash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:4])
}
