package replica

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/flowguard/flowguard/flows/observed"
	"github.com/flowguard/flowguard/rego"
	"github.com/flowguard/flowguard/webhook"
)

// Options configure a replica. They are the values of `flowguard serve`'s flags, which cmd/flowguard
// declares; error messages name the flags.
type Options struct {
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
	// DecisionWorkers and DecisionQueue bound the decisions under way and waiting.
	DecisionWorkers, DecisionQueue int

	// PprofBindAddress serves Go's pprof endpoints when set (off by default: profiles show internals).
	PprofBindAddress string

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

// NewOptions returns the defaults.
func NewOptions() *Options {
	ns := os.Getenv("POD_NAMESPACE")
	if ns == "" {
		ns = "flowguard-system"
	}
	return &Options{
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
		DecisionWorkers:             webhook.DefaultWorkers(),
		DecisionQueue:               webhook.DefaultQueue,
		Lookback:                    rego.DefaultLookback,
		Auditor:                     true,
		GoldmaneWindow:              defaultGoldmaneWindow,
		TrafficSnapshotInterval:     time.Minute,
		ObservedTrafficSyncInterval: observed.DefaultInterval,
		LeaderElect:                 true,
		LeaderElectionID:            "flowguard.flowguard.dev",
	}
}

// Validate reports every problem with the options at once.
func (o *Options) Validate() error {
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
	for flag, addr := range map[string]string{"--metrics-bind-address": o.MetricsBindAddress, "--health-probe-bind-address": o.HealthProbeBindAddress,
		"--pprof-bind-address": o.PprofBindAddress} {
		if addr == "0" && flag == "--metrics-bind-address" || addr == "" && flag == "--pprof-bind-address" {
			continue
		}
		if _, port, err := net.SplitHostPort(addr); err != nil {
			errs = append(errs, fmt.Errorf("%s %q: %w", flag, addr, err))
		} else if _, err := strconv.ParseUint(port, 10, 16); err != nil {
			errs = append(errs, fmt.Errorf("%s %q: port %q is not a number", flag, addr, port))
		}
	}
	if _, err := o.Overrides(); err != nil {
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

func (o *Options) Overrides() (map[string]rego.Action, error) {
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
func (o *Options) Config() webhook.Config {
	cfg := webhook.DefaultConfig(o.Namespace)
	cfg.ExemptNamespaces = []string{o.Namespace}
	for _, ns := range o.ExemptNamespaces {
		if ns = strings.TrimSpace(ns); ns != "" && ns != o.Namespace {
			cfg.ExemptNamespaces = append(cfg.ExemptNamespaces, ns)
		}
	}
	cfg.ExemptLabel = o.ExemptLabel
	cfg.Overrides, _ = o.Overrides()
	cfg.Deadline = o.EvaluationDeadline
	cfg.Workers, cfg.Queue = o.DecisionWorkers, o.DecisionQueue
	cfg.FailClosed = webhook.FailClosed{
		WithoutFlows: o.FailClosedWithoutFlows,
		OnDeadline:   o.FailClosedOnDeadline,
		OnError:      o.FailClosedOnError,
	}
	return cfg
}
