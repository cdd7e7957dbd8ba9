package app

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/flowguard/flowguard/flows/observed"
	"github.com/flowguard/flowguard/rego"
	"github.com/flowguard/flowguard/webhook"
)

// ServeOptions configure `flowguard serve`.
type ServeOptions struct {
	Kubeconfig string
	// Namespace is the namespace flowguard runs in; it is always exempt.
	Namespace string

	WebhookHost string
	WebhookPort int
	CertDir     string
	CertName    string
	KeyName     string
	EnableHTTP2 bool

	MetricsBindAddress     string
	HealthProbeBindAddress string

	ExemptNamespaces []string
	ExemptLabel      string
	// RuleActions are "rule=action" overrides.
	RuleActions []string

	FailClosedWithoutFlows bool
	FailClosedOnDeadline   bool
	FailClosedOnError      bool
	EvaluationDeadline     time.Duration
	Lookback               time.Duration

	// Auditor runs the AuditSchedule auditor on the elected replica.
	Auditor bool

	// Flow sources, read by the elected replica (see serve_traffic.go). GoldmaneAddress turns
	// Goldmane streaming on; GoldmaneCertDir holds tls.crt, tls.key and ca.crt for its mutual
	// TLS; GoldmaneWindow is Goldmane's AGGREGATION_WINDOW.
	GoldmaneAddress string
	GoldmaneCertDir string
	GoldmaneWindow  time.Duration
	// IngestTokenFile turns the HTTP flow ingest on at IngestPath, accepting this bearer token.
	IngestTokenFile string
	// FlowLogs are Calico flow-log files to follow.
	FlowLogs []string

	// TrafficSnapshot is a traffic graph snapshot file loaded at start and, when its folder is
	// writable, saved every TrafficSnapshotInterval and at shutdown.
	TrafficSnapshot         string
	TrafficSnapshotInterval time.Duration

	// ObservedTrafficNamespace holds the shards of traffic neither end of which is namespaced
	// (default Namespace); ObservedTrafficSyncInterval paces the elected replica's writes.
	ObservedTrafficNamespace    string
	ObservedTrafficSyncInterval time.Duration

	LeaderElect             bool
	LeaderElectionID        string
	LeaderElectionNamespace string

	// Registry takes every metric flowguard defines; nil means controller-runtime's registry,
	// which the metrics endpoint serves. Tests running several servers in one process give each
	// its own.
	Registry prometheus.Registerer
}

// NewServeOptions returns the defaults.
func NewServeOptions() *ServeOptions {
	ns := os.Getenv("POD_NAMESPACE")
	if ns == "" {
		ns = "flowguard-system"
	}
	return &ServeOptions{
		Namespace:                   ns,
		WebhookPort:                 9443,
		CertDir:                     "/tmp/k8s-webhook-server/serving-certs",
		CertName:                    "tls.crt",
		KeyName:                     "tls.key",
		MetricsBindAddress:          ":8080",
		HealthProbeBindAddress:      ":8081",
		ExemptNamespaces:            []string{"kube-system"},
		ExemptLabel:                 webhook.DefaultExemptLabel,
		EvaluationDeadline:          webhook.DefaultDeadline,
		Lookback:                    rego.DefaultLookback,
		Auditor:                     true,
		GoldmaneWindow:              defaultGoldmaneWindow,
		TrafficSnapshotInterval:     time.Minute,
		ObservedTrafficSyncInterval: observed.DefaultInterval,
		LeaderElect:                 true,
		LeaderElectionID:            "flowguard.flowguard.dev",
	}
}

// AddFlags registers the serve flags.
func (o *ServeOptions) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.Kubeconfig, "kubeconfig", o.Kubeconfig, "kubeconfig file; empty means in-cluster configuration or $KUBECONFIG")
	fs.StringVar(&o.Namespace, "namespace", o.Namespace, "namespace flowguard runs in ($POD_NAMESPACE when set); always exempt from the rules")
	fs.StringVar(&o.WebhookHost, "webhook-host", o.WebhookHost, "address the webhook listens on; empty means every interface")
	fs.IntVar(&o.WebhookPort, "webhook-port", o.WebhookPort, "port of the webhook's TLS endpoint")
	fs.StringVar(&o.CertDir, "cert-dir", o.CertDir, "folder holding the serving certificate and key; reloaded when they change")
	fs.StringVar(&o.CertName, "cert-name", o.CertName, "serving certificate file name in --cert-dir")
	fs.StringVar(&o.KeyName, "key-name", o.KeyName, "serving key file name in --cert-dir")
	fs.BoolVar(&o.EnableHTTP2, "enable-http2", o.EnableHTTP2, "serve the webhook over HTTP/2 as well (off: HTTP/2 rapid reset, CVE-2023-44487)")
	fs.StringVar(&o.MetricsBindAddress, "metrics-bind-address", o.MetricsBindAddress, `address of the Prometheus metrics endpoint; "0" turns it off`)
	fs.StringVar(&o.HealthProbeBindAddress, "health-probe-bind-address", o.HealthProbeBindAddress, "address of /healthz and /readyz")
	fs.StringSliceVar(&o.ExemptNamespaces, "exempt-namespaces", o.ExemptNamespaces, "namespaces the rules never evaluate (--namespace is always added)")
	fs.StringVar(&o.ExemptLabel, "exempt-label", o.ExemptLabel, `label that exempts an object when its value is "true"; empty turns object exemptions off`)
	fs.StringArrayVar(&o.RuleActions, "rule-action", o.RuleActions, "override a rule's enforcement action, as RULE=deny|warn|dryrun (repeatable)")
	fs.BoolVar(&o.FailClosedWithoutFlows, "fail-closed-without-flows", o.FailClosedWithoutFlows, "refuse changes a deny rule cannot check while the traffic graph is not loaded (default: admit with a warning)")
	fs.BoolVar(&o.FailClosedOnDeadline, "fail-closed-on-deadline", o.FailClosedOnDeadline, "refuse changes whose decision passes --evaluation-deadline (default: admit with a warning)")
	fs.BoolVar(&o.FailClosedOnError, "fail-closed-on-error", o.FailClosedOnError, "refuse changes when rules fail to evaluate or the handler panics (default: admit with a warning)")
	fs.DurationVar(&o.EvaluationDeadline, "evaluation-deadline", o.EvaluationDeadline, "time allowed for one admission decision; keep it well under the webhook's timeoutSeconds")
	fs.DurationVar(&o.Lookback, "lookback", o.Lookback, "window of observed traffic the rules consider")
	fs.BoolVar(&o.Auditor, "auditor", o.Auditor, "run the AuditSchedule auditor on the elected replica")
	fs.StringVar(&o.GoldmaneAddress, "goldmane-address", o.GoldmaneAddress, "Goldmane's gRPC address, e.g. goldmane.calico-system.svc:7443; the elected replica streams flows from it (empty: off)")
	fs.StringVar(&o.GoldmaneCertDir, "goldmane-cert-dir", o.GoldmaneCertDir, "folder holding tls.crt and tls.key (flowguard's client certificate) and ca.crt (Goldmane's CA) for mutual TLS; re-read when they change")
	fs.DurationVar(&o.GoldmaneWindow, "goldmane-aggregation-window", o.GoldmaneWindow, "Goldmane's AGGREGATION_WINDOW (whole seconds)")
	fs.StringVar(&o.IngestTokenFile, "ingest-token-file", o.IngestTokenFile, "file holding the bearer token of the HTTP flow ingest at "+IngestPath+" on the webhook's TLS port; re-read when it changes (empty: off)")
	fs.StringArrayVar(&o.FlowLogs, "flow-log", o.FlowLogs, "Calico flow-log file to follow on the elected replica, across rotation (repeatable)")
	fs.StringVar(&o.TrafficSnapshot, "traffic-snapshot", o.TrafficSnapshot, "traffic graph snapshot file: loaded at start and, when its folder is writable, saved periodically and at shutdown")
	fs.DurationVar(&o.TrafficSnapshotInterval, "traffic-snapshot-interval", o.TrafficSnapshotInterval, "how often --traffic-snapshot is saved")
	fs.StringVar(&o.ObservedTrafficNamespace, "observed-traffic-namespace", o.ObservedTrafficNamespace, "namespace of the ObservedTraffic shards of traffic between endpoints without a namespace (default --namespace)")
	fs.DurationVar(&o.ObservedTrafficSyncInterval, "observed-traffic-sync-interval", o.ObservedTrafficSyncInterval, "how often the elected replica writes learned traffic to ObservedTraffic; other replicas see it this much later at most, plus the write time")
	fs.BoolVar(&o.LeaderElect, "leader-elect", o.LeaderElect, "elect a leader for the singleton roles; the webhook serves on every replica regardless")
	fs.StringVar(&o.LeaderElectionID, "leader-election-id", o.LeaderElectionID, "name of the leader election Lease")
	fs.StringVar(&o.LeaderElectionNamespace, "leader-election-namespace", o.LeaderElectionNamespace, "namespace of the leader election Lease (default --namespace)")
}

// Validate reports every problem with the options at once.
func (o *ServeOptions) Validate() error {
	var errs []error
	for _, msg := range validation.IsDNS1123Label(o.Namespace) {
		errs = append(errs, fmt.Errorf("--namespace %q: %s", o.Namespace, msg))
	}
	if o.WebhookPort < 1 || o.WebhookPort > 65535 {
		errs = append(errs, fmt.Errorf("--webhook-port %d: must be between 1 and 65535", o.WebhookPort))
	}
	if o.CertDir == "" {
		errs = append(errs, errors.New("--cert-dir: must be set"))
	}
	for flag, addr := range map[string]string{"--metrics-bind-address": o.MetricsBindAddress, "--health-probe-bind-address": o.HealthProbeBindAddress} {
		if addr == "0" && flag == "--metrics-bind-address" {
			continue
		}
		if _, port, err := net.SplitHostPort(addr); err != nil {
			errs = append(errs, fmt.Errorf("%s %q: %w", flag, addr, err))
		} else if _, err := strconv.ParseUint(port, 10, 16); err != nil {
			errs = append(errs, fmt.Errorf("%s %q: port %q is not a number", flag, addr, port))
		}
	}
	if _, err := o.overrides(); err != nil {
		errs = append(errs, err)
	}
	if o.Lookback <= 0 {
		errs = append(errs, fmt.Errorf("--lookback %s: must be positive", o.Lookback))
	}
	if o.LeaderElect && o.LeaderElectionID == "" {
		errs = append(errs, errors.New("--leader-election-id: must be set with --leader-elect"))
	}
	errs = append(errs, o.validateTraffic()...)
	if len(errs) == 0 {
		if err := o.Config().Validate(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (o *ServeOptions) overrides() (map[string]rego.Action, error) {
	out := map[string]rego.Action{}
	var errs []error
	for _, ra := range o.RuleActions {
		rule, action, ok := strings.Cut(ra, "=")
		if !ok || rule == "" {
			errs = append(errs, fmt.Errorf("--rule-action %q: want RULE=ACTION", ra))
			continue
		}
		switch a := rego.Action(action); a {
		case rego.ActionDeny, rego.ActionWarn, rego.ActionDryRun:
			out[rule] = a
		default:
			errs = append(errs, fmt.Errorf("--rule-action %q: action %q is not one of deny, warn, dryrun", ra, action))
		}
	}
	return out, errors.Join(errs...)
}

// Config is the webhook configuration the options describe.
func (o *ServeOptions) Config() webhook.Config {
	cfg := webhook.DefaultConfig(o.Namespace)
	cfg.ExemptNamespaces = []string{o.Namespace}
	for _, ns := range o.ExemptNamespaces {
		if ns = strings.TrimSpace(ns); ns != "" && ns != o.Namespace {
			cfg.ExemptNamespaces = append(cfg.ExemptNamespaces, ns)
		}
	}
	cfg.ExemptLabel = o.ExemptLabel
	cfg.Overrides, _ = o.overrides()
	cfg.Deadline = o.EvaluationDeadline
	cfg.FailClosed = webhook.FailClosed{
		WithoutFlows: o.FailClosedWithoutFlows,
		OnDeadline:   o.FailClosedOnDeadline,
		OnError:      o.FailClosedOnError,
	}
	return cfg
}

func newServeCommand(logOpts *LogOptions) *cobra.Command {
	o := NewServeOptions()
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the admission webhook, the auditor and flow ingestion",
		Long: `Run flowguard in the cluster. Every replica serves the validating admission webhook (a TLS
endpoint the API server calls for policies, sets, tiers, namespace labels, workloads and
RegoRules) and reads the traffic learned so far from ObservedTraffic objects. The elected
replica also runs the AuditSchedule auditor and ingests flows (Goldmane, HTTP ingest, flow-log
files), writing what it learns to ObservedTraffic. Health probes and Prometheus metrics on every
replica; certificates and the ingest token are re-read when they rotate.`,
		Args: cobra.NoArgs,
		// Validation is separate from running so that the chart's tests can check the
		// arguments it renders against these very flags.
		PreRunE: func(*cobra.Command, []string) error {
			if err := o.Validate(); err != nil {
				return badInput(err)
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, _ []string) error {
			log := logOpts.Logger(cmd.ErrOrStderr())
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return RunServe(logr.NewContext(ctx, log), o)
		},
	}
	o.AddFlags(cmd.Flags())
	return cmd
}

// RunServe runs flowguard serve until ctx ends. The logger comes from ctx.
func RunServe(ctx context.Context, o *ServeOptions) error {
	log := logf.FromContext(ctx)
	// controller-runtime's own components (webhook server, manager) log through its
	// process-wide logger; give it ours so nothing is lost or printed in another format.
	ctrl.SetLogger(log)
	reg := o.Registry
	if reg == nil {
		reg = ctrlmetrics.Registry
	}

	restCfg, err := restConfig(o.Kubeconfig)
	if err != nil {
		return err
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
	if err := mgr.Add(state); err != nil {
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
	if err := mgr.Add(rules); err != nil {
		return fmt.Errorf("add RegoRule loader: %w", err)
	}
	statuses := webhook.NewRuleStatusWriter(mgr.GetClient(), nil)
	if err := statuses.Watch(ctx, mgr.GetCache()); err != nil {
		return err
	}
	if err := mgr.Add(statuses); err != nil {
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

func (o *ServeOptions) electionNamespace() string {
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

func restConfig(kubeconfig string) (*rest.Config, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = kubeconfig
	cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{}).ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("load Kubernetes client configuration: %w", err)
	}
	return cfg, nil
}
