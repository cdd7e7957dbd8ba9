package observed

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	toolscache "k8s.io/client-go/tools/cache"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/flowguard/flowguard/api/v1alpha1"
	"github.com/flowguard/flowguard/flows"
)

// RBAC of the syncer: its own objects, in every namespace.
//
// +kubebuilder:rbac:groups=flowguard.dev,resources=observedtraffics,verbs=get;list;watch;create;update;patch;delete

// Defaults of Syncer.
const (
	DefaultInterval        = 30 * time.Second
	DefaultWritesPerSecond = 5
)

// Limiter paces writes; *rate.Limiter is one.
type Limiter interface {
	Wait(ctx context.Context) error
}

// Syncer keeps a graph and the ObservedTraffic objects in step. Every replica registers its
// Reader on an ObservedTraffic informer; the elected replica also runs its Writer (a
// leader-election Runnable). Until the Writer has started writing, shards are applied to the
// graph; from then on the graph is the source and the Reader stands aside.
type Syncer struct {
	Graph *flows.Graph
	// Client writes the objects; reads may come from the manager's cache.
	Client  client.Client
	Options ShardOptions
	// Clock tells the time for bucket coarsening.
	Clock clock.PassiveClock
	// Wait blocks until the next write cycle; nil means every DefaultInterval.
	Wait func(ctx context.Context) error
	// Limiter bounds writes (creates, updates, deletes) per second; nil means
	// DefaultWritesPerSecond.
	Limiter Limiter
	// OnApplied, if set, is called after a shard was applied to the graph (for tests and
	// metrics).
	OnApplied func(key string)
	// OnSynced, if set, is called after each write cycle (Start's and SyncOnce's) with its
	// writes and error: for metrics, and to record what the written shards now hold.
	OnSynced func(SyncResult, error)

	writing      atomic.Bool
	registration toolscache.ResourceEventHandlerRegistration
}

// Informer is the part of an informer Register needs; controller-runtime's cache.Informer and
// client-go's SharedIndexInformer both have it.
type Informer interface {
	AddEventHandler(handler toolscache.ResourceEventHandler) (toolscache.ResourceEventHandlerRegistration, error)
}

// Register adds the Syncer's reader to an ObservedTraffic informer (the manager's cache's:
// mgr.GetCache().GetInformer(ctx, &v1alpha1.ObservedTraffic{})). Call it before the manager
// starts, and add the Syncer to the manager as a Runnable for the writer.
func (s *Syncer) Register(ctx context.Context, informer Informer) error {
	reg, err := informer.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { s.apply(ctx, obj) },
		UpdateFunc: func(_, obj any) { s.apply(ctx, obj) },
		DeleteFunc: func(obj any) { s.remove(ctx, obj) },
	})
	if err != nil {
		return fmt.Errorf("register traffic shard reader: %w", err)
	}
	s.registration = reg
	return nil
}

// Seeded reports whether the objects present at start have all been applied. Flow ingestion
// should begin only then, so that seeded shards do not replace records already counted.
func (s *Syncer) Seeded() bool { return s.registration != nil && s.registration.HasSynced() }

func (s *Syncer) apply(ctx context.Context, obj any) {
	ot, ok := obj.(*v1alpha1.ObservedTraffic)
	if !ok || s.writing.Load() || ot.Labels[v1alpha1.ObservedTrafficManagedByLabel] != "flowguard" {
		return
	}
	key := ot.Namespace + "/" + ot.Name
	edges, err := Decode(ot)
	if err != nil {
		logf.FromContext(ctx).Error(err, "Ignoring a traffic shard that does not decode", "shard", key)
		return
	}
	s.Graph.ReplaceShard(key, edges)
	if s.OnApplied != nil {
		s.OnApplied(key)
	}
}

func (s *Syncer) remove(ctx context.Context, obj any) {
	if d, ok := obj.(toolscache.DeletedFinalStateUnknown); ok {
		obj = d.Obj
	}
	ot, ok := obj.(*v1alpha1.ObservedTraffic)
	if !ok || s.writing.Load() {
		return
	}
	key := ot.Namespace + "/" + ot.Name
	s.Graph.DropShard(key)
	if s.OnApplied != nil {
		s.OnApplied(key)
	}
}

// NeedLeaderElection makes the writer run on the elected replica only.
func (s *Syncer) NeedLeaderElection() bool { return true }

// Start is the writer: once the reader has applied the shards present at start, it writes the
// graph every cycle until ctx ends. Failed cycles are logged and retried at the next one.
func (s *Syncer) Start(ctx context.Context) error {
	log := logf.FromContext(ctx).WithName("traffic-sync")
	if s.registration != nil {
		if !toolscache.WaitForCacheSync(ctx.Done(), s.registration.HasSynced) {
			return nil
		}
	}
	s.writing.Store(true)
	wait := s.Wait
	if wait == nil {
		wait = flows.PollEvery(clock.RealClock{}, DefaultInterval)
	}
	for {
		if err := s.SyncOnce(ctx); err != nil && ctx.Err() == nil {
			log.Error(err, "Writing traffic shards failed; retrying next cycle")
		}
		if wait(ctx) != nil {
			return nil
		}
	}
}

// Follow makes the graph follow the shards again after this replica stops writing them (it
// stepped down or lost the lease): every shard in the cache is applied, so that the graph
// holds what the shards hold, and later changes are applied as they come.
func (s *Syncer) Follow(ctx context.Context) {
	s.writing.Store(false)
	var list v1alpha1.ObservedTrafficList
	if err := s.Client.List(ctx, &list, client.MatchingLabels{v1alpha1.ObservedTrafficManagedByLabel: "flowguard"}); err != nil {
		logf.FromContext(ctx).Error(err, "Reading traffic shards after stepping down failed; later changes are still applied")
		return
	}
	for i := range list.Items {
		s.apply(ctx, &list.Items[i])
	}
}

// SyncResult counts one cycle's writes.
type SyncResult struct {
	Created, Updated, Deleted, Unchanged int
}

// SyncOnce writes the graph's current edges: changed shards are created or updated, shards of
// an old cut or of namespaces without traffic are deleted, unchanged ones are left alone.
func (s *Syncer) SyncOnce(ctx context.Context) error {
	res, err := s.sync(ctx)
	if s.OnSynced != nil {
		s.OnSynced(res, err)
	}
	return err
}

func (s *Syncer) sync(ctx context.Context) (SyncResult, error) {
	var res SyncResult
	clk := s.Clock
	if clk == nil {
		clk = clock.RealClock{}
	}
	lim := s.Limiter
	if lim == nil {
		s.Limiter = rate.NewLimiter(DefaultWritesPerSecond, DefaultWritesPerSecond)
		lim = s.Limiter
	}
	edges := s.Graph.Edges(flows.Query{WithBuckets: true})
	desired, err := BuildShards(edges, s.Graph.BucketWidth(), clk.Now(), s.Options)
	if err != nil {
		return res, err
	}
	var existing v1alpha1.ObservedTrafficList
	if err := s.Client.List(ctx, &existing, client.MatchingLabels{v1alpha1.ObservedTrafficManagedByLabel: "flowguard"}); err != nil {
		return res, fmt.Errorf("list traffic shards: %w", err)
	}
	have := make(map[string]*v1alpha1.ObservedTraffic, len(existing.Items))
	for i := range existing.Items {
		o := &existing.Items[i]
		have[o.Namespace+"/"+o.Name] = o
	}
	var errs []error
	// Write new and changed shards before deleting old ones, so an edge moving between
	// shards is never absent.
	for _, obj := range desired {
		key := obj.Namespace + "/" + obj.Name
		cur, ok := have[key]
		delete(have, key)
		if ok && cur.Annotations[v1alpha1.ObservedTrafficContentAnnotation] == obj.Annotations[v1alpha1.ObservedTrafficContentAnnotation] {
			res.Unchanged++
			continue
		}
		if err := lim.Wait(ctx); err != nil {
			return res, err
		}
		// An update carries the version read, so a shard another writer changed since is
		// not overwritten (a conflict, retried next cycle from the new version).
		if ok {
			obj.ResourceVersion = cur.ResourceVersion
			err = s.Client.Update(ctx, obj)
		} else {
			err = s.Client.Create(ctx, obj)
		}
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("write traffic shard %s: %w", key, err))
		case ok:
			res.Updated++
		default:
			res.Created++
		}
	}
	for key, old := range have {
		if err := lim.Wait(ctx); err != nil {
			return res, err
		}
		// Only the version read is deleted: a shard another writer changed since stays.
		pre := client.Preconditions{UID: &old.UID, ResourceVersion: &old.ResourceVersion}
		if err := s.Client.Delete(ctx, old, pre); err != nil && !apierrors.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("delete traffic shard %s: %w", key, err))
			continue
		}
		res.Deleted++
	}
	return res, errors.Join(errs...)
}
