package app

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/go-logr/logr"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/flowguard/flowguard/replica"
)

// ServeOptions are the flags of `flowguard serve`: a replica's options.
type ServeOptions struct {
	replica.Options
}

// NewServeOptions returns the defaults.
func NewServeOptions() *ServeOptions {
	return &ServeOptions{Options: *replica.NewOptions()}
}

// AddFlags registers the serve flags.
func (o *ServeOptions) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.Kubeconfig, "kubeconfig", o.Kubeconfig, "kubeconfig file; empty means in-cluster configuration or $KUBECONFIG")
	fs.StringVar(&o.Namespace, "namespace", o.Namespace, "namespace flowguard runs in; always exempt from the rules")
	// Defaults read from the environment are described, not printed: help and docs/cli.md say
	// the same on every machine.
	fs.Lookup("namespace").DefValue = "$POD_NAMESPACE, or flowguard-system"
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
	fs.BoolVar(&o.FailClosedOnDeadline, "fail-closed-on-deadline", o.FailClosedOnDeadline, "refuse changes whose decision passes --evaluation-deadline or finds every worker and queue place taken (default: admit with a warning)")
	fs.BoolVar(&o.FailClosedOnError, "fail-closed-on-error", o.FailClosedOnError, "refuse changes when rules fail to evaluate or the handler panics (default: admit with a warning)")
	fs.IntVar(&o.DecisionWorkers, "decision-workers", o.DecisionWorkers, "admission decisions evaluated at once")
	fs.Lookup("decision-workers").DefValue = "twice the processors, at least 4"
	fs.IntVar(&o.DecisionQueue, "decision-queue", o.DecisionQueue, "admission decisions that may wait for a worker; past it a request is answered at once as a decision past its deadline is (see --fail-closed-on-deadline)")
	fs.StringVar(&o.PprofBindAddress, "pprof-bind-address", o.PprofBindAddress, `address of Go's pprof endpoints under /debug/pprof/, e.g. "127.0.0.1:6060"; empty turns them off`)
	fs.DurationVar(&o.EvaluationDeadline, "evaluation-deadline", o.EvaluationDeadline, "time allowed for one admission decision; keep it well under the webhook's timeoutSeconds")
	fs.DurationVar(&o.Lookback, "lookback", o.Lookback, "window of observed traffic the rules consider")
	fs.BoolVar(&o.Auditor, "auditor", o.Auditor, "run the AuditSchedule auditor on the elected replica")
	fs.StringVar(&o.GoldmaneAddress, "goldmane-address", o.GoldmaneAddress, "Goldmane's gRPC address, e.g. goldmane.calico-system.svc:7443; the elected replica streams flows from it (empty: off)")
	fs.StringVar(&o.GoldmaneCertDir, "goldmane-cert-dir", o.GoldmaneCertDir, "folder holding tls.crt and tls.key (flowguard's client certificate) and ca.crt (Goldmane's CA) for mutual TLS; re-read when they change")
	fs.DurationVar(&o.GoldmaneWindow, "goldmane-aggregation-window", o.GoldmaneWindow, "Goldmane's AGGREGATION_WINDOW (whole seconds)")
	fs.StringVar(&o.IngestTokenFile, "ingest-token-file", o.IngestTokenFile, "file holding the bearer token of the HTTP flow ingest at "+replica.IngestPath+" on the webhook's TLS port; re-read when it changes (empty: off)")
	fs.StringArrayVar(&o.FlowLogs, "flow-log", o.FlowLogs, "Calico flow-log file to follow on the elected replica, across rotation (repeatable)")
	fs.StringVar(&o.TrafficSnapshot, "traffic-snapshot", o.TrafficSnapshot, "traffic graph snapshot file: loaded at start and, when its folder is writable, saved periodically and at shutdown")
	fs.DurationVar(&o.TrafficSnapshotInterval, "traffic-snapshot-interval", o.TrafficSnapshotInterval, "how often --traffic-snapshot is saved")
	fs.StringVar(&o.ObservedTrafficNamespace, "observed-traffic-namespace", o.ObservedTrafficNamespace, "namespace of the ObservedTraffic shards of traffic between endpoints without a namespace (default --namespace)")
	fs.DurationVar(&o.ObservedTrafficSyncInterval, "observed-traffic-sync-interval", o.ObservedTrafficSyncInterval, "how often the elected replica writes learned traffic to ObservedTraffic; other replicas see it this much later at most, plus the write time")
	fs.BoolVar(&o.LeaderElect, "leader-elect", o.LeaderElect, "elect a leader for the singleton roles; the webhook serves on every replica regardless")
	fs.StringVar(&o.LeaderElectionID, "leader-election-id", o.LeaderElectionID, "name of the leader election Lease")
	fs.StringVar(&o.LeaderElectionNamespace, "leader-election-namespace", o.LeaderElectionNamespace, "namespace of the leader election Lease (default --namespace)")
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
	restCfg, err := restConfig(o.Kubeconfig, "")
	if err != nil {
		return err
	}
	return replica.Run(ctx, restCfg, &o.Options)
}

// restConfig loads the client configuration as kubectl does: kubeconfig when given, else
// $KUBECONFIG, else ~/.kube/config (or the in-cluster configuration), in kubeContext when given,
// else the current context.
func restConfig(kubeconfig, kubeContext string) (*rest.Config, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = kubeconfig
	cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{CurrentContext: kubeContext}).ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("load Kubernetes client configuration: %w", err)
	}
	return cfg, nil
}
