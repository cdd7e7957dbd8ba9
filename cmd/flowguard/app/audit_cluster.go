package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/rest"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"

	"github.com/flowguard/flowguard/api/v1alpha1"
	"github.com/flowguard/flowguard/netpol"
	"github.com/flowguard/flowguard/rego/rulefile"
	"github.com/flowguard/flowguard/webhook"
)

// clusterSyncTimeout bounds how long `flowguard audit --kubeconfig|--context` waits for its first look at
// the cluster.
const clusterSyncTimeout = 2 * time.Minute

// liveCluster is what an audit reads from a cluster: its state and the RegoRules in force there.
type liveCluster struct {
	cluster *netpol.Cluster
	rules   rulefile.Set
	// noRuleKind is true when the cluster does not serve RegoRules (flowguard's CRDs are not
	// installed): only the built-in rules run.
	noRuleKind bool
}

// loadLiveCluster reads the cluster a kubeconfig points at the way the webhook and the auditor
// do: informers over every kind netpol reads (Calico kinds skipped where not served), filled
// once, then frozen into a snapshot; and its RegoRules, which the auditor runs beside the
// built-in rules.
func loadLiveCluster(ctx context.Context, kubeconfig, kubeContext string) (liveCluster, error) {
	var live liveCluster
	cfg, err := restConfig(kubeconfig, kubeContext)
	if err != nil {
		return live, err
	}
	cfg = rest.CopyConfig(cfg)
	cfg.UserAgent = "flowguard-audit"
	scheme, err := webhook.NewScheme()
	if err != nil {
		return live, err
	}
	httpClient, err := rest.HTTPClientFor(cfg)
	if err != nil {
		return live, fmt.Errorf("connect to the cluster: %w", err)
	}
	mapper, err := apiutil.NewDynamicRESTMapper(cfg, httpClient)
	if err != nil {
		return live, fmt.Errorf("discover the cluster's API: %w", err)
	}
	if live.rules, live.noRuleKind, err = listRegoRules(ctx, cfg, httpClient, scheme, mapper); err != nil {
		return live, err
	}
	c, err := cache.New(cfg, cache.Options{Scheme: scheme, Mapper: mapper, HTTPClient: httpClient,
		DefaultTransform: cache.TransformStripManagedFields()})
	if err != nil {
		return live, fmt.Errorf("read the cluster: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, clusterSyncTimeout)
	defer cancel()
	state := webhook.NewState(clock.RealClock{})
	if err := state.Watch(ctx, c, scheme, mapper); err != nil {
		return live, fmt.Errorf("read the cluster: %w", err)
	}
	started := make(chan error, 1)
	go func() { started <- c.Start(ctx) }()
	if !c.WaitForCacheSync(ctx) {
		return live, fmt.Errorf("read the cluster: informers did not sync within %s", clusterSyncTimeout)
	}
	// The state's handlers have seen every object once their registrations report synced.
	err = wait.PollUntilContextCancel(ctx, 50*time.Millisecond, true, func(context.Context) (bool, error) {
		return state.Synced() == nil, nil
	})
	if err != nil {
		return live, fmt.Errorf("read the cluster: %w", errors.Join(err, state.Synced()))
	}
	live.cluster = state.Cluster()
	cancel()
	if err := <-started; err != nil && !errors.Is(err, context.Canceled) {
		return live, fmt.Errorf("read the cluster: %w", err)
	}
	return live, nil
}

// listRegoRules lists the cluster's RegoRules once. A cluster that does not serve the kind has
// none, which the caller says.
func listRegoRules(ctx context.Context, cfg *rest.Config, httpClient *http.Client, scheme *runtime.Scheme, mapper meta.RESTMapper) (rulefile.Set, bool, error) {
	cl, err := client.New(cfg, client.Options{HTTPClient: httpClient, Scheme: scheme, Mapper: mapper})
	if err != nil {
		return nil, false, fmt.Errorf("connect to the cluster: %w", err)
	}
	var list v1alpha1.RegoRuleList
	switch err := cl.List(ctx, &list); {
	case meta.IsNoMatchError(err):
		return nil, true, nil
	case err != nil:
		return nil, false, fmt.Errorf("list the cluster's RegoRules: %w", err)
	}
	set, err := rulefile.FromCluster(list.Items)
	if err != nil {
		return nil, false, badInput(err)
	}
	return set, false, nil
}

// withRules is the cluster's RegoRules with those of --rules over them: a rule of --rules
// replaces the cluster's rule of its name, so that an edited rule can be tried on the live
// cluster. It says on stderr what the audit runs that the cluster's auditor would not.
func (l liveCluster) withRules(given rulefile.Set, stderr io.Writer) rulefile.Set {
	if l.noRuleKind {
		fmt.Fprintln(stderr, "note: the cluster serves no RegoRules (flowguard's CRDs are not installed); the built-in rules run")
	}
	out := slices.Clone(given)
	for _, r := range l.rules {
		if slices.ContainsFunc(given, func(g rulefile.Rule) bool { return g.Name == r.Name }) {
			fmt.Fprintf(stderr, "note: RegoRule %s of --rules replaces the cluster's\n", r.Name)
			continue
		}
		out = append(out, r)
	}
	return out
}
