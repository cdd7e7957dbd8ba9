package demo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Step is one scene of the story: what it shows, and how to run it and check that it did.
type Step struct {
	Title string
	Run   func(ctx context.Context, r *Runner) error
}

// Story is the demo, in order; each step builds on the cluster the previous ones left.
var Story = []Step{
	{"A change that would cut live traffic is refused", refuseBreakingChange},
	{"An allow-all policy is admitted, with a warning", warnAllowAll},
	{"A workload that no policy protects is admitted, with a warning", warnUnprotectedWorkload},
	{"The auditor, run on demand", auditOnDemand},
	{"The recommended policies, applied in order", applyRecommendations},
	{"The next audit", auditAgain},
}

// RunStory runs every step, each under its title, and stops at the first that fails.
func RunStory(ctx context.Context, r *Runner) error {
	for i, s := range Story {
		fmt.Fprintf(r.Out, "━━━ %d. %s ━━━\n\n", i+1, s.Title)
		if err := s.Run(ctx, r); err != nil {
			return fmt.Errorf("step %d (%s): %w", i+1, s.Title, err)
		}
	}
	return nil
}

// Schedule is the AuditSchedule the story creates.
const Schedule = "shop"

func refuseBreakingChange(ctx context.Context, r *Runner) error {
	r.say(`Someone tidies up storefront and deletes the web front end's ingress policy. storefront has a
default deny, and flowguard has seen the internet reach web on port 8080 every hour of the day,
so the API server refuses the deletion, naming the traffic it would cut:`)
	const path = "examples/shop/changes/breaking.yaml"
	if err := r.show(path); err != nil {
		return err
	}
	res := r.kubectl(ctx, "delete", "-f", path)
	if err := expect("kubectl delete of the web front end's policy", res, false,
		`denied the request`, "[breaking-change]", "storefront/web-", ":8080/TCP"); err != nil {
		return err
	}
	res = r.kubectl(ctx, "get", "networkpolicy", "-n", "storefront", "web-from-anywhere")
	return expect("kubectl get of the policy still there", res, true, "web-from-anywhere")
}

func warnAllowAll(ctx context.Context, r *Runner) error {
	r.say(`A quick fix for a denied call opens the ledger to everyone. An allow-all breaks nothing, so it
is admitted, but whoever applies it is told what it opens:`)
	const path = "examples/shop/changes/allow-all.yaml"
	if err := r.show(path); err != nil {
		return err
	}
	res := r.kubectl(ctx, "apply", "-f", path)
	if err := expect("kubectl apply of an allow-all policy", res, true,
		"Warning: [allow-all]", "networkpolicy.networking.k8s.io/ledger-open created"); err != nil {
		return err
	}
	res = r.kubectl(ctx, "delete", "-f", path)
	return expect("kubectl delete of the allow-all policy", res, true, "deleted")
}

func warnUnprotectedWorkload(ctx context.Context, r *Runner) error {
	r.say(`payments has no default deny: a new workload there is open to every pod in the cluster.
The deployment goes ahead, with a warning that says so:`)
	path, err := r.write("refunds.yaml", unprotectedWorkload)
	if err != nil {
		return err
	}
	res := r.kubectl(ctx, "apply", "-f", path)
	return expect("kubectl apply of a workload in payments", res, true,
		"Warning: [unprotected-workload]", "deployment.apps/refunds created")
}

func auditOnDemand(ctx context.Context, r *Runner) error {
	r.say(`The auditor judges the whole cluster against the same flows on a schedule, and writes its
findings as reports that kubectl reads. An AuditSchedule, with recommendations:`)
	path, err := r.write("audit-schedule.yaml", auditSchedule)
	if err != nil {
		return err
	}
	if err := r.show(path); err != nil {
		return err
	}
	if err := expect("kubectl apply of the AuditSchedule", r.kubectl(ctx, "apply", "-f", path), true, "created"); err != nil {
		return err
	}
	r.say(`Rather than wait for 03:00, ask for a run now:`)
	report, err := r.runAudit(ctx)
	if err != nil {
		return err
	}
	res := r.kubectl(ctx, "get", "clusterauditreports")
	if err := expect("kubectl get clusterauditreports", res, true, report, "SCORE"); err != nil {
		return err
	}
	r.say(`Each finding says what is wrong, where, the evidence, and what to do:`)
	res = r.kubectl(ctx, "describe", "clusterauditreport", report)
	return expect("kubectl describe clusterauditreport", res, true,
		"allow-all", "unprotected-workload", "missing-default-deny", "denied-traffic", "staged-would-break")
}

// runAudit asks for a run of the schedule and waits for it; it returns the run's report name.
func (r *Runner) runAudit(ctx context.Context) (string, error) {
	stamp := strconv.FormatInt(time.Now().UnixNano(), 10)
	res := r.kubectl(ctx, "annotate", "auditschedule", Schedule, "flowguard.dev/run-now="+stamp, "--overwrite")
	if err := expect("kubectl annotate run-now", res, true, "annotated"); err != nil {
		return "", err
	}
	res = r.kubectl(ctx, "wait", "auditschedule/"+Schedule, "--for=jsonpath={.status.lastRunRequest}="+stamp, "--timeout=120s")
	if err := expect("kubectl wait for the run", res, true, "condition met"); err != nil {
		return "", err
	}
	res = r.kubectl(ctx, "get", "auditschedule", Schedule)
	if err := expect("kubectl get auditschedule", res, true, "LAST SCORE"); err != nil {
		return "", err
	}
	report, errOut := r.quiet(ctx, "get", "auditschedule", Schedule, "-o", "jsonpath={.status.lastReport}{\"|\"}{.status.lastError}")
	name, lastErr, _ := strings.Cut(report, "|")
	if errOut != nil {
		return "", fmt.Errorf("read the run's report: %w", errOut)
	}
	if name == "" || lastErr != "" {
		return "", fmt.Errorf("the run wrote no report: %q", report)
	}
	return name, nil
}

// recommendedNamespaces are the shop's namespaces whose policies the recommendation replaces.
var recommendedNamespaces = []string{"storefront", "payments", "monitoring", "ops"}

func applyRecommendations(ctx context.Context, r *Runner) error {
	report, err := r.quiet(ctx, "get", "auditschedule", Schedule, "-o", "jsonpath={.status.lastReport}")
	if err != nil {
		return fmt.Errorf("read the last run's report: %w", err)
	}
	if report == "" {
		return errors.New("the last run wrote no report")
	}
	r.say(`Each namespace's AuditReport carries least-privilege policies learned from the flows: one
per workload allowing exactly the traffic seen, then a DNS allowance and a default deny for the
whole namespace. Every apply is judged by the same webhook, so the order matters: the workload
policies first, then (once flowguard has seen them) the namespace-wide ones, then the old
policies go.`)
	files := map[string]string{}
	for _, ns := range recommendedNamespaces {
		path := r.shown(filepath.Join(r.Dir, "recommended-"+ns+".yaml"))
		res := r.kubectlTo(ctx, path, "get", "auditreport", "-n", ns, report,
			"-o", `jsonpath={range .recommendation.policies[*]}{@}{"\n"}{end}`)
		if err := expect("kubectl get of "+ns+"'s recommendation", res, true); err != nil {
			return err
		}
		if !strings.Contains(res.Stdout, "kind: NetworkPolicy") {
			return fmt.Errorf("the %s AuditReport recommends no NetworkPolicy:\n%s", ns, res.Stdout)
		}
		files[ns] = path
	}
	if err := r.show(files["storefront"]); err != nil {
		return err
	}
	var fileArgs []string
	for _, ns := range recommendedNamespaces {
		fileArgs = append(fileArgs, "-f", files[ns])
	}
	for _, scope := range []string{"workload", "namespace"} {
		if scope == "namespace" {
			// The webhook publishes what it has seen of the cluster once a second: the
			// namespace-wide deny is admitted once it sees the workload policies just applied.
			if err := r.admittedQuietly(ctx, append(append([]string{"apply", "--dry-run=server"}, fileArgs...), "-l", "flowguard.dev/scope="+scope)); err != nil {
				return err
			}
		}
		res := r.kubectl(ctx, append(append([]string{"apply"}, fileArgs...), "-l", "flowguard.dev/scope="+scope)...)
		if err := expect("kubectl apply of the "+scope+" policies", res, true, "created"); err != nil {
			return err
		}
		if strings.Contains(res.Combined, "Warning:") {
			return fmt.Errorf("flowguard warned about the recommendation:\n%s", res.Combined)
		}
	}
	res := r.kubectl(ctx, "delete", "networkpolicies", "--all-namespaces", "-l", "app.kubernetes.io/managed-by!=flowguard")
	if err := expect("kubectl delete of the old policies", res, true, "web-from-anywhere", "deleted"); err != nil {
		return err
	}
	res = r.kubectl(ctx, "delete", "stagednetworkpolicies.projectcalico.org", "-n", "storefront", "lockdown-web")
	return expect("kubectl delete of the staged lockdown", res, true, "deleted")
}

func auditAgain(ctx context.Context, r *Runner) error {
	before, err := r.quiet(ctx, "get", "auditschedule", Schedule, "-o", "jsonpath={.status.lastScore}")
	if err != nil {
		return err
	}
	r.say(`Audit again: the allow-all, the unprotected workloads, the missing default deny and the
over-wide rules are gone. What is left needs people, not policies: node-exporter on the host
network, the platform tier's shadowed rule, and the denied calls in the window.`)
	b, err := strconv.Atoi(before)
	if err != nil {
		return fmt.Errorf("the last score %q is not a number", before)
	}
	// The auditor, like the webhook, sees the deletions once its view is next published (every
	// second), so a run started at once may still count them: a second run must not.
	var report, after string
	for try := 1; ; try++ {
		if report, err = r.runAudit(ctx); err != nil {
			return err
		}
		if after, err = r.quiet(ctx, "get", "auditschedule", Schedule, "-o", "jsonpath={.status.lastScore}"); err != nil {
			return err
		}
		if a, err := strconv.Atoi(after); err == nil && a > b {
			break
		}
		if try == 2 {
			return fmt.Errorf("the score went from %q to %q; want it higher", before, after)
		}
	}
	res := r.kubectl(ctx, "get", "clusterauditreports")
	if err := expect("kubectl get clusterauditreports", res, true, report); err != nil {
		return err
	}
	res = r.kubectl(ctx, "get", "clusterauditreport", report, "-o", `jsonpath={range .summary.byRule[*]}{.rule}{"\t"}{.count}{"\n"}{end}`)
	if err := expect("kubectl get of the findings by rule", res, true, "host-network-bypass", "shadowed-rule"); err != nil {
		return err
	}
	for _, gone := range []string{"allow-all", "unprotected-workload", "missing-default-deny", "wider-than-observed", "staged-would-break"} {
		if strings.Contains(res.Stdout, gone) {
			return fmt.Errorf("the audit after the recommendation still finds %s:\n%s", gone, res.Stdout)
		}
	}
	return nil
}

// shown is path as the story's commands name it: from Root when it is inside it.
func (r *Runner) shown(path string) string {
	if rel, err := filepath.Rel(r.Root, path); err == nil && !strings.HasPrefix(rel, "..") {
		return rel
	}
	return path
}

// abs is a path the story's commands named, from the folder they run in.
func (r *Runner) abs(path string) string {
	if filepath.IsAbs(path) {
		return path
	}
	return filepath.Join(r.Root, path)
}

// write puts a manifest of the story into the demo folder and returns its path from Root.
func (r *Runner) write(name, content string) (string, error) {
	dir := filepath.Join(r.Dir, "changes")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("create %s: %w", dir, err)
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(strings.TrimLeft(content, "\n")), 0o644); err != nil {
		return "", fmt.Errorf("write %s: %w", path, err)
	}
	return r.shown(path), nil
}

// quiet runs kubectl without printing it: for values the story needs, not for the reader.
func (r *Runner) quiet(ctx context.Context, args ...string) (string, error) {
	res := r.runQuiet(ctx, args...)
	return strings.TrimSpace(res.Stdout), res.Err
}

// runQuiet is kubectl run without printing it.
func (r *Runner) runQuiet(ctx context.Context, args ...string) Result {
	out := r.Out
	r.Out = io.Discard
	defer func() { r.Out = out }()
	return r.kubectl(ctx, args...)
}

const unprotectedWorkload = `
apiVersion: apps/v1
kind: Deployment
metadata: {name: refunds, namespace: payments}
spec:
  selector: {matchLabels: {app: refunds}}
  template:
    metadata: {labels: {app: refunds}}
    spec:
      containers:
      - name: refunds
        image: registry.example.com/payments/refunds:1.0.0
`

const auditSchedule = `
apiVersion: flowguard.dev/v1alpha1
kind: AuditSchedule
metadata: {name: shop}
spec:
  schedule: "0 3 * * *"
  namespaceSelector:
    matchExpressions:
    - {key: kubernetes.io/metadata.name, operator: In, values: [storefront, payments, monitoring, ops, kube-system]}
  lookback: 48h
  recommendations: {style: k8s}
`

// Explore prints how to look around the demo cluster once the story is told.
func Explore(out io.Writer, o Options) {
	rel := func(p string) string {
		if r, err := filepath.Rel(o.Root, p); err == nil && !strings.HasPrefix(r, "..") {
			return r
		}
		return p
	}
	fmt.Fprintf(out, `━━━ Explore ━━━

The control plane, the shop and flowguard keep running. From this folder:

  export KUBECONFIG=$PWD/%s PATH=%s:$PATH
  kubectl get auditschedules,clusterauditreports
  kubectl get auditreports -A
  kubectl describe auditreport -n payments $(kubectl get auditschedule %s -o jsonpath='{.status.lastReport}')
  kubectl delete -f examples/shop/changes/breaking.yaml   # try the refused change again
  %s audit -f examples/shop --flows examples/shop/flows.jsonl -o html > shop.html   # the offline report
  less %s                   # flowguard's log

make demo-down stops everything.
`, rel(o.Kubeconfig()), o.AssetsDir, Schedule, rel(o.Flowguard), rel(filepath.Join(o.Dir, "flowguard.log")))
}
