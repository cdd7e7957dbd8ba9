package app

import (
	"context"
	"errors"
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/rest"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"

	"github.com/flowguard/flowguard/netpol"
	"github.com/flowguard/flowguard/webhook"
)

// clusterSyncTimeout bounds how long `flowguard audit --kubeconfig|--context` waits for its first look at
// the cluster.
const clusterSyncTimeout = 2 * time.Minute

// loadLiveCluster reads the cluster a kubeconfig points at the way the webhook and the auditor
// do: informers over every kind netpol reads (Calico kinds skipped where not served), filled
// once, then frozen into a snapshot.
func loadLiveCluster(ctx context.Context, kubeconfig, kubeContext string) (*netpol.Cluster, error) {
	cfg, err := restConfig(kubeconfig, kubeContext)
	if err != nil {
		return nil, err
	}
	cfg = rest.CopyConfig(cfg)
	cfg.UserAgent = "flowguard-audit"
	scheme, err := webhook.NewScheme()
	if err != nil {
		return nil, err
	}
	httpClient, err := rest.HTTPClientFor(cfg)
	if err != nil {
		return nil, fmt.Errorf("connect to the cluster: %w", err)
	}
	mapper, err := apiutil.NewDynamicRESTMapper(cfg, httpClient)
	if err != nil {
		return nil, fmt.Errorf("discover the cluster's API: %w", err)
	}
	c, err := cache.New(cfg, cache.Options{Scheme: scheme, Mapper: mapper, HTTPClient: httpClient,
		DefaultTransform: cache.TransformStripManagedFields()})
	if err != nil {
		return nil, fmt.Errorf("read the cluster: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, clusterSyncTimeout)
	defer cancel()
	state := webhook.NewState(clock.RealClock{})
	if err := state.Watch(ctx, c, scheme, mapper); err != nil {
		return nil, fmt.Errorf("read the cluster: %w", err)
	}
	started := make(chan error, 1)
	go func() { started <- c.Start(ctx) }()
	if !c.WaitForCacheSync(ctx) {
		return nil, fmt.Errorf("read the cluster: informers did not sync within %s", clusterSyncTimeout)
	}
	// The state's handlers have seen every object once their registrations report synced.
	err = wait.PollUntilContextCancel(ctx, 50*time.Millisecond, true, func(context.Context) (bool, error) {
		return state.Synced() == nil, nil
	})
	if err != nil {
		return nil, fmt.Errorf("read the cluster: %w", errors.Join(err, state.Synced()))
	}
	snapshot := state.Cluster()
	cancel()
	if err := <-started; err != nil && !errors.Is(err, context.Canceled) {
		return nil, fmt.Errorf("read the cluster: %w", err)
	}
	return snapshot, nil
}
