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
	"syscall"
	"time"

	"github.com/go-logr/logr"
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

	"github.com/flowguard/flowguard/flows"
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

	// TrafficSnapshot is a traffic graph snapshot file to load at start.
	TrafficSnapshot string

	LeaderElect             bool
	LeaderElectionID        string
	LeaderElectionNamespace string
}

// NewServeOptions returns the defaults.
func NewServeOptions() *ServeOptions {
	ns := os.Getenv("POD_NAMESPACE")
	if ns == "" {
		ns = "flowguard-system"
	}
	return &ServeOptions{
		Namespace:              ns,
		WebhookPort:            9443,
		CertDir:                "/tmp/k8s-webhook-server/serving-certs",
		CertName:               "tls.crt",
		KeyName:                "tls.key",
		MetricsBindAddress:     ":8080",
		HealthProbeBindAddress: ":8081",
		ExemptNamespaces:       []string{"kube-system"},
		ExemptLabel:            webhook.DefaultExemptLabel,
		EvaluationDeadline:     webhook.DefaultDeadline,
		Lookback:               rego.DefaultLookback,
		LeaderElect:            true,
		LeaderElectionID:       "flowguard.flowguard.dev",
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
	fs.StringVar(&o.TrafficSnapshot, "traffic-snapshot", o.TrafficSnapshot, "traffic graph snapshot file to load at start, as flowguard's flow ingestion writes it")
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
		Short: "Run the validating admission webhook",
		Long: `Run flowguard's validating admission webhook: a TLS endpoint the API server calls for
policies, sets, tiers, namespace labels, workloads and RegoRules, with health probes and
Prometheus metrics. Certificates are re-read when they rotate.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.Validate(); err != nil {
				return badInput(err)
			}
			log := logOpts.Logger(cmd.ErrOrStderr())
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return RunServe(logr.NewContext(ctx, log), o)
		},
	}
	o.AddFlags(cmd.Flags())
	return cmd
}

// RunServe runs the webhook until ctx ends. The logger comes from ctx.
func RunServe(ctx context.Context, o *ServeOptions) error {
	log := logf.FromContext(ctx)
	// controller-runtime's own components (webhook server, manager) log through its
	// process-wide logger; give it ours so nothing is lost or printed in another format.
	ctrl.SetLogger(log)

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
	electionNS := o.LeaderElectionNamespace
	if electionNS == "" {
		electionNS = o.Namespace
	}
	mgr, err := ctrl.NewManager(restCfg, ctrl.Options{
		Scheme:                        scheme,
		Logger:                        log,
		Metrics:                       metricsserver.Options{BindAddress: o.MetricsBindAddress},
		HealthProbeBindAddress:        o.HealthProbeBindAddress,
		WebhookServer:                 srv,
		LeaderElection:                o.LeaderElect,
		LeaderElectionID:              o.LeaderElectionID,
		LeaderElectionNamespace:       electionNS,
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
	if o.TrafficSnapshot != "" {
		g, err := flows.NewGraph(flows.GraphOptions{})
		if err != nil {
			return err
		}
		if err := g.LoadFile(o.TrafficSnapshot); err != nil {
			return fmt.Errorf("load --traffic-snapshot: %w", err)
		}
		state.SetTraffic(g)
		log.Info("Traffic graph loaded", "path", o.TrafficSnapshot, "edges", g.Stats().Edges)
	}
	engine, err := rego.NewEngine(state, rego.Options{Deadline: o.EvaluationDeadline, Lookback: o.Lookback})
	if err != nil {
		return fmt.Errorf("start rule engine: %w", err)
	}
	// Each published snapshot of the cluster is warmed before requests read it.
	state.OnPublish(engine.Warm)
	if err := mgr.Add(state); err != nil {
		return fmt.Errorf("add cluster state publisher: %w", err)
	}
	metrics, err := webhook.NewMetrics(ctrlmetrics.Registry, time.Now, state.TrafficUpdated)
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
	rules := webhook.NewRuleLoader(engine, mgr.GetCache())
	if err := rules.Watch(ctx, mgr.GetCache()); err != nil {
		return err
	}
	if err := mgr.Add(rules); err != nil {
		return fmt.Errorf("add RegoRule loader: %w", err)
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
	log.Info("Starting webhook", "port", o.WebhookPort, "exemptNamespaces", o.Config().ExemptNamespaces)
	if err := mgr.Start(ctx); err != nil {
		return fmt.Errorf("run manager: %w", err)
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
