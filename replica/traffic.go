package replica

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/utils/clock"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/manager"

	"github.com/flowguard/flowguard/api/v1alpha1"
	"github.com/flowguard/flowguard/flows"
	"github.com/flowguard/flowguard/flows/goldmane"
	"github.com/flowguard/flowguard/flows/observed"
	"github.com/flowguard/flowguard/webhook"
)

// How learned traffic moves through `flowguard serve`:
//
//   - every replica keeps one traffic graph, the one its rules read. It is filled from the
//     ObservedTraffic shards through an informer (observed.Syncer's reader) and handed to the
//     webhook's State once the shards present at start are applied; until then rules that need
//     flows are skipped, per the webhook's degraded mode. A --traffic-snapshot, if any, is loaded
//     first; the shards replace what it holds for the edges they carry.
//   - the elected replica (trafficLeader) also ingests: Goldmane, the HTTP ingest, flow-log files.
//     It starts only once the shards are applied, so that they never replace records it counted,
//     and it writes its graph back to the shards every --observed-traffic-sync-interval.
//   - other replicas refuse HTTP ingest with 503 (ingestGate): records they kept would never
//     reach the shards, and the next shard update would overwrite them.

// Defaults and pacing of the traffic pipeline.
const (
	defaultGoldmaneWindow = 15 * time.Second
	// flowLogPoll is how often followed flow logs are checked for new lines; Felix flushes
	// them every few seconds at most.
	flowLogPoll = time.Second
	// finalSyncTimeout bounds the last write of a stepping-down leader, within the manager's
	// 30-second graceful shutdown.
	finalSyncTimeout = 20 * time.Second
)

func (o *Options) validateTraffic() []error {
	var errs []error
	switch {
	case o.GoldmaneAddress != "" && o.GoldmaneCertDir == "":
		errs = append(errs, errors.New("--goldmane-cert-dir: must be set with --goldmane-address (Goldmane requires mutual TLS)"))
	case o.GoldmaneAddress == "" && o.GoldmaneCertDir != "":
		errs = append(errs, errors.New("--goldmane-cert-dir: set without --goldmane-address"))
	}
	if o.GoldmaneWindow < time.Second || o.GoldmaneWindow%time.Second != 0 {
		errs = append(errs, fmt.Errorf("--goldmane-aggregation-window %s: must be a whole number of seconds", o.GoldmaneWindow))
	}
	for _, p := range o.FlowLogs {
		if strings.TrimSpace(p) == "" {
			errs = append(errs, errors.New("--flow-log: must not be empty"))
		}
	}
	if o.TrafficSnapshotInterval <= 0 {
		errs = append(errs, fmt.Errorf("--traffic-snapshot-interval %s: must be positive", o.TrafficSnapshotInterval))
	}
	if o.ObservedTrafficSyncInterval <= 0 {
		errs = append(errs, fmt.Errorf("--observed-traffic-sync-interval %s: must be positive", o.ObservedTrafficSyncInterval))
	}
	if ns := o.ObservedTrafficNamespace; ns != "" {
		for _, msg := range validation.IsDNS1123Label(ns) {
			errs = append(errs, fmt.Errorf("--observed-traffic-namespace %q: %s", ns, msg))
		}
	}
	return errs
}

func (o *Options) observedTrafficNamespace() string {
	if o.ObservedTrafficNamespace != "" {
		return o.ObservedTrafficNamespace
	}
	return o.Namespace
}

// addTraffic builds the traffic graph, its readers and writers and the flow sources, and adds
// them to mgr and, what only the leader runs, to lease; state's rules read the graph once it is seeded.
func addTraffic(ctx context.Context, mgr manager.Manager, lease *lease, o *Options, state *webhook.State, reg prometheus.Registerer) error {
	log := logf.FromContext(ctx)
	graph, err := flows.NewGraph(flows.GraphOptions{})
	if err != nil {
		return err
	}
	flowMetrics, err := flows.NewMetrics(reg)
	if err != nil {
		return err
	}
	if err := flows.RegisterGraphMetrics(reg, graph); err != nil {
		return err
	}
	leader := &trafficLeader{graph: graph, clock: clock.RealClock{}, interval: o.ObservedTrafficSyncInterval,
		flowLogs: o.FlowLogs, fileObserver: flowMetrics.Observer("file"), goldmaneObserver: flowMetrics.Observer("goldmane")}
	if leader.metrics, err = newTrafficMetrics(reg, leader.goldmaneStats); err != nil {
		return err
	}

	if o.TrafficSnapshot != "" {
		loaded, writable, err := loadSnapshot(graph, o.TrafficSnapshot)
		if err != nil {
			return err
		}
		if loaded {
			// What this pod learned before is better than nothing while the shards are read.
			state.SetTraffic(graph)
			log.Info("Traffic graph snapshot loaded", "path", o.TrafficSnapshot, "edges", graph.Stats().Edges)
		}
		if writable {
			saver := &flows.SnapshotSaver{Graph: graph, Path: o.TrafficSnapshot, Wait: flows.PollEvery(leader.clock, o.TrafficSnapshotInterval)}
			if err := mgr.Add(everyReplica{saver}); err != nil {
				return fmt.Errorf("add traffic snapshot saver: %w", err)
			}
		} else {
			log.Info("Traffic graph snapshot folder is not writable; the snapshot is only read", "path", o.TrafficSnapshot)
		}
	}

	leader.syncer = &observed.Syncer{
		Graph: graph, Client: lease.client,
		Options:   observed.ShardOptions{Namespace: o.observedTrafficNamespace()},
		OnApplied: func(string) { leader.metrics.shardsApplied.Inc() },
		OnSynced:  leader.synced,
		Wait:      leader.waitCycle,
	}
	informer, err := mgr.GetCache().GetInformer(ctx, &v1alpha1.ObservedTraffic{})
	if err != nil {
		return fmt.Errorf("watch ObservedTraffic: %w", err)
	}
	if err := leader.syncer.Register(ctx, informer); err != nil {
		return err
	}
	seeder := &trafficSeeder{syncer: leader.syncer, state: state, graph: graph, seeded: leader.metrics.seeded}
	if err := mgr.Add(loop{wait: flows.PollEvery(leader.clock, seedPoll), step: seeder.seed}); err != nil {
		return fmt.Errorf("add traffic seeder: %w", err)
	}

	if o.GoldmaneAddress != "" {
		for _, f := range []string{"tls.crt", "tls.key", "ca.crt"} {
			if _, err := os.Stat(filepath.Join(o.GoldmaneCertDir, f)); err != nil {
				return fmt.Errorf("--goldmane-cert-dir: %w", err)
			}
		}
		leader.goldmane = &goldmane.Options{
			Address:  o.GoldmaneAddress,
			CAFile:   filepath.Join(o.GoldmaneCertDir, "ca.crt"),
			CertFile: filepath.Join(o.GoldmaneCertDir, "tls.crt"),
			KeyFile:  filepath.Join(o.GoldmaneCertDir, "tls.key"),
			Interval: o.GoldmaneWindow,
		}
		leader.resume = &goldmaneResume{reader: mgr.GetAPIReader(), writer: lease.client,
			key: types.NamespacedName{Namespace: o.electionNamespace(), Name: o.LeaderElectionID + "-goldmane"}}
	}
	if o.IngestTokenFile != "" {
		if err := leader.addIngest(mgr, o.IngestTokenFile, flowMetrics); err != nil {
			return err
		}
	}
	lease.add(leader.lead)
	return nil
}

// loadSnapshot merges the snapshot at path into g, if there is one, and reports whether its
// folder is writable, so that the graph can be saved there. A missing file is the first start
// of a writable location; in a read-only one it is a mistake.
func loadSnapshot(g *flows.Graph, path string) (loaded, writable bool, err error) {
	writable = dirWritable(filepath.Dir(path))
	switch err := g.LoadFile(path); {
	case err == nil:
		return true, writable, nil
	case errors.Is(err, fs.ErrNotExist) && writable:
		return false, true, nil
	default:
		return false, writable, fmt.Errorf("--traffic-snapshot: %w", err)
	}
}

func dirWritable(dir string) bool {
	f, err := os.CreateTemp(dir, ".flowguard-write-check-*")
	if err != nil {
		return false
	}
	f.Close()
	return os.Remove(f.Name()) == nil
}

// everyReplica runs a Runnable on every replica rather than on the leader only, which is
// controller-runtime's default for Runnables that do not say.
type everyReplica struct{ manager.Runnable }

func (everyReplica) NeedLeaderElection() bool { return false }

// seedPoll is how often the traffic seeder looks whether the shards present at start are read.
const seedPoll = 100 * time.Millisecond

// trafficSeeder hands the graph to the rules once the shards present at start are in it.
type trafficSeeder struct {
	syncer *observed.Syncer
	state  *webhook.State
	graph  *flows.Graph
	seeded prometheus.Gauge
}

// seed is the seeder's loop step: done once the shards are read and the graph handed over.
func (s *trafficSeeder) seed(ctx context.Context) bool {
	if !s.syncer.Seeded() {
		return false
	}
	s.state.SetTraffic(s.graph)
	s.seeded.Set(1)
	logf.FromContext(ctx).Info("Learned traffic loaded from ObservedTraffic", "edges", s.graph.Stats().Edges)
	return true
}
