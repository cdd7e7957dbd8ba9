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
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/source"

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
		Scheme:                 scheme,
		Logger:                 log,
		Metrics:                metricsserver.Options{BindAddress: o.MetricsBindAddress},
		HealthProbeBindAddress: o.HealthProbeBindAddress,
		PprofBindAddress:       o.PprofBindAddress,
		WebhookServer:          srv,
		// No election in the manager: it would stop the whole process, webhook and all, when
		// the lease is lost. The lease below stops only the leader's work.
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
	lease, err := newLease(restCfg, mgr, o, reg)
	if err != nil {
		return err
	}
	if err := addTraffic(ctx, mgr, lease, o, state, reg); err != nil {
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
	defer handler.Close()
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
	lease.add(ruleStatuses(mgr.GetCache(), webhook.NewRuleStatusWriter(lease.client, nil)))
	if o.Auditor {
		aud, err := newAuditor(mgr, lease.client, state, AuditorOptions{Deadline: auditDeadline, UserRules: userRules.current,
			Ready: state.Synced, Registerer: reg})
		if err != nil {
			return err
		}
		lease.add(runnable(aud))
	}
	if err := mgr.Add(lease); err != nil {
		return fmt.Errorf("add leader election: %w", err)
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

// ruleStatuses runs the RegoRule status writer as a controller for one term of the lease: a
// controller cannot be started twice, so each term builds its own over the shared cache. (The
// event handler each term adds to the RegoRule informer stays, enqueueing into a stopped queue,
// which drops it: a few bytes per lost lease.)
func ruleStatuses(c cache.Cache, w *webhook.RuleStatusWriter) leaderWork {
	return func(stop, _ context.Context) error {
		ctl, err := controller.NewUnmanaged("regorule-status", controller.Options{Reconciler: w,
			// Names are unique per process by default; terms and test replicas repeat this one.
			SkipNameValidation: ptr.To(true)})
		if err != nil {
			return fmt.Errorf("RegoRule status writer: %w", err)
		}
		// Its own status writes do not change the generation, so they do not come back to it.
		err = ctl.Watch(source.Kind(c, &v1alpha1.RegoRule{}, &handler.TypedEnqueueRequestForObject[*v1alpha1.RegoRule]{},
			predicate.TypedGenerationChangedPredicate[*v1alpha1.RegoRule]{}))
		if err != nil {
			return fmt.Errorf("RegoRule status writer: %w", err)
		}
		return ctl.Start(stop)
	}
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
