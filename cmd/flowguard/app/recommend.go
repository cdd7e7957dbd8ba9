package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/flowguard/flowguard/audit/regoeval"
	"github.com/flowguard/flowguard/flows"
	"github.com/flowguard/flowguard/recommend"
)

// RecommendOptions are the flags of `flowguard recommend`.
type RecommendOptions struct {
	Flows               []string
	Files               []string
	Recursive           bool
	Style               string
	At                  string
	Output              string
	Tier                string
	Namespaces          []string
	MinObservation      time.Duration
	StabilizationPeriod time.Duration
	// MaxListed caps the unresolved flows and notes listed on stderr (all are counted).
	MaxListed int

	at time.Time
}

// AddFlags registers the flags.
func (o *RecommendOptions) AddFlags(fs *pflag.FlagSet) {
	fs.StringSliceVar(&o.Flows, "flows", nil, "observed traffic: Calico flow-log files or folders (plain or gzip, rotated sets oldest first)")
	fs.StringSliceVarP(&o.Files, "filename", "f", nil, "cluster state: manifest files or folders with the namespaces, workloads and network sets (YAML or JSON, multi-document, Lists); - reads standard input")
	addRecursiveFlag(fs, &o.Recursive)
	fs.StringVar(&o.Style, "style", string(recommend.StyleKubernetes), "policies to write: k8s (NetworkPolicies) or calico-staged (StagedNetworkPolicies in a tier)")
	fs.StringVar(&o.At, "at", "", "time the lifecycle states are computed for (RFC 3339); default: the newest flow record, so the same flows give the same output")
	fs.StringVarP(&o.Output, "output", "o", "yaml", "output format: yaml (a multi-document stream) or json (a v1 List); both apply with kubectl")
	fs.StringVar(&o.Tier, "tier", recommend.DefaultTier, "tier of calico-staged policies")
	fs.StringSliceVarP(&o.Namespaces, "namespace", "n", nil, "recommend only for these namespaces; default: all but kube-*, calico-* and tigera-*")
	fs.DurationVar(&o.MinObservation, "min-observation", recommend.DefaultMinObservation, "traffic to observe before a recommendation leaves the learning state")
	fs.DurationVar(&o.StabilizationPeriod, "stabilization-period", recommend.DefaultStabilizationPeriod, "time without a new connection before a recommendation is stable")
	fs.IntVar(&o.MaxListed, "max-listed", 50, "unresolved flows and notes listed on stderr, each; all are counted")
}

// Validate checks the flags and parses --at.
func (o *RecommendOptions) Validate() error {
	var errs []error
	if len(o.Flows) == 0 {
		errs = append(errs, errors.New("--flows: at least one flow-log file or folder is required"))
	}
	if len(o.Files) == 0 {
		errs = append(errs, errors.New("-f: the cluster's manifests are required to tie flows to workloads"))
	}
	if o.Output != "yaml" && o.Output != "json" {
		errs = append(errs, fmt.Errorf("--output %q: must be yaml or json", o.Output))
	}
	if o.MinObservation <= 0 || o.StabilizationPeriod <= 0 {
		errs = append(errs, errors.New("--min-observation and --stabilization-period: must be positive"))
	}
	if o.MaxListed < 0 {
		errs = append(errs, fmt.Errorf("--max-listed %d: must not be negative", o.MaxListed))
	}
	if o.At != "" {
		t, err := time.Parse(time.RFC3339, o.At)
		if err != nil {
			errs = append(errs, fmt.Errorf("--at %q: want RFC 3339, e.g. 2026-03-01T12:00:00Z: %w", o.At, err))
		}
		o.at = t
	}
	if err := o.options().Validate(); err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return badInput(errors.Join(errs...))
	}
	return nil
}

func (o *RecommendOptions) options() recommend.Options {
	return recommend.Options{
		Style: recommend.Style(o.Style), Tier: o.Tier, At: o.at, Namespaces: o.Namespaces,
		MinObservation: o.MinObservation, StabilizationPeriod: o.StabilizationPeriod,
	}
}

func newRecommendCommand(log *LogOptions) *cobra.Command {
	o := &RecommendOptions{}
	cmd := &cobra.Command{
		Use:   "recommend --flows PATH... -f PATH... [--style k8s|calico-staged] [--at TIME] [-o yaml|json]",
		Short: "Recommend least-privilege policies that allow exactly the observed traffic",
		Long: `Recommend network policies that allow exactly the connections the flow logs show as
allowed, and nothing else, for the workloads in the manifests.

--style k8s (the default) writes Kubernetes NetworkPolicies: per namespace a default deny and
DNS egress to kube-system/kube-dns, per workload one policy. --style calico-staged writes one
Calico StagedNetworkPolicy per namespace in a tier (and the Tier), to preview with Calico's
staged-policy tooling before enforcing.

Each policy is annotated flowguard.dev/recommendation-status: learning (less than
--min-observation of traffic seen), stabilizing (a connection it allows appeared less than
--stabilization-period ago) or stable. The recommendation is always printed, whatever its state.

The manifests go to stdout; flows that could not be tied to workloads, and what a style could
not express, are listed on stderr.

Exit status: 0 when a recommendation was written, 2 when the input could not be read.`,
		Example: `  flowguard recommend --flows /var/log/calico/flowlogs -f cluster/ > policies.yaml
  flowguard recommend --flows flows.log -f manifests/ --style calico-staged -n shop | kubectl apply -f -`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.Validate(); err != nil {
				return err
			}
			ctx := logf.IntoContext(cmd.Context(), log.Logger(cmd.ErrOrStderr()))
			return runRecommend(ctx, o, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	o.AddFlags(cmd.Flags())
	completeValues(cmd, "output", fixed("yaml", "json"))
	return cmd
}

func runRecommend(ctx context.Context, o *RecommendOptions, out, errOut io.Writer) error {
	cluster, err := loadClusterFiles(o.Files, o.Recursive, nil)
	if err != nil {
		return err
	}
	if err := unknownName("--namespace", "namespace in the input", o.Namespaces, regoeval.ClusterNamespaces(cluster)); err != nil {
		return err
	}
	in, err := loadFlows(ctx, o.Flows, false, "a recommendation learned from no traffic would deny all of it", errOut)
	if err != nil {
		return err
	}
	g, rep := in.Graph, in.Report
	res, err := recommend.Recommend(ctx, cluster, g, o.options())
	if err != nil {
		return badInput(err)
	}
	if o.Output == "json" {
		err = recommend.WriteJSON(out, res.Objects())
	} else {
		err = recommend.WriteYAML(out, res.Objects(), recommendHeader(res))
	}
	if err != nil {
		return err
	}
	writeRecommendReport(errOut, res, rep, o.MaxListed)
	return nil
}

// recommendHeader summarises the recommendation in comment lines above the YAML.
func recommendHeader(r *recommend.Result) []string {
	lines := []string{fmt.Sprintf("flowguard recommend: style %s, %d policies for %d workloads in %d namespaces",
		r.Style, r.Stats.Policies, r.Stats.Workloads, len(r.Namespaces))}
	if !r.ObservedFrom.IsZero() {
		lines = append(lines, fmt.Sprintf("traffic observed %s to %s; states as of %s",
			r.ObservedFrom.Format(time.RFC3339), r.ObservedUntil.Format(time.RFC3339), r.At.Format(time.RFC3339)))
	} else {
		lines = append(lines, "no traffic observed: every namespace is recommended a default deny")
	}
	for _, n := range r.Namespaces {
		lines = append(lines, fmt.Sprintf("  %s: %s", n.Name, n.Status))
	}
	if len(r.Unresolved) > 0 {
		lines = append(lines, fmt.Sprintf("%d observed connections could not be tied to workloads and are not allowed (listed on stderr)", len(r.Unresolved)))
	}
	return lines
}

func writeRecommendReport(w io.Writer, r *recommend.Result, rep flows.TallyReport, max int) {
	if n := rep.MalformedTotal(); n > 0 {
		fmt.Fprintf(w, "%d malformed flow records skipped (%s)\n", n, malformedSummary(rep))
	}
	if len(r.Unresolved) > 0 {
		fmt.Fprintf(w, "%d observed connections could not be tied to workloads, sets or networks; no recommended policy allows them:\n", len(r.Unresolved))
		for i, u := range r.Unresolved {
			if i == max {
				fmt.Fprintf(w, "  ... and %d more\n", len(r.Unresolved)-max)
				break
			}
			port := u.Proto
			if u.Port != 0 {
				port = fmt.Sprintf("%s/%d", u.Proto, u.Port)
			}
			fmt.Fprintf(w, "  %s -> %s %s (%d flows, last seen %s): %s\n", u.Src, u.Dst, port, u.Flows,
				u.LastSeen.Format(time.RFC3339), u.Detail)
		}
	}
	for i, n := range r.Notes {
		if i == max {
			fmt.Fprintf(w, "... and %d more notes\n", len(r.Notes)-max)
			break
		}
		fmt.Fprintf(w, "note (%s, %s): %s\n", n.Kind, n.Namespace, n.Message)
	}
}

func malformedSummary(rep flows.TallyReport) string {
	parts := make([]string, 0, len(rep.Malformed))
	for _, m := range rep.Malformed {
		parts = append(parts, fmt.Sprintf("%s: %d", m.Reason, m.Count))
	}
	return strings.Join(parts, ", ")
}
