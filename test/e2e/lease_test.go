//go:build e2e

package e2e

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	networkingv1 "k8s.io/api/networking/v1"

	"github.com/flowguard/flowguard/test/cluster"
)

// The webhook outlives the leader election lease: another holder takes the Lease through the API
// server while reviews stream in; flowguard stops its leader's work, keeps answering every
// review, and campaigns again when the intruder's lease expires.
func TestAdmissionOutlivesTheLease(t *testing.T) {
	c := cluster.StartForTest(t, cluster.Options{})
	ctx := t.Context()
	if _, err := c.KubectlStdin(ctx, webhookCluster, "apply", "-f", "-"); err != nil {
		t.Fatal(err)
	}
	const leaseName = "flowguard-e2e-lease"
	fg := startFlowguard(t, c, "--traffic-snapshot="+observedFlows(t, time.Now()),
		"--leader-elect=true", "--leader-election-id="+leaseName)
	fg.waitForWebhook(t, allowAllIngress("shop", "probe", ""), "[allow-all]")
	key := types.NamespacedName{Namespace: flowguardNamespace, Name: leaseName}
	holder := func() string {
		var l coordinationv1.Lease
		if err := c.Client.Get(ctx, key, &l); err != nil {
			return ""
		}
		return ptr.Deref(l.Spec.HolderIdentity, "")
	}
	awaitTerms := func(n float64) {
		t.Helper()
		err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 90*time.Second, true, func(context.Context) (bool, error) {
			return fg.metric(t, "flowguard_leader_terms_total") == n && fg.metric(t, "flowguard_traffic_leader") == 1, nil
		})
		if err != nil {
			t.Fatalf("flowguard did not begin term %v as the leader (holder %q):\n%s", n, holder(), fg.logs.String())
		}
	}
	awaitTerms(1)
	identity := holder()
	if identity == "" {
		t.Fatal("the Lease names no holder")
	}

	// Reviews that must be refused: failurePolicy Ignore would admit them if flowguard failed.
	var policy networkingv1.NetworkPolicy
	if err := yaml.UnmarshalStrict([]byte(`
metadata: {name: frontend-dns-only, namespace: web}
spec:
  podSelector: {matchLabels: {app: frontend}}
  policyTypes: [Egress]
  egress: [{ports: [{port: 53, protocol: UDP}]}]
`), &policy); err != nil {
		t.Fatal(err)
	}
	var reviews, failed atomic.Int64
	var lastFailure atomic.Value
	loadCtx, stopLoad := context.WithCancel(ctx)
	var load sync.WaitGroup
	for range 4 {
		load.Go(func() {
			for loadCtx.Err() == nil {
				err := c.Client.Create(loadCtx, policy.DeepCopy(), client.DryRunAll)
				if loadCtx.Err() != nil {
					return
				}
				reviews.Add(1)
				if err == nil || !strings.Contains(err.Error(), "[breaking-change]") {
					failed.Add(1)
					lastFailure.Store(err)
				}
			}
		})
	}

	// Another holder takes the Lease, as a replica would that saw it expire.
	var l coordinationv1.Lease
	if err := c.Client.Get(ctx, key, &l); err != nil {
		t.Fatal(err)
	}
	l.Spec.HolderIdentity = ptr.To("intruder")
	l.Spec.LeaseDurationSeconds = ptr.To[int32](15)
	l.Spec.AcquireTime = &metav1.MicroTime{Time: time.Now()}
	l.Spec.RenewTime = &metav1.MicroTime{Time: time.Now()}
	l.Spec.LeaseTransitions = ptr.To(ptr.Deref(l.Spec.LeaseTransitions, 0) + 1)
	if err := c.Client.Update(ctx, &l); err != nil {
		t.Fatalf("take the Lease: %v", err)
	}
	err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 30*time.Second, true, func(context.Context) (bool, error) {
		return fg.metric(t, "flowguard_traffic_leader") == 0, nil
	})
	if err != nil {
		t.Fatalf("flowguard kept leading after losing the Lease:\n%s", fg.logs.String())
	}
	// The intruder never renews: flowguard takes the Lease back once it expires.
	awaitTerms(2)
	stopLoad()
	load.Wait()

	if got := holder(); got != identity {
		t.Errorf("Lease holder = %q, want flowguard's %q back", got, identity)
	}
	if reviews.Load() < 20 {
		t.Errorf("only %d reviews were made under the change of leader", reviews.Load())
	}
	if n := failed.Load(); n != 0 {
		t.Errorf("%d of %d reviews were not refused by flowguard; last: %v", n, reviews.Load(), lastFailure.Load())
	}
	t.Logf("%d reviews across the lost and regained lease, none failed", reviews.Load())
}
