//go:build e2e

package e2e

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/go-logr/logr/testr"
	"github.com/prometheus/client_golang/prometheus"
	clocktesting "k8s.io/utils/clock/testing"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/flowguard/flowguard/flows"
	"github.com/flowguard/flowguard/replica"
	"github.com/flowguard/flowguard/test/cluster"
	"github.com/flowguard/flowguard/webhook"
)

// startShopAuditor starts a control plane, applies examples/shop with the real kubectl, and runs
// the auditor as `flowguard serve` wires it: the informer-backed State the webhook keeps, the
// shop's flow log as the traffic graph, and a clock standing at now. It returns the cluster
// and the shop's folder; the manager stops when the test ends.
func startShopAuditor(t *testing.T, now time.Time) (*cluster.Cluster, string) {
	t.Helper()
	c := cluster.StartForTest(t, cluster.Options{})
	ctx := t.Context()
	root, err := cluster.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	shop := filepath.Join(root, "examples", "shop")
	if out, err := c.Kubectl(ctx, "apply", "-f", shop); err != nil {
		t.Fatalf("apply examples/shop: %v\n%s", err, out)
	}

	graph, err := flows.NewGraph(flows.GraphOptions{Retention: -1, MaxEdges: -1})
	if err != nil {
		t.Fatal(err)
	}
	if err := flows.NewReader(&flows.Tally{}).ReadPaths(ctx, []string{filepath.Join(shop, "flows.jsonl")}, func(r *flows.Record) error {
		graph.Add(r)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	clock := clocktesting.NewFakeClock(now)
	state := webhook.NewState(clock)
	state.SetTraffic(graph)

	log := testr.New(t)
	mgr, err := manager.New(c.Config, manager.Options{Scheme: c.Scheme, Logger: log,
		Metrics: metricsserver.Options{BindAddress: "0"}, HealthProbeBindAddress: "0"})
	if err != nil {
		t.Fatal(err)
	}
	mctx, cancel := context.WithCancel(logf.IntoContext(context.Background(), log))
	if err := state.Watch(mctx, mgr.GetCache(), c.Scheme, mgr.GetRESTMapper()); err != nil {
		t.Fatal(err)
	}
	if err := replica.AddAuditor(mgr, state, replica.AuditorOptions{Deadline: time.Minute, Clock: clock, Ready: state.Synced,
		Registerer: prometheus.NewRegistry()}); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- mgr.Start(mctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("manager: %v", err)
		}
	})
	return c, shop
}
