package app

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"

	"github.com/flowguard/flowguard/cmd/flowguard/ciformat"
	"github.com/flowguard/flowguard/netpol"
	"github.com/flowguard/flowguard/rego"
	"github.com/flowguard/flowguard/rego/rulefile"
)

// OperationAnnotation on an object in --change says what to do with it; "DELETE" deletes it.
// Without it an object is created, or updated when -f already holds it.
const OperationAnnotation = "flowguard.dev/operation"

// CheckOptions are the flags of `flowguard check`.
type CheckOptions struct {
	Files     []string
	Recursive bool
	Flows     []string
	Changes   []string
	Rules     []string
	At        string
	Output    string
	Lookback  time.Duration
	Timeout   time.Duration
	// AllowNoFlows runs without the flow rules when --flows yields no valid record.
	AllowNoFlows bool

	at time.Time
}

// AddFlags registers the flags.
func (o *CheckOptions) AddFlags(fs *pflag.FlagSet) {
	fs.StringSliceVarP(&o.Files, "filename", "f", nil, "cluster state: manifest files or folders (YAML or JSON, multi-document, Lists); - reads standard input")
	addRecursiveFlag(fs, &o.Recursive)
	fs.StringSliceVar(&o.Flows, "flows", nil, "observed traffic: Calico flow-log files or folders (plain or gzip); without it, rules that need flows are skipped")
	fs.StringSliceVar(&o.Changes, "change", nil, "the proposed change: manifests applied on top of -f in order (- reads standard input); annotate an object flowguard.dev/operation=DELETE to delete it")
	addRulesFlag(fs, &o.Rules)
	fs.StringVar(&o.At, "at", "", "end of the lookback window (RFC 3339); default: the newest flow record")
	fs.StringVarP(&o.Output, "output", "o", "text", "output format: text, json, sarif (SARIF 2.1.0), junit (JUnit XML) or github (Actions annotations)")
	fs.DurationVar(&o.Lookback, "lookback", rego.DefaultLookback, "window of observed traffic the rules judge by")
	fs.DurationVar(&o.Timeout, "timeout", 30*time.Second, "deadline of each admission decision")
	fs.BoolVar(&o.AllowNoFlows, "allow-no-flows", false, "when --flows holds no valid record, skip the rules that need flows instead of failing")
}

// Validate checks the flags.
func (o *CheckOptions) Validate() error {
	switch {
	case len(o.Files) == 0:
		return badInput(errors.New("-f: the cluster state (manifest files or folders) is required"))
	case len(o.Changes) == 0:
		return badInput(errors.New("--change: at least one manifest is required"))
	case o.Output != "text" && o.Output != "json" && !slices.Contains(ciformat.Formats(), ciformat.Format(o.Output)):
		return badInput(fmt.Errorf("--output %q: must be text, json, sarif, junit or github", o.Output))
	case o.Lookback <= 0:
		return badInput(fmt.Errorf("--lookback %s: must be positive", o.Lookback))
	case o.Timeout <= 0:
		return badInput(fmt.Errorf("--timeout %s: must be positive", o.Timeout))
	}
	if o.At != "" {
		t, err := time.Parse(time.RFC3339, o.At)
		if err != nil {
			return badInput(fmt.Errorf("--at %q: want RFC 3339, e.g. 2025-10-01T12:00:00Z: %w", o.At, err))
		}
		o.at = t
	}
	return nil
}

func newCheckCommand() *cobra.Command {
	o := &CheckOptions{}
	cmd := &cobra.Command{
		Use:   "check -f PATH... --change PATH... [--flows PATH...] [--rules PATH...] [--at TIME] [-o text|json|sarif|junit|github]",
		Short: "Run the admission decision offline: apply changes on top of a cluster and report denials and warnings",
		Long: `Apply each object of --change on top of the cluster state of -f, in order, as the API server
would send it to flowguard's webhook (CREATE, UPDATE when -f already holds it, DELETE when the
object is annotated flowguard.dev/operation=DELETE), run every rule that targets its kind,
and print the denials and warnings. Observed traffic from --flows makes the flow-aware rules
(breaking-change, wider-than-observed) judge by the lookback window, which ends at the newest
flow record unless --at says otherwise. User rules from --rules (RegoRule manifests and .rego
modules) and the RegoRules among -f's objects run beside the built-in rules, compiled and
sandboxed as flowguard serve compiles them; one that does not compile is exit 2.

Exit status: 0 when every change is allowed (warnings included), 1 when one is denied, 2 on
input that cannot be read or understood.`,
		Example: `  flowguard check -f cluster/ --flows flows.jsonl --change pr/policy.yaml
  flowguard check -f cluster/ --flows logs/ --change deny-all.yaml --at 2025-10-01T12:00:00Z -o json
  flowguard check -f cluster/ --flows logs/ --rules regorules/ --change pr/ -o sarif > flowguard.sarif`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.Validate(); err != nil {
				return err
			}
			return runCheck(cmd.Context(), o, cmd.InOrStdin(), cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	o.AddFlags(cmd.Flags())
	completeValues(cmd, "output", fixed("text", "json", "sarif", "junit", "github"))
	return cmd
}

// checkReport is the output of `flowguard check -o json`.
type checkReport struct {
	Allowed    bool             `json:"allowed"`
	Violations []checkViolation `json:"violations"`
	Skipped    []string         `json:"skipped,omitempty"`
	Errors     []string         `json:"errors,omitempty"`
	// Flows says what --flows held, when given.
	Flows *flowsJSON `json:"flows,omitempty"`
}

type checkViolation struct {
	Rule string `json:"rule"`
	// Audit is true for findings of audit rules on the changed objects: what the next audit
	// will report. They never deny, so their action is dryrun.
	Audit     bool           `json:"audit,omitempty"`
	Action    string         `json:"action"`
	Severity  string         `json:"severity"`
	Operation string         `json:"operation"`
	Msg       string         `json:"msg"`
	Resource  checkResource  `json:"resource"`
	Details   map[string]any `json:"details,omitempty"`
	// File and Line are where the changed object's document starts in --change.
	File string `json:"file,omitempty"`
	Line int    `json:"line,omitempty"`
}

type checkResource struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Namespace  string `json:"namespace,omitempty"`
	Name       string `json:"name"`
}

func runCheck(ctx context.Context, o *CheckOptions, input io.Reader, stdout, stderr io.Writer) error {
	stdin, err := readStdin(input, map[string][]string{"-f": o.Files, "--change": o.Changes, "--rules": o.Rules})
	if err != nil {
		return err
	}
	fStdin, changeStdin := stdin, []byte(nil)
	if slices.Contains(o.Changes, "-") {
		fStdin, changeStdin = nil, stdin
	}
	cluster, err := loadClusterFiles(o.Files, o.Recursive, fStdin)
	if err != nil {
		return err
	}
	userRules, err := loadUserRules(o.Rules, o.Files, o.Recursive, fStdin)
	if err != nil {
		return err
	}
	in, err := loadFlows(ctx, o.Flows, o.AllowNoFlows, whyFlowRules, stderr)
	if err != nil {
		return err
	}
	graph := in.Graph
	now := o.at
	if now.IsZero() {
		now = in.Newest
	}
	// The change is decoded as strictly as -f: a misspelt field must not pass as an empty one.
	if _, err := netpol.LoadWith(netpol.LoadOptions{Recursive: true, Stdin: stdinReader(changeStdin)}, o.Changes...); err != nil {
		return badInput(fmt.Errorf("read --change: %w", err))
	}
	changes, err := readObjects(o.Changes, true, changeStdin)
	if err != nil {
		return badInput(err)
	}
	if len(changes) == 0 {
		return badInput(fmt.Errorf("--change %s: no object to check", strings.Join(o.Changes, ", ")))
	}

	report := checkReport{Allowed: true, Violations: []checkViolation{}}
	if len(o.Flows) > 0 {
		report.Flows = in.json()
	}
	skipped := map[string]bool{}
	var applied []appliedChange
	var rules []rego.Rule
	for _, ch := range changes {
		op, oldObj, err := operationOf(cluster, ch.obj)
		if err != nil {
			return badInput(fmt.Errorf("%s: %w", ch.where, err))
		}
		engine, err := newEngine(rego.NewStaticState(cluster, graph, now), rego.Options{Deadline: o.Timeout, Lookback: o.Lookback}, userRules)
		if err != nil {
			return err
		}
		rules = engine.Rules()
		req := admissionRequest(op, ch.obj, oldObj)
		res, err := engine.Admit(ctx, req)
		if err != nil {
			return fmt.Errorf("%s: %w", ch.where, err)
		}
		for _, v := range res.Violations {
			report.Violations = append(report.Violations, checkViolation{
				Rule: v.Rule.ID, Action: string(v.Rule.Action), Severity: string(v.Rule.Severity), Operation: op, Msg: v.Msg,
				Resource: checkResource{v.Resource.APIVersion, v.Resource.Kind, v.Resource.Namespace, v.Resource.Name},
				Details:  v.Details, File: ch.file, Line: ch.line,
			})
		}
		report.Allowed = report.Allowed && !res.Denied()
		for _, r := range res.Skipped {
			if !skipped[r.ID] {
				skipped[r.ID] = true
				report.Skipped = append(report.Skipped, r.ID)
			}
		}
		for _, re := range res.Errors {
			report.Errors = append(report.Errors, fmt.Sprintf("%s: %v", ch.where, re))
		}
		if cluster, err = applyChange(cluster, op, oldObj, ch.obj); err != nil {
			return badInput(fmt.Errorf("%s: %w", ch.where, err))
		}
		if op != "DELETE" {
			applied = append(applied, appliedChange{ch, op})
		}
	}
	if err := auditChanges(ctx, o, rego.NewStaticState(cluster, graph, now), userRules, applied, &report); err != nil {
		return err
	}

	switch o.Output {
	case "json":
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(report); err != nil {
			return err
		}
	case "text":
		printCheck(stdout, report)
	default:
		if err := ciformat.Write(stdout, ciformat.Format(o.Output), checkCIReport(report, rules, changes)); err != nil {
			return fmt.Errorf("write -o %s: %w", o.Output, err)
		}
	}
	switch {
	case !report.Allowed:
		return &exitError{code: ExitFailed, err: errors.New("denied")}
	case len(report.Errors) > 0:
		return badInput(fmt.Errorf("%d rule evaluations failed; the decision is incomplete", len(report.Errors)))
	}
	return nil
}

func printCheck(w io.Writer, r checkReport) {
	for _, v := range r.Violations {
		fmt.Fprintf(w, "%-6s %s %s %s [%s]: %s\n", strings.ToUpper(v.Action), v.Operation, v.Resource.Kind, objectName(v.Resource), v.Rule, v.Msg)
	}
	if len(r.Skipped) > 0 {
		fmt.Fprintf(w, "skipped (no observed traffic): %s\n", strings.Join(r.Skipped, ", "))
	}
	for _, e := range r.Errors {
		fmt.Fprintf(w, "ERROR  %s\n", e)
	}
	if r.Allowed {
		fmt.Fprintln(w, "allowed")
	} else {
		fmt.Fprintln(w, "denied")
	}
}

func objectName(r checkResource) string {
	if r.Namespace == "" {
		return r.Name
	}
	return r.Namespace + "/" + r.Name
}

// appliedChange is an object of --change that the check applied, and how.
type appliedChange struct {
	changeObject
	op string
}

// changeObject is one object of --change and where it was read.
type changeObject struct {
	obj   map[string]any
	where string
	// file and line are the manifest and the line its document starts on.
	file string
	line int
}

// readObjects reads every object of the given manifest files and folders (their subfolders
// too when recursive), in order: YAML or JSON, multi-document, with List kinds unfolded.
// "-" is stdin's contents.
func readObjects(paths []string, recursive bool, stdin []byte) ([]changeObject, error) {
	var out []changeObject
	for _, p := range paths {
		if p == "-" {
			objs, err := readManifestFrom(bytes.NewReader(stdin), "-")
			if err != nil {
				return nil, err
			}
			out = append(out, objs...)
			continue
		}
		files, err := netpol.ListFiles(p, recursive, ".yaml", ".yml", ".json")
		if err != nil {
			return nil, err
		}
		for _, f := range files {
			objs, err := readManifest(f)
			if err != nil {
				return nil, err
			}
			out = append(out, objs...)
		}
	}
	return out, nil
}

func readManifest(path string) ([]changeObject, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return readManifestFrom(f, path)
}

func readManifestFrom(r io.Reader, path string) ([]changeObject, error) {
	docs, err := netpol.SplitDocuments(r)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	var out []changeObject
	for i, d := range docs {
		doc := i + 1
		var obj map[string]any
		if err := utilyaml.Unmarshal(d.Data, &obj); err != nil {
			return nil, fmt.Errorf("%s: document %d: %w", path, doc, err)
		}
		if obj == nil {
			continue
		}
		items := []map[string]any{obj}
		if kind, _ := obj["kind"].(string); strings.HasSuffix(kind, "List") {
			items = items[:0]
			list, _ := obj["items"].([]any)
			for _, it := range list {
				if m, ok := it.(map[string]any); ok {
					items = append(items, m)
				}
			}
		}
		for i, it := range items {
			where := fmt.Sprintf("%s: document %d", path, doc)
			if len(items) > 1 || obj["items"] != nil {
				where += fmt.Sprintf(" items[%d]", i)
			}
			if it["apiVersion"] == nil || it["kind"] == nil {
				return nil, fmt.Errorf("%s: apiVersion and kind are required", where)
			}
			// As kubectl does, a namespaced object without a namespace goes to "default".
			if meta, ok := it["metadata"].(map[string]any); ok && !clusterScoped(fmt.Sprint(it["kind"])) {
				if ns, _ := meta["namespace"].(string); ns == "" {
					meta["namespace"] = "default"
				}
			}
			out = append(out, changeObject{obj: it, where: where, file: path, line: d.Line})
		}
	}
	return out, nil
}

// operationOf says how the API server would send obj given the cluster: DELETE when the
// object asks for it, UPDATE when the cluster holds it, CREATE otherwise; with the old object.
func operationOf(c *netpol.Cluster, obj map[string]any) (string, map[string]any, error) {
	old, found, err := rego.ExistingObject(c, obj)
	if err != nil {
		return "", nil, err
	}
	meta, _ := obj["metadata"].(map[string]any)
	annotations, _ := meta["annotations"].(map[string]any)
	switch op, _ := annotations[OperationAnnotation].(string); {
	case strings.EqualFold(op, "DELETE"):
		if !found {
			return "", nil, errors.New("annotated for DELETE but the cluster state does not hold it")
		}
		if old == nil {
			old = obj
		}
		return "DELETE", old, nil
	case op != "" && !strings.EqualFold(op, "CREATE") && !strings.EqualFold(op, "UPDATE"):
		return "", nil, fmt.Errorf("annotation %s: %q is not CREATE, UPDATE or DELETE", OperationAnnotation, op)
	case found:
		return "UPDATE", old, nil
	}
	return "CREATE", nil, nil
}

// admissionRequest builds the request the API server would send for a change.
func admissionRequest(op string, obj, old map[string]any) rego.AdmissionRequest {
	subject := obj
	if op == "DELETE" {
		subject, obj = old, nil
	}
	apiVersion, _ := subject["apiVersion"].(string)
	gv, _ := schema.ParseGroupVersion(apiVersion)
	kind, _ := subject["kind"].(string)
	meta, _ := subject["metadata"].(map[string]any)
	ns, _ := meta["namespace"].(string)
	name, _ := meta["name"].(string)
	req := rego.AdmissionRequest{
		UID: "flowguard-check", Operation: op, Namespace: ns, Name: name, Object: obj, OldObject: old,
	}
	req.Kind.Group, req.Kind.Version, req.Kind.Kind = gv.Group, gv.Version, kind
	req.UserInfo.Username = "flowguard-check"
	return req
}

func applyChange(c *netpol.Cluster, op string, old, obj map[string]any) (*netpol.Cluster, error) {
	return rego.ApplyChange(c, op, old, obj)
}

// auditChanges runs, on the cluster after every change, the audit rules that admission does
// not already run for each changed object's kind (unused-rule, shadowed-rule,
// missing-default-deny, ...): what the next audit will say about the change. Their findings
// never deny.
func auditChanges(ctx context.Context, o *CheckOptions, state rego.State, userRules rulefile.Set, changed []appliedChange, report *checkReport) error {
	engine, err := newEngine(state, rego.Options{Deadline: o.Timeout, Lookback: o.Lookback}, userRules)
	if err != nil {
		return err
	}
	for _, ch := range changed {
		req := admissionRequest("CREATE", ch.obj, nil)
		kind := rego.KindName(req.Kind.Group, req.Kind.Kind)
		var ids []string
		for _, r := range engine.Rules() {
			if r.Audits() && slices.Contains(r.Subjects, kind) && !slices.Contains(r.Targets, kind) {
				ids = append(ids, r.ID)
			}
		}
		if len(ids) == 0 {
			continue
		}
		apiVersion, _ := ch.obj["apiVersion"].(string)
		ref := rego.ResourceRef{APIVersion: apiVersion, Kind: req.Kind.Kind, Namespace: req.Namespace, Name: req.Name}
		res, err := engine.Audit(ctx, rego.AuditScope{Rules: ids, Objects: []rego.ResourceRef{ref}})
		if err != nil {
			return fmt.Errorf("%s: %w", ch.where, err)
		}
		for _, v := range res.Violations {
			report.Violations = append(report.Violations, checkViolation{
				Rule: v.Rule.ID, Audit: true, Action: string(rego.ActionDryRun), Severity: string(v.Rule.Severity), Operation: ch.op, Msg: v.Msg,
				Resource: checkResource{v.Resource.APIVersion, v.Resource.Kind, v.Resource.Namespace, v.Resource.Name},
				Details:  v.Details, File: ch.file, Line: ch.line,
			})
		}
		for _, re := range res.Errors {
			report.Errors = append(report.Errors, fmt.Sprintf("%s: %v", ch.where, re))
		}
	}
	return nil
}

// clusterScoped are the kinds without a namespace among those flowguard reads.
func clusterScoped(kind string) bool {
	switch kind {
	case "Namespace", "GlobalNetworkPolicy", "StagedGlobalNetworkPolicy", "GlobalNetworkSet", "Tier", "HostEndpoint",
		"AdminNetworkPolicy", "BaselineAdminNetworkPolicy", "ClusterNetworkPolicy":
		return true
	}
	return false
}

// checkCIReport turns a check report into the CI formats' model: every rule the engine
// holds, every object of --change, each finding at the document of the change it is about.
func checkCIReport(r checkReport, rules []rego.Rule, changes []changeObject) ciformat.Report {
	out := ciReport(rules, func(r rego.Rule) []string { return slices.Concat(r.Targets, r.Subjects) })
	objects := map[[3]string]ciformat.Object{}
	for _, ch := range changes {
		o := ciObject(ch.obj, ch.file, ch.line)
		out.Objects = append(out.Objects, o)
		objects[[3]string{ch.file, strconv.Itoa(ch.line), o.Name}] = o
	}
	for _, v := range r.Violations {
		o, ok := objects[[3]string{v.File, strconv.Itoa(v.Line), objectName(v.Resource)}]
		if !ok {
			o = ciformat.Object{Kind: v.Resource.Kind, Name: objectName(v.Resource), File: v.File, Line: v.Line}
		}
		out.Findings = append(out.Findings, ciformat.Finding{Rule: v.Rule, Severity: v.Severity, Message: v.Msg, Object: o})
	}
	for _, id := range r.Skipped {
		out.Skipped = append(out.Skipped, ciformat.Skipped{Rule: id, Reason: "no observed traffic"})
	}
	return out
}

// ciObject names an object read from a file as rules name the kinds they judge.
func ciObject(obj map[string]any, file string, line int) ciformat.Object {
	req := admissionRequest("CREATE", obj, nil)
	name := req.Name
	if req.Namespace != "" {
		name = req.Namespace + "/" + name
	}
	apiVersion, _ := obj["apiVersion"].(string)
	if file == "-" { // standard input has no place in a repository
		file, line = "", 0
	}
	return ciformat.Object{Kind: ciKind(apiVersion, req.Kind.Kind), Name: name, File: file, Line: line}
}
