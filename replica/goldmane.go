package replica

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// The resume point lives in flowguard's own namespace, beside the leader election Lease.
//
// +kubebuilder:rbac:groups="",namespace=flowguard-system,resources=configmaps,verbs=get;create;update

// goldmaneResumeKey is the ConfigMap key holding the resume point, in RFC 3339.
const goldmaneResumeKey = "watermark"

// goldmaneResume keeps in a ConfigMap the end of the newest Goldmane window whose flows the
// ObservedTraffic shards hold, so that the next leader streams from there (see trafficLeader).
type goldmaneResume struct {
	// reader reads the ConfigMap from the API server: a cached read would start an informer
	// over every ConfigMap in the cluster, for one object.
	reader client.Reader
	writer client.Client
	key    types.NamespacedName
	// saved is the value last read or written, so an unchanged point is not written again.
	saved time.Time
}

// load returns the saved resume point, or the zero time when none was saved.
func (r *goldmaneResume) load(ctx context.Context) (time.Time, error) {
	var cm corev1.ConfigMap
	if err := r.reader.Get(ctx, r.key, &cm); err != nil {
		if apierrors.IsNotFound(err) {
			return time.Time{}, nil
		}
		return time.Time{}, fmt.Errorf("read ConfigMap %s: %w", r.key, err)
	}
	raw, ok := cm.Data[goldmaneResumeKey]
	if !ok {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339, raw)
	if err != nil {
		return time.Time{}, fmt.Errorf("read ConfigMap %s: data.%s: %w", r.key, goldmaneResumeKey, err)
	}
	r.saved = t
	return t, nil
}

// save records t, creating the ConfigMap on first use.
func (r *goldmaneResume) save(ctx context.Context, t time.Time) error {
	if t.Equal(r.saved) {
		return nil
	}
	value := t.UTC().Format(time.RFC3339)
	var cm corev1.ConfigMap
	err := r.reader.Get(ctx, r.key, &cm)
	switch {
	case apierrors.IsNotFound(err):
		cm = corev1.ConfigMap{
			ObjectMeta: metav1.ObjectMeta{Namespace: r.key.Namespace, Name: r.key.Name,
				Labels: map[string]string{"app.kubernetes.io/managed-by": "flowguard"}},
			Data: map[string]string{goldmaneResumeKey: value},
		}
		err = r.writer.Create(ctx, &cm)
	case err == nil:
		if cm.Data == nil {
			cm.Data = map[string]string{}
		}
		cm.Data[goldmaneResumeKey] = value
		err = r.writer.Update(ctx, &cm)
	}
	if err != nil {
		return fmt.Errorf("write ConfigMap %s: %w", r.key, err)
	}
	r.saved = t
	return nil
}
