package recommend

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/util/validation"
)

// Style is the kind of policies recommended.
type Style string

const (
	// StyleKubernetes writes networking.k8s.io/v1 NetworkPolicies.
	StyleKubernetes Style = "k8s"
	// StyleCalicoStaged writes projectcalico.org/v3 StagedNetworkPolicies, one per namespace.
	StyleCalicoStaged Style = "calico-staged"
)

// Styles lists the styles, for help texts and validation.
var Styles = []Style{StyleKubernetes, StyleCalicoStaged}

// Defaults of Options.
const (
	// DefaultTier is the tier of StyleCalicoStaged policies, as Calico's recommender names it.
	DefaultTier = "namespace-isolation"
	// DefaultTierOrder places the tier after kube-admin (1,000) and before default
	// (1,000,000), so the namespace isolation decides before ordinary policies.
	DefaultTierOrder = 10_000
	// DefaultMinObservation is one daily cycle: nightly jobs and backups must have had a chance
	// to show their traffic before anything leaves "learning".
	DefaultMinObservation = 24 * time.Hour
	// DefaultStabilizationPeriod asks for a full day without a new connection before a
	// recommendation is called stable.
	DefaultStabilizationPeriod = 24 * time.Hour
	// DefaultDNSNamespace and DefaultDNSLabels locate cluster DNS: CoreDNS keeps kube-dns's
	// k8s-app label so that the kube-dns Service keeps selecting it.
	DefaultDNSNamespace = "kube-system"
)

// DefaultDNSLabels are the pod labels of cluster DNS.
var DefaultDNSLabels = map[string]string{"k8s-app": "kube-dns"}

// DefaultSkipNamespacePrefixes are the namespaces no policy is recommended for by default
// (traffic to and from them is still allowed where observed): the system namespaces Calico's
// recommender also leaves alone, where a default deny can take down the cluster.
var DefaultSkipNamespacePrefixes = []string{"kube-", "calico-", "tigera-"}

// Options control a recommendation. The zero value gives the Kubernetes style with the
// defaults above, evaluated at the latest time the graph saw traffic.
type Options struct {
	Style Style
	// Tier is the tier of StyleCalicoStaged policies; TierOrder its order.
	Tier      string
	TierOrder float64
	// At is "now" for the lifecycle states. Zero means the latest last seen in the graph, so
	// that the same graph always gives the same output.
	At time.Time
	// Since, when set, ignores traffic before it (an auditor's lookback window); the graph's
	// buckets are whole, so the window starts at the bucket holding Since.
	Since time.Time
	// MinObservation and StabilizationPeriod drive the lifecycle states (see the package
	// documentation); zero means the defaults, negative is invalid.
	MinObservation      time.Duration
	StabilizationPeriod time.Duration
	// Namespaces, when not empty, are the only namespaces to recommend policies for; otherwise
	// every namespace of the cluster model except those starting with SkipNamespacePrefixes.
	Namespaces []string
	// SkipNamespacePrefixes replaces DefaultSkipNamespacePrefixes when not nil (an empty,
	// non-nil slice skips nothing).
	SkipNamespacePrefixes []string
	// DNS is where cluster DNS runs; nil means the defaults. Disable with DNS.Disabled.
	DNS *DNS
	// VolatileLabels are extra label keys (or prefixes ending in "/") never used to select
	// pods, on top of netpol.VolatileLabels.
	VolatileLabels []string
	// ManagedBy is the value of the app.kubernetes.io/managed-by label on every object;
	// empty means "flowguard".
	ManagedBy string
}

// DNS locates cluster DNS, to which every recommended namespace keeps egress on UDP and TCP
// port 53 (a default deny egress would otherwise break name resolution).
type DNS struct {
	Disabled  bool
	Namespace string
	// Labels select the DNS pods in Namespace.
	Labels map[string]string
}

// withDefaults returns the options with zero values replaced by the defaults.
func (o Options) withDefaults() Options {
	if o.Style == "" {
		o.Style = StyleKubernetes
	}
	if o.Tier == "" {
		o.Tier = DefaultTier
	}
	if o.TierOrder == 0 {
		o.TierOrder = DefaultTierOrder
	}
	if o.MinObservation == 0 {
		o.MinObservation = DefaultMinObservation
	}
	if o.StabilizationPeriod == 0 {
		o.StabilizationPeriod = DefaultStabilizationPeriod
	}
	if o.SkipNamespacePrefixes == nil {
		o.SkipNamespacePrefixes = DefaultSkipNamespacePrefixes
	}
	if o.DNS == nil {
		o.DNS = &DNS{Namespace: DefaultDNSNamespace, Labels: maps.Clone(DefaultDNSLabels)}
	}
	if o.ManagedBy == "" {
		o.ManagedBy = "flowguard"
	}
	return o
}

// Validate reports every problem with the options at once.
func (o Options) Validate() error {
	var errs []error
	if o.Style != "" && !slices.Contains(Styles, o.Style) {
		errs = append(errs, fmt.Errorf("style %q: must be one of %s", o.Style, joinStyles()))
	}
	if o.Tier != "" {
		for _, msg := range validation.IsDNS1123Label(o.Tier) {
			errs = append(errs, fmt.Errorf("tier %q: %s", o.Tier, msg))
		}
	}
	if o.MinObservation < 0 {
		errs = append(errs, fmt.Errorf("minimum observation window %s: must not be negative", o.MinObservation))
	}
	if o.StabilizationPeriod < 0 {
		errs = append(errs, fmt.Errorf("stabilization period %s: must not be negative", o.StabilizationPeriod))
	}
	for _, ns := range o.Namespaces {
		for _, msg := range validation.IsDNS1123Label(ns) {
			errs = append(errs, fmt.Errorf("namespace %q: %s", ns, msg))
		}
	}
	if d := o.DNS; d != nil && !d.Disabled {
		if d.Namespace == "" || len(d.Labels) == 0 {
			errs = append(errs, errors.New("dns: a namespace and pod labels are required unless disabled"))
		}
		for k, v := range d.Labels {
			for _, msg := range append(validation.IsQualifiedName(k), validation.IsValidLabelValue(v)...) {
				errs = append(errs, fmt.Errorf("dns label %s=%s: %s", k, v, msg))
			}
		}
	}
	return errors.Join(errs...)
}

func joinStyles() string {
	s := make([]string, len(Styles))
	for i, st := range Styles {
		s[i] = string(st)
	}
	return strings.Join(s, ", ")
}

// inScope reports whether policies are recommended for namespace ns.
func (o *Options) inScope(ns string) bool {
	if len(o.Namespaces) > 0 {
		return slices.Contains(o.Namespaces, ns)
	}
	for _, p := range o.SkipNamespacePrefixes {
		if strings.HasPrefix(ns, p) {
			return false
		}
	}
	return true
}
