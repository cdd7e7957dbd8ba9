package replica

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
	clocktesting "k8s.io/utils/clock/testing"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
)

// recordLock is a resource lock that keeps the record in memory and can be made to fail.
type recordLock struct {
	identity string
	record   resourcelock.LeaderElectionRecord
	fail     error
}

func (l *recordLock) Get(context.Context) (*resourcelock.LeaderElectionRecord, []byte, error) {
	r := l.record
	return &r, nil, nil
}
func (l *recordLock) Create(_ context.Context, r resourcelock.LeaderElectionRecord) error {
	return l.Update(context.Background(), r)
}
func (l *recordLock) Update(_ context.Context, r resourcelock.LeaderElectionRecord) error {
	if l.fail != nil {
		return l.fail
	}
	l.record = r
	return nil
}
func (l *recordLock) RecordEvent(string) {}
func (l *recordLock) Identity() string   { return l.identity }
func (l *recordLock) Describe() string   { return "flowguard-system/flowguard" }

// The leader's writes go through only while its last renewal is recent enough that no other
// replica can have taken the lease.
func TestFenceRefusesWritesOnceTheLeaseMayHavePassed(t *testing.T) {
	clk := clocktesting.NewFakePassiveClock(time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC))
	lock := &recordLock{identity: "a"}
	refused := prometheus.NewCounter(prometheus.CounterOpts{Name: "refused"})
	f := &fence{Interface: lock, validFor: renewDeadline, refused: refused, clock: clk}
	c := f.client(fake.NewClientBuilder().Build())
	ctx := context.Background()
	n := 0
	write := func() error {
		n++
		cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "flowguard-system", Name: "cm-" + string(rune('a'+n))}}
		if err := c.Create(ctx, cm); err != nil {
			return err
		}
		return c.Delete(ctx, cm)
	}
	renew := func(holder string) {
		t.Helper()
		if err := f.Update(ctx, resourcelock.LeaderElectionRecord{HolderIdentity: holder}); err != nil {
			t.Fatal(err)
		}
	}
	wantFenced := func(step string, err error) {
		t.Helper()
		if !errors.Is(err, errFenced) {
			t.Errorf("%s: write = %v, want it refused by the fence", step, err)
		}
	}

	wantFenced("before the lease was ever held", write())
	renew("a")
	if err := write(); err != nil {
		t.Fatalf("just after renewing: %v", err)
	}
	clk.SetTime(clk.Now().Add(renewDeadline - time.Millisecond))
	if err := write(); err != nil {
		t.Fatalf("within the renew deadline: %v", err)
	}
	// Paused, or unable to renew: another replica may take the lease from now on.
	clk.SetTime(clk.Now().Add(time.Millisecond))
	wantFenced("a renewal as old as the renew deadline", write())

	renew("a")
	lock.fail = errors.New("the API server is away")
	if err := f.Update(ctx, resourcelock.LeaderElectionRecord{HolderIdentity: "a"}); err == nil {
		t.Fatal("a failing lock renewed")
	}
	if err := write(); err != nil {
		t.Fatalf("a failed renewal leaves the last good one in force: %v", err)
	}
	lock.fail = nil
	f.stepDown()
	wantFenced("after the elector stepped down", write())
	renew("a")
	renew("b")
	wantFenced("after the record was written for another holder (released)", write())

	if got := testutil.ToFloat64(refused); got != 4 {
		t.Errorf("refused writes counted = %v, want 4", got)
	}
	var list corev1.ConfigMapList
	if err := c.List(ctx, &list); err != nil || len(list.Items) != 0 {
		t.Errorf("config maps left: %d, %v", len(list.Items), err)
	}
}
