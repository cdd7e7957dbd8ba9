//go:build e2e

package observed

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	clocktesting "k8s.io/utils/clock/testing"
	"sigs.k8s.io/controller-runtime/pkg/cache"

	"github.com/flowguard/flowguard/api/v1alpha1"
	"github.com/flowguard/flowguard/flows"
	"github.com/flowguard/flowguard/test/cluster"
)

type countingLimiter struct{ n atomic.Int64 }

func (l *countingLimiter) Wait(context.Context) error { l.n.Add(1); return nil }

// replica is a graph kept in step with the objects through its own informer, as every
// flowguard pod keeps one.
type replica struct {
	graph   *flows.Graph
	syncer  *Syncer
	applied chan string
}

func startReplica(t *testing.T, c *cluster.Cluster) *replica {
	t.Helper()
	g, err := flows.NewGraph(flows.GraphOptions{Clock: clocktesting.NewFakeClock(now)})
	if err != nil {
		t.Fatal(err)
	}
	r := &replica{graph: g, applied: make(chan string, 1024)}
	r.syncer = &Syncer{Graph: g, Client: c.Client, Clock: clocktesting.NewFakeClock(now),
		Options: ShardOptions{Namespace: "flowguard-system"}, OnApplied: func(k string) { r.applied <- k }}
	ctx, cancel := context.WithCancel(context.Background())
	informers, err := cache.New(c.Config, cache.Options{Scheme: c.Scheme})
	if err != nil {
		t.Fatal(err)
	}
	inf, err := informers.GetInformer(ctx, &v1alpha1.ObservedTraffic{})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.syncer.Register(ctx, inf); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		if err := informers.Start(ctx); err != nil {
			t.Errorf("start informers: %v", err)
		}
		close(done)
	}()
	t.Cleanup(func() { cancel(); <-done })
	if !informers.WaitForCacheSync(ctx) {
		t.Fatal("informer cache did not sync")
	}
	return r
}

// await takes applied events until cond holds; the deadline only stops a hung test.
func (r *replica) await(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.After(60 * time.Second)
	for !cond() {
		select {
		case <-r.applied:
		case <-deadline:
			t.Fatalf("replica never reached: %s", what)
		}
	}
}

// summaryOf renders edges with their totals: what every replica must agree on.
func summaryOf(g *flows.Graph) string {
	var b strings.Builder
	for _, e := range allEdges(g) {
		fmt.Fprintf(&b, "%s -> %s %s/%d %s %s flows=%d bytes=%d first=%d last=%d policies=%v\n", e.Src.String(), e.Dst.String(),
			e.Proto, e.DstPort, e.Action, e.Reporter, e.Flows, e.Bytes, e.FirstSeen.Unix(), e.LastSeen.Unix(), e.Enforced)
	}
	return b.String()
}

func TestSyncerAcrossReplicasAndRestarts(t *testing.T) {
	c := cluster.StartForTest(t, cluster.Options{})
	ctx := context.Background()
	for _, ns := range []string{"shop", "data", "web", "flowguard-system"} {
		if err := c.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
			t.Fatal(err)
		}
	}
	leaderGraph := clusterGraph(t, 120)
	writes := &countingLimiter{}
	leader := &Syncer{Graph: leaderGraph, Client: c.Client, Clock: clocktesting.NewFakeClock(now), Limiter: writes,
		Options: ShardOptions{Namespace: "flowguard-system", MaxObjectBytes: 16 << 10}}
	follower := startReplica(t, c)

	objects := func() []v1alpha1.ObservedTraffic {
		var l v1alpha1.ObservedTrafficList
		if err := c.Client.List(ctx, &l); err != nil {
			t.Fatal(err)
		}
		return l.Items
	}
	inStep := func(r *replica) func() bool {
		return func() bool { return summaryOf(r.graph) == summaryOf(leaderGraph) }
	}

	res, err := leader.sync(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if res.Created < 5 || res.Updated+res.Deleted != 0 {
		t.Fatalf("first cycle: %+v, want several creates at a 16 KiB bound", res)
	}
	follower.await(t, "the leader's traffic", inStep(follower))
	for _, o := range objects() {
		b, _ := json.Marshal(o)
		if len(b) > 16<<10 {
			t.Errorf("%s/%s is %d bytes in the API, over the 16 KiB bound", o.Namespace, o.Name, len(b))
		}
	}

	t.Run("an unchanged graph writes nothing", func(t *testing.T) {
		before := writes.n.Load()
		res, err := leader.sync(ctx)
		if err != nil || res.Created+res.Updated+res.Deleted != 0 || writes.n.Load() != before {
			t.Errorf("second cycle: %+v, %d writes, %v; want none", res, writes.n.Load()-before, err)
		}
	})

	t.Run("new traffic updates only the shards it lands in", func(t *testing.T) {
		r := rec(wl("shop", "app-0-*", "app=app-0", "team=t"), wl("web", "app-1-*", "app=app-1", "team=t"), 8080, now)
		leaderGraph.Add(&r)
		res, err := leader.sync(ctx)
		if err != nil || res.Updated != 1 || res.Created+res.Deleted != 0 {
			t.Fatalf("cycle after one record: %+v, %v; want exactly one update", res, err)
		}
		follower.await(t, "the new record", inStep(follower))
	})

	t.Run("a new cut replaces the old objects and the replica follows", func(t *testing.T) {
		leader.Options.MaxObjectBytes = 0 // the default bound: one object per namespace
		res, err := leader.sync(ctx)
		// flowguard-system's one edge was already in one object; the other three namespaces
		// are re-cut.
		if err != nil || res.Created != 3 || res.Unchanged != 1 || res.Deleted < 3 {
			t.Fatalf("re-cut: %+v, %v; want 3 creates, 1 unchanged and the old shards deleted", res, err)
		}
		follower.await(t, "the re-cut shards", func() bool { return len(follower.graph.Shards()) == 4 && inStep(follower)() })
		if n := len(objects()); n != 4 {
			t.Errorf("%d objects after the re-cut, want 4", n)
		}
	})

	t.Run("a restarted replica starts from the objects", func(t *testing.T) {
		restarted := startReplica(t, c)
		if !restarted.syncer.Seeded() {
			t.Fatal("not seeded after the cache synced")
		}
		restarted.await(t, "the stored traffic", inStep(restarted))
	})

	t.Run("a replica elected after the leader goes carries on without rewriting", func(t *testing.T) {
		next := startReplica(t, c)
		next.await(t, "the stored traffic", inStep(next))
		limiter := &countingLimiter{}
		next.syncer.Limiter = limiter
		step := make(chan struct{})
		next.syncer.Wait = func(ctx context.Context) error {
			step <- struct{}{}
			<-ctx.Done()
			return ctx.Err()
		}
		ctx, cancel := context.WithCancel(ctx)
		done := make(chan error)
		go func() { done <- next.syncer.Start(ctx) }()
		<-step // the first cycle is written
		cancel()
		if err := <-done; err != nil {
			t.Errorf("the new writer stopped with %v, want nil once its context ended", err)
		}
		if n := limiter.n.Load(); n != 0 {
			t.Errorf("the new writer made %d writes of traffic it had read back unchanged", n)
		}
	})

	out, err := c.Kubectl(ctx, "get", "observedtraffics", "-n", "shop")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "EDGES") || !strings.Contains(out, "traffic-0-of-1") {
		t.Errorf("kubectl get shows:\n%s", out)
	}
}
