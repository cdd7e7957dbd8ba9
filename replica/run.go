package replica

import (
	"context"
	"fmt"
	"net/http"
	"sync/atomic"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/utils/clock"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	"github.com/flowguard/flowguard/api/v1alpha1"
	"github.com/flowguard/flowguard/flows"
	"github.com/flowguard/flowguard/rego"
	"github.com/flowguard/flowguard/webhook"
)

// Run runs the replica against the cluster restCfg points at until ctx ends. The logger comes
// from ctx.
func Run(ctx context.Context, restCfg *rest.Config, o *Options) error {
	log := logf.FromContext(ctx)
	// controller-runtime's own components (webhook server, manager) log through its
	// process-wide logger; give it ours so nothing is lost or printed in another format.
	ctrl.SetLogger(log)
	reg := o.Registry
	if reg == nil {
		reg = ctrlmetrics.Registry
	}

	scheme, err := webhook.NewScheme()
	if err != nil {
		return err
	}
	srv, certs, err := webhook.NewServer(webhook.ServerOptions{
		Host: o.WebhookHost, Port: o.WebhookPort, CertDir: o.CertDir, CertName: o.CertName, KeyName: o.KeyName,
		EnableHTTP2: o.EnableHTTP2,
	}, log)
	if err != nil {
		return err
	}
	mgr, err := ctrl.NewManager(restCfg, ctrl.Options{
		Scheme:                        scheme,
		Logger:                        log,
		Metrics:                       metricsserver.Options{BindAddress: o.MetricsBindAddress},
		HealthProbeBindAddress:        o.HealthProbeBindAddress,
		WebhookServer:                 srv,
		LeaderElection:                o.LeaderElect,
		LeaderElectionID:              o.LeaderElectionID,
		LeaderElectionNamespace:       o.electionNamespace(),
		LeaderElectionReleaseOnCancel: true,
		// managedFields are a large share of every cached object and nothing reads them.
		Cache: cache.Options{DefaultTransform: cache.TransformStripManagedFields()},
	})
	if err != nil {
		return fmt.Errorf("create manager: %w", err)
	}
	if err := mgr.Add(certs); err != nil {
		return fmt.Errorf("add certificate watcher: %w", err)
	}

	state := webhook.NewState(clock.RealClock{})
	engine, err := rego.NewEngine(state, rego.Options{Deadline: o.EvaluationDeadline, Lookback: o.Lookback})
	if err != nil {
		return fmt.Errorf("start rule engine: %w", err)
	}
	// Each published snapshot of the cluster is warmed before requests read it.
	state.OnPublish(engine.Warm)
	publisher := loop{wait: flows.PollEvery(clock.RealClock{}, webhook.DefaultPublishEvery), step: forever(state.PublishPending)}
	if err := mgr.Add(publisher); err != nil {
		return fmt.Errorf("add cluster state publisher: %w", err)
	}
	if err := addTraffic(ctx, mgr, o, state, reg); err != nil {
		return err
	}
	metrics, err := webhook.NewMetrics(reg, time.Now, state.TrafficUpdated)
	if err != nil {
		return err
	}
	handler, err := webhook.NewHandler(webhook.Options{Decider: engine, Config: o.Config(), Metrics: metrics})
	if err != nil {
		return err
	}
	// The manager runs the server only once it has been asked for it.
	webhook.Register(mgr.GetWebhookServer(), handler, log)

	if err := state.Watch(ctx, mgr.GetCache(), scheme, mgr.GetRESTMapper()); err != nil {
		return err
	}
	userRules := &userRuleSet{engine: engine}
	rules := webhook.NewRuleLoader(userRules, mgr.GetCache())
	if err := rules.Watch(ctx, mgr.GetCache()); err != nil {
		return err
	}
	if err := mgr.Add(loop{wait: rules.WaitForChange, step: forever(rules.Load)}); err != nil {
		return fmt.Errorf("add RegoRule loader: %w", err)
	}
	err = ctrl.NewControllerManagedBy(mgr).Named("regorule-status").
		For(&v1alpha1.RegoRule{}, builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		// Names are unique per process by default; tests run several replicas in one.
		WithOptions(controller.Options{SkipNameValidation: ptr.To(true)}).
		Complete(webhook.NewRuleStatusWriter(mgr.GetClient(), nil))
	if err != nil {
		return fmt.Errorf("add RegoRule status writer: %w", err)
	}
	if o.Auditor {
		if err := AddAuditor(mgr, state, AuditorOptions{Deadline: auditDeadline, UserRules: userRules.current,
			Ready: state.Synced, Registerer: reg}); err != nil {
			return err
		}
	}

	checks := []struct {
		name  string
		check healthz.Checker
	}{
		{"webhook", srv.StartedChecker()},
		{"informers", func(*http.Request) error { return state.Ready() }},
		{"regorules", func(*http.Request) error { return rules.Loaded() }},
	}
	if err := mgr.AddHealthzCheck("ping", healthz.Ping); err != nil {
		return fmt.Errorf("add health check: %w", err)
	}
	for _, c := range checks {
		if err := mgr.AddReadyzCheck(c.name, c.check); err != nil {
			return fmt.Errorf("add readiness check %s: %w", c.name, err)
		}
	}
	log.Info("Starting flowguard", "port", o.WebhookPort, "exemptNamespaces", o.Config().ExemptNamespaces,
		"auditor", o.Auditor, "goldmane", o.GoldmaneAddress, "ingest", o.IngestTokenFile != "", "flowLogs", o.FlowLogs)
	if err := mgr.Start(ctx); err != nil {
		return fmt.Errorf("run manager: %w", err)
	}
	return nil
}

// auditDeadline bounds the rules' evaluation of one object in a scheduled audit, as
// `flowguard audit --timeout` does offline.
const auditDeadline = 30 * time.Second

func (o *Options) electionNamespace() string {
	if o.LeaderElectionNamespace != "" {
		return o.LeaderElectionNamespace
	}
	return o.Namespace
}

// userRuleSet hands the RegoRules the loader compiled to the admission engine and keeps them
// for the auditor, which builds engines of its own.
type userRuleSet struct {
	engine *rego.Engine
	rules  atomic.Pointer[[]rego.UserRule]
}

func (u *userRuleSet) SetUserRuleSet(rules []rego.UserRule) error {
	u.rules.Store(&rules)
	return u.engine.SetUserRuleSet(rules)
}

func (u *userRuleSet) current() []rego.UserRule {
	if p := u.rules.Load(); p != nil {
		return *p
	}
	return nil
}
