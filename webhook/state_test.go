package webhook

import (
	"context"
	"testing"
	"time"

	calicov3 "github.com/projectcalico/api/pkg/apis/projectcalico/v3"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/flowguard/flowguard/flows"
	"github.com/flowguard/flowguard/netpol"
)

func namespace(name string, labels map[string]string) *corev1.Namespace {
	return &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}}
}

func TestStateSnapshots(t *testing.T) {
	s := NewState(clocktesting.NewFakeClock(time.Unix(0, 0)))
	empty := s.Cluster()
	if s.Cluster() != empty {
		t.Fatal("an unchanged state must hand out the same snapshot, so the engine can reuse what it memoised")
	}

	if err := s.Apply(namespace("shop", map[string]string{"env": "prod"})); err != nil {
		t.Fatal(err)
	}
	withShop := s.Cluster()
	if withShop == empty {
		t.Fatal("a change must produce a new snapshot")
	}
	if got := len(withShop.Namespaces()); got != 1 {
		t.Fatalf("snapshot has %d namespaces, want 1", got)
	}
	if got := len(empty.Namespaces()); got != 0 {
		t.Errorf("an earlier snapshot changed under its reader: %d namespaces", got)
	}

	if err := s.Apply(namespace("shop", map[string]string{"env": "staging"})); err != nil {
		t.Fatal(err)
	}
	if err := s.Apply(namespace("bank", nil)); err != nil {
		t.Fatal(err)
	}
	relabelled := s.Cluster()
	if labels, _ := relabelled.NamespaceLabels("shop"); labels["env"] != "staging" {
		t.Errorf("shop labels = %v, want env=staging", labels)
	}
	if labels, _ := withShop.NamespaceLabels("shop"); labels["env"] != "prod" {
		t.Errorf("the earlier snapshot sees env=%s, want prod", labels["env"])
	}

	if err := s.Delete(namespace("shop", nil)); err != nil {
		t.Fatal(err)
	}
	if got := len(s.Cluster().Namespaces()); got != 1 {
		t.Errorf("after delete: %d namespaces, want 1", got)
	}
}

// An object netpol refuses is reported and left out; the rest of the model is untouched.
func TestStateLeavesOutInvalidObjects(t *testing.T) {
	s := NewState(nil)
	bad := &calicov3.NetworkPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: "bad", Namespace: "shop"},
		Spec:       calicov3.NetworkPolicySpec{Selector: "app =="},
	}
	if err := s.Apply(bad); err == nil {
		t.Fatal("Apply accepted a policy whose selector does not parse")
	}
	if got := len(s.Cluster().Policies()); got != 0 {
		t.Errorf("policies = %d, want 0", got)
	}
}

func TestStateTrafficUpdated(t *testing.T) {
	clk := clocktesting.NewFakeClock(time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC))
	s := NewState(clk)
	if _, ok := s.TrafficUpdated(); ok || s.Traffic() != nil {
		t.Fatal("no graph is loaded yet")
	}
	g, err := flows.NewGraph(flows.GraphOptions{Clock: clk, Retention: -1})
	if err != nil {
		t.Fatal(err)
	}
	s.SetTraffic(g)
	loaded := clk.Now()
	if at, ok := s.TrafficUpdated(); !ok || !at.Equal(loaded) {
		t.Fatalf("TrafficUpdated = %v %v, want %v", at, ok, loaded)
	}

	clk.SetTime(loaded.Add(time.Minute))
	if at, _ := s.TrafficUpdated(); !at.Equal(loaded) {
		t.Errorf("an unchanged graph reports %v, want %v", at, loaded)
	}
	g.Add(&flows.Record{
		Src:     flows.Endpoint{Type: flows.TypeWorkload, Namespace: "shop", Name: "frontend-*"},
		Dst:     flows.Endpoint{Type: flows.TypeWorkload, Namespace: "shop", Name: "api-*"},
		DstPort: 8080, Proto: flows.ProtoTCP, Action: flows.ActionAllow, Reporter: flows.ReporterDst,
		Start: loaded, End: loaded.Add(time.Minute), FlowsStarted: 1,
	})
	if at, _ := s.TrafficUpdated(); !at.Equal(loaded.Add(time.Minute)) {
		t.Errorf("after new records TrafficUpdated = %v, want %v", at, loaded.Add(time.Minute))
	}
}

func TestStateNotReadyBeforeWatching(t *testing.T) {
	s := NewState(nil)
	if s.Synced() == nil || s.Ready() == nil {
		t.Error("a state that watches nothing must not report synced or ready")
	}
}

// Once the publisher takes turns, changes reach the rules in batches, published and warmed in
// the background.
func TestStatePublishesInTheBackground(t *testing.T) {
	s := NewState(nil)
	published := make(chan *netpol.Cluster, 1)
	s.OnPublish(func() { published <- s.snap.Load() })
	ctx := context.Background()
	s.PublishPending(ctx)
	before := s.Cluster()

	if err := s.Apply(namespace("shop", nil)); err != nil {
		t.Fatal(err)
	}
	if err := s.Apply(namespace("bank", nil)); err != nil {
		t.Fatal(err)
	}
	if s.Cluster() != before {
		t.Fatal("a change reached the rules before it was published")
	}
	s.PublishPending(ctx)
	snap := <-published
	if got := len(snap.Namespaces()); got != 2 || s.Cluster() != snap {
		t.Errorf("published snapshot has %d namespaces, want both changes in one batch", got)
	}

	s.PublishPending(ctx)
	select {
	case <-published:
		t.Error("published again without a change")
	default:
	}
}
