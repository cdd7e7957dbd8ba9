package replica

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/apimachinery/pkg/util/uuid"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/manager"
)

// Lease timing, as controller-runtime's defaults: a leader that cannot renew for renewDeadline
// steps down; another replica takes over leaseDuration after it last saw the lease renewed.
const (
	leaseDuration = 15 * time.Second
	renewDeadline = 10 * time.Second
	retryPeriod   = 2 * time.Second
)

// leaderWork is the elected replica's work for one term of the lease. It runs until stop ends,
// which happens when the replica steps down or loses the lease. held ends only when the lease
// is lost or released: a last write made while stepping down (the traffic shards) uses it, so
// that it is made only while the lease is still held. Every write also goes through the
// fenced client, which refuses it once the lease may have passed to another replica.
type leaderWork func(stop, held context.Context) error

// runnable adapts a manager Runnable to leaderWork.
func runnable(r interface{ Start(context.Context) error }) leaderWork {
	return func(stop, _ context.Context) error { return r.Start(stop) }
}

// lease campaigns for leadership, runs the leader's work for each term, and campaigns again
// when a term ends, until the process stops. It runs on every replica, beside the webhook,
// which it never stops: losing the lease stops only the leader's work.
//
// Without leader election (lock nil) the work runs once, for the life of the process.
type lease struct {
	lock  *fence
	work  []leaderWork
	terms prometheus.Counter
	// client is what the leader's work writes through: fenced by the lease when there is one.
	client client.Client
}

// newLease returns the lease of o's leader election, or a lease-less runner without it.
func newLease(restCfg *rest.Config, mgr manager.Manager, o *Options, reg prometheus.Registerer) (*lease, error) {
	terms, refused, err := newLeaseMetrics(reg)
	if err != nil {
		return nil, err
	}
	c, err := client.NewWithWatch(restCfg, client.Options{Scheme: mgr.GetScheme(), Mapper: mgr.GetRESTMapper(),
		Cache: &client.CacheOptions{Reader: mgr.GetCache()}})
	if err != nil {
		return nil, fmt.Errorf("create the leader's client: %w", err)
	}
	if !o.LeaderElect {
		return &lease{terms: terms, client: c}, nil
	}
	host, err := os.Hostname()
	if err != nil {
		return nil, fmt.Errorf("leader election identity: %w", err)
	}
	lock, err := resourcelock.NewFromKubeconfig(resourcelock.LeasesResourceLock, o.electionNamespace(), o.LeaderElectionID,
		resourcelock.ResourceLockConfig{Identity: host + "_" + string(uuid.NewUUID())}, restCfg, renewDeadline)
	if err != nil {
		return nil, fmt.Errorf("leader election lock: %w", err)
	}
	f := &fence{Interface: lock, validFor: renewDeadline, refused: refused, clock: clock.RealClock{}}
	return &lease{lock: f, terms: terms, client: f.client(c)}, nil
}

func newLeaseMetrics(reg prometheus.Registerer) (terms, refused prometheus.Counter, err error) {
	terms = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "flowguard_leader_terms_total",
		Help: "Terms of the leader election lease this replica has begun (each starts the auditor, flow ingestion and writers).",
	})
	refused = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "flowguard_leader_writes_fenced_total",
		Help: "Writes of the leader's work refused because this replica no longer held the lease.",
	})
	for _, c := range []prometheus.Collector{terms, refused} {
		if err := reg.Register(c); err != nil {
			return nil, nil, fmt.Errorf("register leader metrics: %w", err)
		}
	}
	return terms, refused, nil
}

// add makes w part of the leader's work.
func (l *lease) add(w leaderWork) { l.work = append(l.work, w) }

// NeedLeaderElection is false: the lease is its own election.
func (l *lease) NeedLeaderElection() bool { return false }

// Start campaigns and leads, term after term, until ctx ends; then the lease is released once
// the work of the term has stopped.
func (l *lease) Start(ctx context.Context) error {
	if l.lock == nil {
		l.terms.Inc()
		l.run(logf.FromContext(ctx), ctx, ctx)
		return nil
	}
	for ctx.Err() == nil {
		if err := l.term(ctx); err != nil {
			return err
		}
	}
	return nil
}

// term campaigns once and, if elected, leads until the lease is lost or ctx ends.
func (l *lease) term(ctx context.Context) error {
	log := logf.FromContext(ctx).WithName("lease")
	// The elector outlives ctx while the work steps down, so that the lease is released only
	// after the last write; a replica still campaigning stops at once.
	electCtx, stopElecting := context.WithCancel(context.WithoutCancel(ctx))
	defer stopElecting()
	var (
		mu      sync.Mutex
		leading bool
		worked  = make(chan struct{})
	)
	stopCampaign := context.AfterFunc(ctx, func() {
		mu.Lock()
		defer mu.Unlock()
		if !leading {
			stopElecting()
		}
	})
	defer stopCampaign()
	elector, err := leaderelection.NewLeaderElector(leaderelection.LeaderElectionConfig{
		Lock:            l.lock,
		LeaseDuration:   leaseDuration,
		RenewDeadline:   renewDeadline,
		RetryPeriod:     retryPeriod,
		ReleaseOnCancel: true,
		Name:            l.lock.Describe(),
		Callbacks: leaderelection.LeaderCallbacks{
			OnStartedLeading: func(held context.Context) {
				defer close(worked)
				mu.Lock()
				leading = true
				mu.Unlock()
				l.terms.Inc()
				log.Info("Leading: starting the auditor, flow ingestion and writers", "identity", l.lock.Identity())
				stop, cancel := context.WithCancel(held)
				defer cancel()
				defer context.AfterFunc(ctx, cancel)()
				l.run(log, stop, held)
				// Release only once every write of the term is done.
				stopElecting()
			},
			OnStoppedLeading: func() { l.lock.stepDown() },
		},
	})
	if err != nil {
		return fmt.Errorf("leader election: %w", err)
	}
	elector.Run(electCtx)
	mu.Lock()
	started := leading
	mu.Unlock()
	if started {
		<-worked
		if ctx.Err() == nil {
			log.Info("Lost the lease: the leader's work stopped; the webhook keeps serving; campaigning again")
		}
	}
	return nil
}

// run runs every piece of the leader's work until each has returned.
func (l *lease) run(log logr.Logger, stop, held context.Context) {
	var wg sync.WaitGroup
	for _, w := range l.work {
		wg.Go(func() {
			if err := w(stop, held); err != nil {
				log.Error(err, "Leader work stopped")
			}
		})
	}
	wg.Wait()
}

// errFenced is what a write of the leader's work gets once this replica may no longer hold the
// lease.
var errFenced = errors.New("this replica no longer holds the leader election lease")

// fence is the lease's resource lock, which records when this replica last renewed it, so that
// writes can be refused the moment the lease may have passed to another replica: another
// takes over no sooner than leaseDuration after the renewal it saw, and this one trusts a
// renewal for renewDeadline only. The monotonic clock goes on while the process is paused, so
// a replica resumed after a pause (SIGSTOP, a frozen VM) finds its renewal too old and writes
// nothing, even before its elector notices that the lease is gone.
type fence struct {
	resourcelock.Interface
	validFor time.Duration
	refused  prometheus.Counter
	clock    clock.PassiveClock

	mu      sync.Mutex
	renewed time.Time // when the last successful renewal was sent; zero when not holding
}

func (f *fence) Create(ctx context.Context, ler resourcelock.LeaderElectionRecord) error {
	return f.record(ler, func() error { return f.Interface.Create(ctx, ler) })
}

func (f *fence) Update(ctx context.Context, ler resourcelock.LeaderElectionRecord) error {
	return f.record(ler, func() error { return f.Interface.Update(ctx, ler) })
}

// record writes the lease record and, when the write succeeded, notes whether this replica
// now holds it, from the time the write was sent.
func (f *fence) record(ler resourcelock.LeaderElectionRecord, write func() error) error {
	sent := f.clock.Now()
	if err := write(); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if ler.HolderIdentity == f.Identity() {
		f.renewed = sent
	} else {
		f.renewed = time.Time{}
	}
	return nil
}

// stepDown closes the fence at once when the elector gives the lease up.
func (f *fence) stepDown() {
	f.mu.Lock()
	f.renewed = time.Time{}
	f.mu.Unlock()
}

// check returns errFenced unless the lease was renewed by this replica within validFor.
func (f *fence) check() error {
	f.mu.Lock()
	renewed := f.renewed
	f.mu.Unlock()
	if renewed.IsZero() || f.clock.Since(renewed) >= f.validFor {
		f.refused.Inc()
		return fmt.Errorf("%w (%s)", errFenced, f.Describe())
	}
	return nil
}

// client returns c with every write checked against the fence first.
func (f *fence) client(c client.WithWatch) client.WithWatch {
	return interceptor.NewClient(c, interceptor.Funcs{
		Create: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.CreateOption) error {
			if err := f.check(); err != nil {
				return err
			}
			return c.Create(ctx, obj, opts...)
		},
		Update: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.UpdateOption) error {
			if err := f.check(); err != nil {
				return err
			}
			return c.Update(ctx, obj, opts...)
		},
		Patch: func(ctx context.Context, c client.WithWatch, obj client.Object, p client.Patch, opts ...client.PatchOption) error {
			if err := f.check(); err != nil {
				return err
			}
			return c.Patch(ctx, obj, p, opts...)
		},
		Delete: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.DeleteOption) error {
			if err := f.check(); err != nil {
				return err
			}
			return c.Delete(ctx, obj, opts...)
		},
		DeleteAllOf: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.DeleteAllOfOption) error {
			if err := f.check(); err != nil {
				return err
			}
			return c.DeleteAllOf(ctx, obj, opts...)
		},
		SubResourceCreate: func(ctx context.Context, c client.Client, sub string, obj, subObj client.Object, opts ...client.SubResourceCreateOption) error {
			if err := f.check(); err != nil {
				return err
			}
			return c.SubResource(sub).Create(ctx, obj, subObj, opts...)
		},
		SubResourceUpdate: func(ctx context.Context, c client.Client, sub string, obj client.Object, opts ...client.SubResourceUpdateOption) error {
			if err := f.check(); err != nil {
				return err
			}
			return c.SubResource(sub).Update(ctx, obj, opts...)
		},
		SubResourcePatch: func(ctx context.Context, c client.Client, sub string, obj client.Object, p client.Patch, opts ...client.SubResourcePatchOption) error {
			if err := f.check(); err != nil {
				return err
			}
			return c.SubResource(sub).Patch(ctx, obj, p, opts...)
		},
	})
}
