package app

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/flowguard/flowguard/api/v1alpha1"
	"github.com/flowguard/flowguard/audit"
	"github.com/flowguard/flowguard/audit/picture"
	"github.com/flowguard/flowguard/audit/regoeval"
	"github.com/flowguard/flowguard/audit/render"
	"github.com/flowguard/flowguard/cmd/flowguard/ciformat"
	"github.com/flowguard/flowguard/netpol"
	"github.com/flowguard/flowguard/rego"
	"github.com/flowguard/flowguard/rego/rulefile"
)

// AuditOptions are the flags of `flowguard audit`.
type AuditOptions struct {
	Files      []string
	Recursive  bool
	Kubeconfig string
	Context    string
	Flows      []string
	At         string
	Lookback   time.Duration
	Output     string
	Namespaces []string
	Rules      []string
	UserRules  []string
	Params     []string
	FailOn     string
	Timeout    time.Duration
	// AllowNoFlows runs without the flow rules when --flows yields no valid record.
	AllowNoFlows bool

	at     time.Time
	format render.Format
	// ci is set when the output is a CI format, which render does not write.
	ci     ciformat.Format
	params map[string]map[string]any
	// now is the clock used when neither --at nor flows say what time it is.
	now func() time.Time
}

// AddFlags registers the flags.
func (o *AuditOptions) AddFlags(fs *pflag.FlagSet) {
	formats := make([]string, 0, len(render.Formats())+len(ciformat.Formats()))
	for _, f := range render.Formats() {
		formats = append(formats, string(f))
	}
	formats = append(formats, "sarif (SARIF 2.1.0)", "junit (JUnit XML)", "github (Actions annotations)")
	fs.StringSliceVarP(&o.Files, "filename", "f", nil, "cluster state: manifest files or folders (YAML or JSON, multi-document, Lists); - reads standard input")
	addRecursiveFlag(fs, &o.Recursive)
	fs.StringVar(&o.Kubeconfig, "kubeconfig", "", "read the cluster state from the cluster this kubeconfig points at instead of -f")
	fs.StringVar(&o.Context, "context", "", "read the cluster state from this context of the kubeconfig ($KUBECONFIG or ~/.kube/config without --kubeconfig) instead of -f")
	fs.StringSliceVar(&o.Flows, "flows", nil, "observed traffic: Calico flow-log files or folders (plain or gzip); without it, rules that need flows are skipped")
	fs.StringVar(&o.At, "at", "", "end of the lookback window (RFC 3339); default: the newest flow record")
	fs.DurationVar(&o.Lookback, "lookback", rego.DefaultLookback, "window of observed traffic the rules judge by")
	fs.StringVarP(&o.Output, "output", "o", string(render.Text), "output format: "+strings.Join(formats, ", "))
	fs.StringSliceVarP(&o.Namespaces, "namespace", "n", nil, "audit only these namespaces (cluster-scoped objects are always audited); default: all")
	fs.StringSliceVar(&o.Rules, "rule", nil, "run only these rule ids; default: every audit rule")
	addRulesFlag(fs, &o.UserRules)
	fs.StringArrayVar(&o.Params, "param", nil, "a rule parameter, RULE.NAME=VALUE (VALUE is JSON, or else a string), e.g. missing-default-deny.egress=true")
	fs.StringVar(&o.FailOn, "fail-on", "", "exit 1 when a finding is at least this severe: critical, high, medium, low or info")
	fs.DurationVar(&o.Timeout, "timeout", 30*time.Second, "deadline of the rules' evaluation per object")
	fs.BoolVar(&o.AllowNoFlows, "allow-no-flows", false, "when --flows holds no valid record, skip the rules that need flows instead of failing")
}

// Validate checks the flags.
func (o *AuditOptions) Validate() error {
	var err error
	switch {
	case len(o.Files) == 0 && !o.live():
		return badInput(errors.New("-f: at least one manifest file or folder is required (or --kubeconfig or --context)"))
	case len(o.Files) > 0 && o.live():
		return badInput(errors.New("-f and --kubeconfig or --context: give one source of cluster state"))
	case o.Lookback <= 0:
		return badInput(fmt.Errorf("--lookback %s: must be positive", o.Lookback))
	case o.Timeout <= 0:
		return badInput(fmt.Errorf("--timeout %s: must be positive", o.Timeout))
	}
	if slices.Contains(ciformat.Formats(), ciformat.Format(o.Output)) {
		o.ci = ciformat.Format(o.Output)
	} else if o.format, err = render.ParseFormat(o.Output); err != nil {
		return badInput(fmt.Errorf("--output: %w, %s", err, ciFormatNames()))
	}
	if o.FailOn != "" && !validSeverity(o.FailOn) {
		return badInput(fmt.Errorf("--fail-on %q: must be critical, high, medium, low or info", o.FailOn))
	}
	if o.At != "" {
		if o.at, err = time.Parse(time.RFC3339, o.At); err != nil {
			return badInput(fmt.Errorf("--at %q: want RFC 3339, e.g. 2025-10-01T12:00:00Z: %w", o.At, err))
		}
	}
	o.params = map[string]map[string]any{}
	for _, p := range o.Params {
		key, value, ok := strings.Cut(p, "=")
		rule, name, ok2 := strings.Cut(key, ".")
		if !ok || !ok2 || rule == "" || name == "" {
			return badInput(fmt.Errorf("--param %q: want RULE.NAME=VALUE", p))
		}
		var v any
		if err := json.Unmarshal([]byte(value), &v); err != nil {
			v = value
		}
		if o.params[rule] == nil {
			o.params[rule] = map[string]any{}
		}
		o.params[rule][name] = v
	}
	return nil
}

// live says the cluster state is read from a cluster, not from -f.
func (o *AuditOptions) live() bool { return o.Kubeconfig != "" || o.Context != "" }

func validSeverity(s string) bool {
	switch v1alpha1.Severity(s) {
	case v1alpha1.SeverityCritical, v1alpha1.SeverityHigh, v1alpha1.SeverityMedium, v1alpha1.SeverityLow, v1alpha1.SeverityInfo:
		return true
	}
	return false
}

func newAuditCommand() *cobra.Command {
	o := &AuditOptions{now: time.Now}
	cmd := &cobra.Command{
		Use:   "audit (-f PATH... | --kubeconfig FILE | --context NAME) [--flows PATH...] [--rules PATH...] [--at TIME] [-o text|json|yaml|html|policyreport|sarif|junit|github]",
		Short: "Audit network policies offline against observed traffic and the rule library",
		Long: `Read the cluster state from manifests (-f), or from a live cluster (--kubeconfig, --context: as kubectl, $KUBECONFIG or ~/.kube/config without --kubeconfig), and the
observed traffic from Calico flow logs (--flows), run every audit rule, and print the findings: which workloads no policy protects,
which namespaces lack a default deny, which allow rules are far wider than the traffic they
carry or carry none, which flows were denied, and what to do about each, often with the
narrowed policy as YAML. User rules from --rules (RegoRule manifests and .rego modules) and
the RegoRules among -f's objects (or the live cluster's; --rules replaces one of its name)
run beside the built-in rules, compiled and sandboxed as
flowguard serve compiles them; one that does not compile is exit 2. --rule and --param name
them by their METADATA id like the built-in ones.

The lookback window ends at the newest flow record unless --at says otherwise, so old flow
logs can be audited. Output formats: text (a summary table, then findings by severity), json
and yaml (top-level summary and findings), html (one self-contained page with a picture of
namespaces, workloads and their allowed and observed traffic), policyreport
(wgpolicyk8s.io/v1alpha2 PolicyReports for existing report viewers), and for CI systems sarif
(SARIF 2.1.0 for code scanning), junit (a test case per rule and object) and github (Actions
annotations). In these a finding points at the file and line of its object's document in -f,
or names the object by kind, namespace and name when no file holds it (SARIF's logical
location).

Exit status: 0 when the audit ran (findings included), 1 when --fail-on is given and a finding
is at least that severe, 2 on input that cannot be read or understood.`,
		Example: `  flowguard audit -f examples/shop --flows examples/shop/flows.jsonl
  flowguard audit -f cluster/ --flows logs/ -o html > audit.html
  flowguard audit -f cluster/ --flows logs/ -o sarif > flowguard.sarif
  flowguard audit -f cluster/ --flows logs/ --rules regorules/ --rule team-label
  flowguard audit -f cluster/ --flows logs/ -o json --fail-on high --param missing-default-deny.egress=true
  flowguard audit --kubeconfig ~/.kube/config --flows logs/ --namespace payments -o json
  flowguard audit --context staging --flows logs/ -o sarif`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.Validate(); err != nil {
				return err
			}
			return runAudit(cmd.Context(), o, cmd.InOrStdin(), cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	o.AddFlags(cmd.Flags())
	completeValues(cmd, "output", auditFormats)
	completeValues(cmd, "fail-on", severities)
	completeValues(cmd, "rule", auditRuleIDs)
	return cmd
}

func runAudit(ctx context.Context, o *AuditOptions, in io.Reader, stdout, stderr io.Writer) error {
	var cluster *netpol.Cluster
	stdin, err := readStdin(in, map[string][]string{"-f": o.Files, "--rules": o.UserRules})
	if err != nil {
		return err
	}
	var live liveCluster
	if o.live() {
		if live, err = loadLiveCluster(ctx, o.Kubeconfig, o.Context); err != nil {
			return err
		}
		cluster = live.cluster
	} else if cluster, err = loadClusterFiles(o.Files, o.Recursive, stdin); err != nil {
		return err
	}
	var userRules rulefile.Set
	if userRules, err = loadUserRules(o.UserRules, o.Files, o.Recursive, stdin); err != nil {
		return err
	}
	if o.live() {
		userRules = live.withRules(userRules, stderr)
	}
	traffic, err := loadFlows(ctx, o.Flows, o.AllowNoFlows, whyFlowRules, stderr)
	if err != nil {
		return err
	}
	graph := traffic.Graph
	now := o.at
	if now.IsZero() {
		now = traffic.Newest
	}
	if now.IsZero() {
		now = o.now()
	}
	state := rego.NewStaticState(cluster, graph, now)
	rules, err := o.checkNames(state, cluster, userRules)
	if err != nil {
		return err
	}
	params, err := userRuleParameters(o.params, userRules)
	if err != nil {
		return err
	}
	ev := regoeval.NewEvaluator(state, regoeval.Options{
		Engine:    rego.Options{Deadline: o.Timeout, Lookback: o.Lookback},
		UserRules: userRules.UserRules,
		// A one-off audit has the machine to itself: one shard of namespaces per core.
		Workers: runtime.GOMAXPROCS(0),
	})
	res, err := ev.Evaluate(ctx, audit.Scope{Namespaces: o.Namespaces, Rules: o.Rules, Parameters: params, Lookback: o.Lookback})
	if err != nil {
		return err
	}
	if err := o.write(stdout, res, rules, traffic, cluster, stdin); err != nil {
		return err
	}
	for _, s := range res.Skipped {
		if strings.HasPrefix(s.Reason, "evaluation failed") {
			return badInput(fmt.Errorf("rule %s: %s; the audit is incomplete", s.Rule, s.Reason))
		}
	}
	return failOn(o.FailOn, res.Findings, stderr)
}

// write writes the audit in the format of -o.
func (o *AuditOptions) write(w io.Writer, res audit.Result, rules []rego.Rule, traffic flowInput, cluster *netpol.Cluster, stdin []byte) error {
	if o.ci != "" {
		objects, err := readObjects(o.Files, o.Recursive, stdin)
		if err != nil {
			return badInput(err)
		}
		if err := ciformat.Write(w, o.ci, auditCIReport(res, rules, objects)); err != nil {
			return fmt.Errorf("write -o %s: %w", o.ci, err)
		}
		return nil
	}
	subject := strings.Join(o.Files, ", ")
	if o.live() {
		subject = "the cluster of " + cmp.Or(o.Kubeconfig, "the default kubeconfig")
		if o.Context != "" {
			subject += ", context " + o.Context
		}
	}
	in := render.Input{Result: res, Subject: subject, RunName: "flowguard-audit"}
	if len(o.Flows) > 0 {
		in.Flows = traffic.json()
	}
	if o.format == render.HTML {
		in.Picture = picture.Build(cluster, traffic.Graph, res.Window, o.Namespaces)
	}
	return render.Write(w, o.format, in)
}

func ciFormatNames() string {
	names := make([]string, 0, len(ciformat.Formats()))
	for _, f := range ciformat.Formats() {
		names = append(names, string(f))
	}
	return strings.Join(names, ", ")
}

// failOn returns ExitFailed when a finding is at least as severe as threshold, and says on stderr
// which findings made it fail.
func failOn(threshold string, findings []audit.Finding, stderr io.Writer) error {
	if threshold == "" {
		return nil
	}
	rank := audit.SeverityRank(v1alpha1.Severity(threshold))
	var over []audit.Finding
	for _, f := range findings {
		if audit.SeverityRank(f.Severity) <= rank {
			over = append(over, f)
		}
	}
	if len(over) == 0 {
		return nil
	}
	fmt.Fprintf(stderr, "--fail-on %s: %d findings at or above %s:\n", threshold, len(over), threshold)
	for _, f := range over {
		fmt.Fprintf(stderr, "  %s %s %s: %s\n", f.Severity, f.Rule, f.Resource, f.Message)
	}
	return &exitError{code: ExitFailed, err: fmt.Errorf("%d findings at or above %s", len(over), threshold)}
}

// checkNames refuses rule ids, parameter names and namespaces that nothing holds: a typo there
// would otherwise give a clean report. It returns the audit rules that will run.
func (o *AuditOptions) checkNames(state rego.State, cluster *netpol.Cluster, userRules rulefile.Set) ([]rego.Rule, error) {
	eng, err := newEngine(state, rego.Options{}, userRules)
	if err != nil {
		return nil, err
	}
	var run []rego.Rule
	rules := map[string]rego.Rule{}
	var ids []string
	for _, r := range eng.Rules() {
		if r.Audits() {
			rules[r.ID] = r
			ids = append(ids, r.ID)
			if len(o.Rules) == 0 || slices.Contains(o.Rules, r.ID) {
				run = append(run, r)
			}
		}
	}
	var errs []error
	errs = append(errs, unknownName("--rule", "audit rule", o.Rules, ids))
	for _, id := range slices.Sorted(maps.Keys(o.params)) {
		r, ok := rules[id]
		if !ok {
			errs = append(errs, unknownName("--param", "audit rule", []string{id}, ids))
			continue
		}
		names := slices.Sorted(maps.Keys(r.Parameters))
		for _, n := range slices.Sorted(maps.Keys(o.params[id])) {
			if !slices.Contains(names, n) {
				msg := fmt.Sprintf("--param %s.%s: rule %s has no parameter %q", id, n, id, n)
				switch near := nearest(n, names); {
				case near != "":
					msg += fmt.Sprintf("; did you mean %q?", near)
				case len(names) > 0:
					msg += "; it has " + strings.Join(names, ", ")
				default:
					msg += "; it takes none"
				}
				errs = append(errs, badInput(errors.New(msg)))
			}
		}
	}
	errs = append(errs, unknownName("--namespace", "namespace in the input", o.Namespaces, regoeval.ClusterNamespaces(cluster)))
	if err := errors.Join(errs...); err != nil {
		return nil, badInput(err)
	}
	return run, nil
}
