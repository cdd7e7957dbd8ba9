package flows

import (
	"context"
	"time"

	"k8s.io/utils/clock"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
)

// SnapshotSaver writes the graph to a file periodically and once more when stopped, so that a
// restarted process can LoadFile what it had learned. Its Start has the shape of a
// controller-runtime Runnable.
type SnapshotSaver struct {
	Graph *Graph
	Path  string
	// Wait blocks until the next save; nil means every minute on the real clock.
	Wait func(ctx context.Context) error
}

// Start saves on every Wait until ctx ends, then saves a last time. A failed save is logged and
// retried at the next tick: the previous snapshot stays in place (SaveFile is atomic).
func (s *SnapshotSaver) Start(ctx context.Context) error {
	wait := s.Wait
	if wait == nil {
		wait = PollEvery(clock.RealClock{}, time.Minute)
	}
	log := logf.FromContext(ctx).WithValues("path", s.Path)
	saved := uint64(0)
	save := func() {
		gen := s.Graph.Generation()
		if gen == saved {
			return // nothing changed since the last save
		}
		if err := s.Graph.SaveFile(s.Path); err != nil {
			log.Error(err, "Saving the traffic graph failed; will retry")
			return
		}
		saved = gen
	}
	for wait(ctx) == nil {
		save()
	}
	save()
	return nil
}
