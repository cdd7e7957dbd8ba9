package replica

import (
	"context"
)

// loop is the one shape of a replica's background work that is not a controller: it waits for
// its turn (a tick, a change, or a condition polled), then takes one step, until ctx ends or a
// step says it is done. The state publisher, the RegoRule loader, the ingest token watcher and
// the traffic seeder are loops; a step logs its own failures and is tried again at the next turn.
type loop struct {
	// wait blocks until the next step is due; it fails when ctx ends.
	wait func(context.Context) error
	// step does the work of one turn and reports whether the loop is done.
	step func(context.Context) (done bool)
	// leader is true for work only the elected replica does.
	leader bool
}

// Start runs the loop until ctx ends or a step is done.
func (l loop) Start(ctx context.Context) error {
	for l.wait(ctx) == nil {
		if l.step(ctx) {
			return nil
		}
	}
	return nil
}

// NeedLeaderElection tells controller-runtime's manager where the loop runs.
func (l loop) NeedLeaderElection() bool { return l.leader }

// forever is a step that never ends its loop.
func forever(fn func(context.Context)) func(context.Context) bool {
	return func(ctx context.Context) bool { fn(ctx); return false }
}
