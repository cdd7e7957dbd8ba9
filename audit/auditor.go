package audit

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/types"
	toolscache "k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/flowguard/flowguard/api/v1alpha1"
)

// DefaultPollInterval bounds how long the auditor goes without looking at its schedules.
const DefaultPollInterval = time.Minute

// notReadyRetry is how soon the auditor looks again while its snapshot is not ready.
const notReadyRetry = time.Second

// Dependencies are what an Auditor is built from.
type Dependencies struct {
	// Client reads AuditSchedules and Namespaces, from the manager's informer cache, and writes
	// reports, schedule status and nothing else. Required.
	Client client.Client
	// Reader reads reports and offending objects straight from the API server, so the auditor
	// neither caches every report nor acts on a stale one. Required.
	Reader client.Reader
	// Evaluator runs the rules over the cluster snapshot. Required.
	Evaluator Evaluator
	// Clock tells the time and paces the schedule loop. Required.
	Clock clock.Clock
	// Informers, when set, wake the auditor as soon as a schedule changes (a run-now request);
	// otherwise it notices at its next poll.
	Informers cache.Informers
	// Recorder emits Events on reports, schedules and offending policies; none when nil.
	Recorder events.EventRecorder
	// Metrics, when set, records run durations and findings.
	Metrics *Metrics
	// PollInterval is the longest wait between looks at the schedules; DefaultPollInterval when
	// zero.
	PollInterval time.Duration
	// MaxPolicyEvents caps the Events on offending objects per run; 20 when zero.
	MaxPolicyEvents int
	// OmittedNote says where to read violations a report left out; see ReportOptions.
	OmittedNote func(ns string, omitted int) string
	// Recommend, when set, computes the policy recommendation of schedules that ask for one;
	// without it such schedules' reports say that no recommender is configured.
	Recommend Recommender
	// Ready, when set, holds every run back until it returns nil: the snapshot an audit takes
	// must not be an informer cache that is still filling.
	Ready func() error
}

// Auditor runs AuditSchedules: on their cron, and on demand when a schedule's
// flowguard.dev/run-now annotation changes. It is a manager Runnable that runs only on the
// elected leader; runs are sequential, so an audit never competes with another for the CPU.
type Auditor struct {
	deps Dependencies
	wake chan struct{}
	// done remembers what this process has run, per schedule, until the cache shows the status
	// update, so that a stale cache cannot start the same run twice.
	done map[types.UID]completed
	// known are the schedules seen at the last look, so the metrics of deleted ones are dropped.
	known map[string]bool
}

type completed struct {
	slot    time.Time
	request string
}

// New checks deps and returns an Auditor; add it to a manager with mgr.Add.
func New(deps Dependencies) (*Auditor, error) {
	var missing []string
	if deps.Client == nil {
		missing = append(missing, "Client")
	}
	if deps.Reader == nil {
		missing = append(missing, "Reader")
	}
	if deps.Evaluator == nil {
		missing = append(missing, "Evaluator")
	}
	if deps.Clock == nil {
		missing = append(missing, "Clock")
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("new auditor: missing dependencies %s", strings.Join(missing, ", "))
	}
	if deps.PollInterval <= 0 {
		deps.PollInterval = DefaultPollInterval
	}
	if deps.MaxPolicyEvents <= 0 {
		deps.MaxPolicyEvents = 20
	}
	return &Auditor{deps: deps, wake: make(chan struct{}, 1), done: map[types.UID]completed{}, known: map[string]bool{}}, nil
}

// NeedLeaderElection is true: only the leader audits, so each run is written once.
func (a *Auditor) NeedLeaderElection() bool { return true }

// Start runs the schedule loop until ctx ends.
func (a *Auditor) Start(ctx context.Context) error {
	log := logf.FromContext(ctx).WithName("auditor")
	ctx = logf.IntoContext(ctx, log)
	if a.deps.Informers != nil {
		inf, err := a.deps.Informers.GetInformer(ctx, &v1alpha1.AuditSchedule{})
		if err != nil {
			return fmt.Errorf("auditor: watch AuditSchedules: %w", err)
		}
		poke := func(any) {
			select {
			case a.wake <- struct{}{}:
			default:
			}
		}
		reg, err := inf.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
			AddFunc: poke, DeleteFunc: poke, UpdateFunc: func(_, n any) { poke(n) },
		})
		if err != nil {
			return fmt.Errorf("auditor: watch AuditSchedules: %w", err)
		}
		defer func() { _ = inf.RemoveEventHandler(reg) }()
	}
	log.Info("auditor started", "pollInterval", a.deps.PollInterval)
	for {
		next := a.tick(ctx)
		wait := a.deps.PollInterval
		if !next.IsZero() {
			wait = min(wait, max(0, next.Sub(a.deps.Clock.Now())))
		}
		timer := a.deps.Clock.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			log.Info("auditor stopped")
			return nil
		case <-timer.C():
		case <-a.wake:
			timer.Stop()
		}
	}
}

// tick runs every schedule that is due or has a run request, and returns the earliest next cron
// time among the schedules (zero when there is none).
func (a *Auditor) tick(ctx context.Context) time.Time {
	log := logf.FromContext(ctx)
	if a.deps.Ready != nil {
		if err := a.deps.Ready(); err != nil {
			log.Info("waiting for the cluster snapshot before auditing", "reason", err.Error())
			return a.deps.Clock.Now().Add(notReadyRetry)
		}
	}
	var list v1alpha1.AuditScheduleList
	if err := a.deps.Client.List(ctx, &list); err != nil {
		log.Error(err, "list AuditSchedules")
		return time.Time{}
	}
	slices.SortFunc(list.Items, func(x, y v1alpha1.AuditSchedule) int { return strings.Compare(x.Name, y.Name) })
	var next time.Time
	seen := map[string]bool{}
	seenUIDs := map[types.UID]bool{}
	for i := range list.Items {
		if ctx.Err() != nil {
			return next
		}
		sched := &list.Items[i]
		seen[sched.Name], seenUIDs[sched.UID] = true, true
		cs, err := parseCron(sched.Spec.Schedule, sched.Spec.TimeZone)
		if err != nil {
			a.invalidSchedule(ctx, sched, err)
			continue
		}
		now := a.deps.Clock.Now()
		done := a.done[sched.UID]
		ran := true
		if req, ok := runRequested(sched); ok && req != done.request {
			a.run(ctx, sched, cs, trigger{request: req})
		} else if slot, ok := due(sched, cs, now); ok && !slot.Equal(done.slot) {
			a.run(ctx, sched, cs, trigger{slot: slot})
		} else {
			ran = false
		}
		var n time.Time
		if !sched.Spec.Suspend {
			n = cs.Next(a.deps.Clock.Now())
			if !n.IsZero() && (next.IsZero() || n.Before(next)) {
				next = n
			}
		}
		if !ran {
			a.syncNextRun(ctx, sched, n)
		}
	}
	for name := range a.known {
		if !seen[name] {
			a.deps.Metrics.forget(name)
		}
	}
	a.known = seen
	if ctx.Err() == nil {
		for uid := range a.done {
			if !seenUIDs[uid] {
				delete(a.done, uid)
			}
		}
	}
	return next
}

// trigger is why a run happens: a cron slot, or a run-now request.
type trigger struct {
	slot    time.Time
	request string
}

func (t trigger) String() string {
	if t.request != "" {
		return "request"
	}
	return "schedule"
}

func (t trigger) runName(schedule string) string {
	if t.request != "" {
		return requestedRunName(schedule, t.request)
	}
	return scheduledRunName(schedule, t.slot)
}

// errorText keeps a status message on one line and readable.
func errorText(err error) string {
	return truncate(strings.ReplaceAll(err.Error(), "\n", "; "), 1024)
}
