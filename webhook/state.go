package webhook

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"k8s.io/apimachinery/pkg/runtime"
	toolscache "k8s.io/client-go/tools/cache"
	"k8s.io/utils/clock"

	"github.com/flowguard/flowguard/flows"
	"github.com/flowguard/flowguard/netpol"
	"github.com/flowguard/flowguard/rego"
)

// DefaultPublishEvery is how often changes to the cluster are published to the rules.
const DefaultPublishEvery = time.Second

// State is what the rules read: a netpol.Cluster kept current by informers and the traffic
// graph flowguard has learned. It implements rego.State.
//
// Informer events mutate a private cluster under a lock; readers get an immutable snapshot,
// copy-on-write, so cheaply, and the same pointer between changes so that the engine keeps what
// it memoised for it. Once PublishPending runs (the webhook's replicas), snapshots are published in the background
// at most once per DefaultPublishEvery and then warmed (OnPublish): building the policy engine
// of a snapshot costs milliseconds over thousands of policies and pods, and it is paid once per
// batch of changes, never by the admission request that happens to come first. Without it
// (a one-off read of the cluster), Cluster publishes the latest changes when it is called.
type State struct {
	clock     clock.WithTicker
	onPublish func()

	mu     sync.Mutex
	master *netpol.Cluster
	dirty  atomic.Bool
	snap   atomic.Pointer[netpol.Cluster]
	// background is set by PublishPending; published by its first publish after the informers
	// synced.
	background, published atomic.Bool

	traffic atomic.Pointer[flows.Graph]
	// trafficSeen is when the graph's generation was last seen to change.
	trafficMu    sync.Mutex
	trafficGen   uint64
	trafficSeen  time.Time
	trafficGraph *flows.Graph

	regs []toolscache.ResourceEventHandlerRegistration
}

var _ rego.State = (*State)(nil)

// NewState returns an empty state; Watch fills it from the cluster, SetTraffic supplies flows.
// clk tells the time and paces publishing; the real clock when nil.
func NewState(clk clock.WithTicker) *State {
	if clk == nil {
		clk = clock.RealClock{}
	}
	s := &State{clock: clk, master: netpol.NewCluster()}
	s.snap.Store(s.master.Clone())
	return s
}

// OnPublish sets a function called after each snapshot is published, outside any lock; serve
// passes (*rego.Engine).Warm. Call it before PublishPending.
func (s *State) OnPublish(fn func()) { s.onPublish = fn }

// Cluster returns the published snapshot of the cluster.
func (s *State) Cluster() *netpol.Cluster {
	if !s.background.Load() && s.dirty.Load() {
		s.Publish()
	}
	return s.snap.Load()
}

// Publish makes the changes applied so far visible to the rules now, then warms.
func (s *State) Publish() {
	s.mu.Lock()
	s.snap.Store(s.master.Clone())
	s.dirty.Store(false)
	s.mu.Unlock()
	if s.onPublish != nil {
		s.onPublish()
	}
}

// PublishPending is one turn of the background publisher, which the owner of the state calls
// every DefaultPublishEvery on every replica: it publishes and warms the changes applied since
// the last turn, and the first time the informers have synced, before readiness is reported.
// Once it has been called, Cluster no longer publishes on its own.
func (s *State) PublishPending(context.Context) {
	s.background.Store(true)
	switch {
	case !s.published.Load() && s.Synced() == nil:
		s.Publish()
		s.published.Store(true)
	case s.dirty.Load():
		s.Publish()
	}
}

// Traffic returns the traffic graph, or nil before one is loaded.
func (s *State) Traffic() *flows.Graph { return s.traffic.Load() }

// Now is the end of the lookback window: the current time.
func (s *State) Now() time.Time { return s.clock.Now() }

// SetTraffic makes g the graph the rules read; rules that need flows run from then on.
func (s *State) SetTraffic(g *flows.Graph) { s.traffic.Store(g) }

// TrafficUpdated reports when the traffic graph was last seen to change, and false before a graph
// is loaded. It backs flowguard_traffic_graph_age_seconds; a graph that stops changing means the
// flow source has gone quiet.
func (s *State) TrafficUpdated() (time.Time, bool) {
	g := s.traffic.Load()
	if g == nil {
		return time.Time{}, false
	}
	s.trafficMu.Lock()
	defer s.trafficMu.Unlock()
	if gen := g.Generation(); g != s.trafficGraph || gen != s.trafficGen {
		s.trafficGraph, s.trafficGen, s.trafficSeen = g, gen, s.clock.Now()
	}
	return s.trafficSeen, true
}

// Apply adds or replaces an object in the cluster model. An object netpol refuses (one the API
// server accepted but whose semantics are invalid, such as a bad Calico selector) is left out and
// reported: the rules must not reason about what Felix will not program either.
func (s *State) Apply(obj runtime.Object) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	err := s.master.Add(obj)
	s.dirty.Store(true)
	return err
}

// Delete removes an object from the cluster model.
func (s *State) Delete(obj runtime.Object) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	err := s.master.Remove(obj)
	s.dirty.Store(true)
	return err
}
