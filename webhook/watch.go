package webhook

import (
	"context"
	"errors"
	"fmt"

	calicov3 "github.com/projectcalico/api/pkg/apis/projectcalico/v3"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	anp "sigs.k8s.io/network-policy-api/apis/v1alpha1"
	cnp "sigs.k8s.io/network-policy-api/apis/v1alpha2"
)

// The cluster objects the rules reason about, read by every replica.
//
// +kubebuilder:rbac:groups="",resources=namespaces;pods;services;serviceaccounts;replicationcontrollers,verbs=get;list;watch
// +kubebuilder:rbac:groups=apps,resources=deployments;statefulsets;daemonsets;replicasets,verbs=get;list;watch
// +kubebuilder:rbac:groups=batch,resources=jobs;cronjobs,verbs=get;list;watch
// +kubebuilder:rbac:groups=networking.k8s.io,resources=networkpolicies,verbs=get;list;watch
// +kubebuilder:rbac:groups=projectcalico.org,resources=networkpolicies;globalnetworkpolicies;stagednetworkpolicies;stagedglobalnetworkpolicies;stagedkubernetesnetworkpolicies;networksets;globalnetworksets;tiers;hostendpoints,verbs=get;list;watch
// +kubebuilder:rbac:groups=policy.networking.k8s.io,resources=adminnetworkpolicies;baselineadminnetworkpolicies;clusternetworkpolicies,verbs=get;list;watch

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
		&anp.AdminNetworkPolicy{}, &anp.BaselineAdminNetworkPolicy{}, &cnp.ClusterNetworkPolicy{},
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
			if meta.IsNoMatchError(err) && (gvk.Group == calicov3.GroupName || gvk.Group == anp.GroupName) {
				log.Info("Calico or admin policy kind not served; policies of this kind are not seen", "kind", gvk.Kind)
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
		s.mu.Lock()
		s.regs = append(s.regs, reg)
		s.mu.Unlock()
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

// Readiness errors.
var (
	errNotSynced    = errors.New("cluster informers have not synced yet")
	errNotPublished = errors.New("the cluster model has not been published since the informers synced")
)

// Synced reports whether every informer Watch registered has delivered its initial list to the
// cluster model.
func (s *State) Synced() error {
	s.mu.Lock()
	regs := s.regs
	s.mu.Unlock()
	if len(regs) == 0 {
		return errNotSynced
	}
	for _, r := range regs {
		if !r.HasSynced() {
			return errNotSynced
		}
	}
	return nil
}

// Ready is the webhook's readiness check: the informers have synced and Start has published
// (and warmed) the result. A replica that admitted requests before it had seen the policies
// would miss every breaking change.
func (s *State) Ready() error {
	if err := s.Synced(); err != nil {
		return err
	}
	if !s.published.Load() {
		return errNotPublished
	}
	return nil
}
