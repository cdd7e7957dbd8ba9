package replica

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/flowguard/flowguard/audit"
	"github.com/flowguard/flowguard/audit/regoeval"
	"github.com/flowguard/flowguard/recommend"
	"github.com/flowguard/flowguard/rego"
)

// AuditorOptions configure the scheduled auditor of `flowguard serve`.
type AuditorOptions struct {
	// Deadline bounds the rules' evaluation of one object.
	Deadline time.Duration
	// UserRules returns the RegoRules to audit with beside the built-in library; none when nil.
	UserRules func() []rego.UserRule
	// Clock paces the schedules; the real clock when nil.
	Clock clock.Clock
	// Ready holds runs back until the state's informers have synced (e.g. webhook.State.Synced).
	Ready func() error
	// Registerer takes the auditor's metrics; controller-runtime's registry, which the manager
	// serves, when nil.
	Registerer prometheus.Registerer
}

// AddAuditor adds the auditor to mgr: on the elected leader it runs every AuditSchedule over
// state, the informer-backed cluster and traffic graph the webhook keeps current, and writes its
// reports. Its metrics go to controller-runtime's registry, which the manager serves.
func AddAuditor(mgr manager.Manager, state rego.State, o AuditorOptions) error {
	aud, err := newAuditor(mgr, mgr.GetClient(), state, o)
	if err != nil {
		return err
	}
	if err := mgr.Add(aud); err != nil {
		return fmt.Errorf("add auditor: %w", err)
	}
	return nil
}

// newAuditor returns the auditor over mgr's cache, writing its reports through c.
func newAuditor(mgr manager.Manager, c client.Client, state rego.State, o AuditorOptions) (*audit.Auditor, error) {
	if o.Clock == nil {
		o.Clock = clock.RealClock{}
	}
	if o.Registerer == nil {
		o.Registerer = ctrlmetrics.Registry
	}
	metrics, err := audit.NewMetrics(o.Registerer)
	if err != nil {
		return nil, err
	}
	aud, err := audit.New(audit.Dependencies{
		Client: c, Reader: mgr.GetAPIReader(), Informers: mgr.GetCache(),
		Evaluator: regoeval.NewEvaluator(state, regoeval.Options{Engine: rego.Options{Deadline: o.Deadline}, UserRules: o.UserRules}),
		Clock:     o.Clock, Recorder: mgr.GetEventRecorder("flowguard-auditor"), Metrics: metrics, Ready: o.Ready,
		Recommend: stateRecommender(state),
	})
	if err != nil {
		return nil, err
	}
	return aud, nil
}

// stateRecommender recommends over the same state the rules judge: the cluster snapshot and the
// traffic graph of the moment the run asks.
func stateRecommender(state rego.State) audit.Recommender {
	return func(ctx context.Context, opts recommend.Options) (*recommend.Result, error) {
		graph := state.Traffic()
		if graph == nil {
			return nil, errors.New("no observed traffic is loaded yet")
		}
		return recommend.Recommend(ctx, state.Cluster(), graph, opts)
	}
}
