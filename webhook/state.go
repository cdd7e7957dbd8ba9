package webhook

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	calicov3 "github.com/projectcalico/api/pkg/apis/projectcalico/v3"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	toolscache "k8s.io/client-go/tools/cache"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/flowguard/flowguard/flows"
	"github.com/flowguard/flowguard/netpol"
	"github.com/flowguard/flowguard/rego"
)

// The cluster objects the rules reason about, read by every replica.
//
// +kubebuilder:rbac:groups="",resources=namespaces;pods;services;serviceaccounts;replicationcontrollers,verbs=get;list;watch
// +kubebuilder:rbac:groups=apps,resources=deployments;statefulsets;daemonsets;replicasets,verbs=get;list;watch
// +kubebuilder:rbac:groups=batch,resources=jobs;cronjobs,verbs=get;list;watch
// +kubebuilder:rbac:groups=networking.k8s.io,resources=networkpolicies,verbs=get;list;watch
// +kubebuilder:rbac:groups=projectcalico.org,resources=networkpolicies;globalnetworkpolicies;stagednetworkpolicies;stagedglobalnetworkpolicies;stagedkubernetesnetworkpolicies;networksets;globalnetworksets;tiers;hostendpoints,verbs=get;list;watch

// State is what the rules read at admission: a netpol.Cluster kept current by informers and the
// traffic graph flowguard has learned. It implements rego.State.
//
// Informer events mutate a private cluster under a lock; readers get an immutable snapshot,
// cloned (copy-on-write, so cheaply) at most once per batch of changes, and the same pointer
// while nothing changed so that the engine can reuse what it memoised for it.
type State struct {
	clock clock.PassiveClock

	mu     sync.Mutex
	master *netpol.Cluster
	dirty  atomic.Bool
	snap   atomic.Pointer[netpol.Cluster]

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
func NewState(clk clock.PassiveClock) *State {
	if clk == nil {
		clk = clock.RealClock{}
	}
	s := &State{clock: clk, master: netpol.NewCluster()}
	s.snap.Store(s.master.Clone())
	return s
}

// Cluster returns the current snapshot of the cluster.
func (s *State) Cluster() *netpol.Cluster {
	if !s.dirty.Load() {
		return s.snap.Load()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.dirty.Load() {
		s.snap.Store(s.master.Clone())
		s.dirty.Store(false)
	}
	return s.snap.Load()
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

// watchedKinds are the objects netpol reads, in the order they are watched.
func watchedKinds() []client.Object {
	return []client.Object{
		&corev1.Namespace{}, &corev1.Pod{}, &corev1.Service{}, &corev1.ServiceAccount{}, &corev1.ReplicationController{},
		&appsv1.Deployment{}, &appsv1.StatefulSet{}, &appsv1.DaemonSet{}, &appsv1.ReplicaSet{},
		&batchv1.Job{}, &batchv1.CronJob{},
		&networkingv1.NetworkPolicy{},
		&calicov3.NetworkPolicy{}, &calicov3.GlobalNetworkPolicy{}, &calicov3.StagedNetworkPolicy{},
		&calicov3.StagedGlobalNetworkPolicy{}, &calicov3.StagedKubernetesNetworkPolicy{},
		&calicov3.NetworkSet{}, &calicov3.GlobalNetworkSet{}, &calicov3.Tier{}, &calicov3.HostEndpoint{},
	}
}

// Watch registers informers for every kind netpol reads with c. Calico kinds the API server
// does not serve (Calico not installed, or its v3 API not served as CRDs) are skipped and
// logged: their informers would never sync and readiness would never come.
func (s *State) Watch(ctx context.Context, c cache.Cache, scheme *runtime.Scheme, mapper meta.RESTMapper) error {
	log := logf.FromContext(ctx)
	for _, obj := range watchedKinds() {
		gvk, err := apiutil.GVKForObject(obj, scheme)
		if err != nil {
			return fmt.Errorf("watch cluster objects: %w", err)
		}
		if _, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version); err != nil {
			if meta.IsNoMatchError(err) && gvk.Group == calicov3.GroupName {
				log.Info("Calico kind not served; policies of this kind are not seen", "kind", gvk.Kind)
				continue
			}
			return fmt.Errorf("watch %s: %w", gvk, err)
		}
		inf, err := c.GetInformer(ctx, obj)
		if err != nil {
			return fmt.Errorf("watch %s: %w", gvk, err)
		}
		reg, err := inf.AddEventHandler(s.handler(ctx, gvk.Kind))
		if err != nil {
			return fmt.Errorf("watch %s: %w", gvk, err)
		}
		s.regs = append(s.regs, reg)
	}
	return nil
}

func (s *State) handler(ctx context.Context, kind string) toolscache.ResourceEventHandler {
	log := logf.FromContext(ctx).WithValues("kind", kind)
	apply := func(obj any) {
		o, ok := obj.(runtime.Object)
		if !ok {
			return
		}
		if err := s.Apply(o); err != nil {
			log.V(1).Info("Object left out of the cluster model", "error", err.Error())
		}
	}
	return toolscache.ResourceEventHandlerFuncs{
		AddFunc:    apply,
		UpdateFunc: func(_, obj any) { apply(obj) },
		DeleteFunc: func(obj any) {
			if tomb, ok := obj.(toolscache.DeletedFinalStateUnknown); ok {
				obj = tomb.Obj
			}
			if o, ok := obj.(runtime.Object); ok {
				if err := s.Delete(o); err != nil {
					log.V(1).Info("Object not removed from the cluster model", "error", err.Error())
				}
			}
		},
	}
}

// errNotSynced is what the readiness check reports until every informer has listed.
var errNotSynced = errors.New("cluster informers have not synced yet")

// Synced reports whether every informer Watch registered has delivered its initial list. It is
// the readiness check: a replica that admits requests before it has seen the policies would
// miss every breaking change.
func (s *State) Synced() error {
	if len(s.regs) == 0 {
		return errNotSynced
	}
	for _, r := range s.regs {
		if !r.HasSynced() {
			return errNotSynced
		}
	}
	return nil
}
