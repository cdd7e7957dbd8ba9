//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"text/tabwriter"
	"time"

	"github.com/go-logr/logr/testr"
	"github.com/google/go-cmp/cmp"
	calicov3 "github.com/projectcalico/api/pkg/apis/projectcalico/v3"
	"github.com/projectcalico/api/pkg/lib/numorstring"
	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	clocktesting "k8s.io/utils/clock/testing"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/flowguard/flowguard/api/v1alpha1"
	"github.com/flowguard/flowguard/audit"
	"github.com/flowguard/flowguard/test/cluster"
)

// auditStart is the fake time the auditor tests begin at: a minute before the nightly slot, and
// after the real creation time of every object, so the schedule's first slot lies ahead.
var auditStart = time.Date(2030, 1, 1, 2, 59, 0, 0, time.UTC)

// auditNamespaces are the namespaces the test schedules select (label audit=on).
var auditNamespaces = []string{"payments", "quiet", "shop"}

// auditFixture creates the audited namespaces, one unaudited namespace, and the policies the
// findings name, so that Events on them can be read back.
func auditFixture(t *testing.T, ctx context.Context, c *cluster.Cluster) {
	t.Helper()
	objs := []client.Object{&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "not-audited"}}}
	for _, ns := range auditNamespaces {
		objs = append(objs, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns, Labels: map[string]string{"audit": "on"}}})
	}
	tcp := numorstring.ProtocolFromString("TCP")
	objs = append(objs,
		&calicov3.NetworkPolicy{
			ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "allow-db-from-anywhere"},
			Spec: calicov3.NetworkPolicySpec{Selector: "app == 'db'", Types: []calicov3.PolicyType{calicov3.PolicyTypeIngress},
				Ingress: []calicov3.Rule{{Action: calicov3.Allow, Protocol: &tcp, Source: calicov3.EntityRule{Nets: []string{"0.0.0.0/0"}},
					Destination: calicov3.EntityRule{Ports: []numorstring.Port{numorstring.SinglePort(5432)}}}}},
		},
		&networkingv1.NetworkPolicy{
			ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "allow-everything"},
			Spec: networkingv1.NetworkPolicySpec{Ingress: []networkingv1.NetworkPolicyIngressRule{{}},
				PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}},
		})
	for _, o := range objs {
		if err := c.Client.Create(ctx, o); err != nil {
			t.Fatalf("create %T %s: %v", o, o.GetName(), err)
		}
	}
}

// shopFindings is what the evaluator finds in the test cluster: a critical finding of a user rule
// on a policy that exists, built-in rule findings with evidence and fixes, and a cluster-scoped
// one.
func shopFindings(now time.Time) []audit.Finding {
	defaultDeny := map[string]any{
		"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
		"metadata": map[string]any{"name": "default-deny-ingress", "namespace": "payments"},
		"spec":     map[string]any{"podSelector": map[string]any{}, "policyTypes": []any{"Ingress"}},
	}
	narrowed := map[string]any{"from": []any{map[string]any{"podSelector": map[string]any{"matchLabels": map[string]any{"app": "frontend"}}}},
		"ports": []any{map[string]any{"port": 8080, "protocol": "TCP"}}}
	np := audit.Resource{APIVersion: "networking.k8s.io/v1", Kind: "NetworkPolicy", Namespace: "shop", Name: "allow-everything"}
	db := audit.Resource{APIVersion: "projectcalico.org/v3", Kind: "NetworkPolicy", Namespace: "shop", Name: "allow-db-from-anywhere"}
	return []audit.Finding{
		{Rule: "no-internet-to-database", Severity: "critical", Resource: db,
			Message: "NetworkPolicy shop/allow-db-from-anywhere admits the internet (0.0.0.0/0) to the database port 5432.",
			Evidence: audit.Evidence{FlowsTotal: 1, Flows: []audit.Flow{{Source: "pub", Destination: "shop/db-*", Protocol: "TCP", Port: 5432,
				Action: "allow", Count: 310, LastSeen: now.Add(-time.Hour)}}},
			Fix: &audit.Fix{Description: "Remove the rule that admits every source; `flowguard recommend` prints a narrowed policy."}},
		{Rule: "wider-than-observed", Severity: "medium", Resource: np,
			Message: "NetworkPolicy shop/allow-everything: ingress rule spec.ingress[0] allows every peer and every port, but in the last 24h carried only 1290 flows from shop/frontend-* on TCP/8080.",
			Evidence: audit.Evidence{Facts: map[string]any{"direction": "ingress", "path": "spec.ingress[0]"}, FlowsTotal: 2, Flows: []audit.Flow{
				{Source: "shop/frontend-*", Destination: "shop/api-*", Protocol: "TCP", Port: 8080, Action: "allow", Count: 1290, LastSeen: now.Add(-time.Minute)},
				{Source: "shop/frontend-*", Destination: "shop/api-*", Protocol: "TCP", Port: 9090, Action: "allow", Count: 4, LastSeen: now.Add(-3 * time.Hour)},
			}},
			Fix: &audit.Fix{Description: "Replace ingress rule spec.ingress[0] with this one, narrowed to the observed traffic.", Policy: narrowed}},
		{Rule: "missing-default-deny", Severity: "medium", Resource: audit.Resource{APIVersion: "v1", Kind: "Namespace", Name: "payments"},
			Message:  "Namespace payments has no default-deny for ingress: a pod that no other policy selects is open.",
			Evidence: audit.Evidence{Facts: map[string]any{"direction": "ingress"}},
			Fix:      &audit.Fix{Description: "Apply this NetworkPolicy.", Policy: defaultDeny}},
		{Rule: "shadowed-rule", Severity: "low",
			Resource: audit.Resource{APIVersion: "projectcalico.org/v3", Kind: "GlobalNetworkPolicy", Name: "platform.deny-legacy"},
			Message:  "GlobalNetworkPolicy platform.deny-legacy: egress rule 2 can never decide, rule 0 always decides first.",
			Evidence: audit.Evidence{Facts: map[string]any{"shadowedBy": "egress rule 0"}}},
	}
}

// findingSource lets a test change what the evaluator finds between runs.
type findingSource struct {
	clock    *clocktesting.FakeClock
	findings atomic.Pointer[func(time.Time) []audit.Finding]
	runs     atomic.Int32
	// fail, when set, is the error every evaluation returns.
	fail atomic.Pointer[error]
}

func newFindingSource(clock *clocktesting.FakeClock, f func(time.Time) []audit.Finding) *findingSource {
	s := &findingSource{clock: clock}
	s.findings.Store(&f)
	return s
}

func (s *findingSource) set(f func(time.Time) []audit.Finding) { s.findings.Store(&f) }

func (s *findingSource) Evaluate(_ context.Context, scope audit.Scope) (audit.Result, error) {
	s.runs.Add(1)
	if err := s.fail.Load(); err != nil {
		return audit.Result{}, *err
	}
	now := s.clock.Now()
	return audit.Result{EvaluatedAt: now, Window: &audit.Window{Start: now.Add(-scope.Lookback), End: now},
		Namespaces: scope.Namespaces, Findings: (*s.findings.Load())(now)}, nil
}

// auditManager is a controller-runtime manager running an Auditor.
type auditManager struct {
	t      *testing.T
	mgr    manager.Manager
	cancel context.CancelFunc
	done   chan error
	ended  sync.Once
}

type auditManagerOptions struct {
	leaderElection bool
	// wrap, when set, wraps the auditor's client (to cut a run short).
	wrap func(client.Client) client.Client
}

// startAuditManager starts a manager with an auditor on clock, and stops it when the test ends.
func startAuditManager(t *testing.T, c *cluster.Cluster, clock *clocktesting.FakeClock, ev audit.Evaluator, o auditManagerOptions) *auditManager {
	t.Helper()
	log := testr.NewWithOptions(t, testr.Options{LogTimestamp: true})
	opts := manager.Options{
		Scheme: c.Scheme, Logger: log,
		Metrics: metricsserver.Options{BindAddress: "0"}, HealthProbeBindAddress: "0",
	}
	if o.leaderElection {
		lease, renew, retry := 4*time.Second, 3*time.Second, 500*time.Millisecond
		opts.LeaderElection, opts.LeaderElectionID, opts.LeaderElectionNamespace = true, "flowguard-auditor", "default"
		opts.LeaseDuration, opts.RenewDeadline, opts.RetryPeriod = &lease, &renew, &retry
	}
	mgr, err := manager.New(c.Config, opts)
	if err != nil {
		t.Fatalf("new manager: %v", err)
	}
	metrics, err := audit.NewMetrics(prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	cl := mgr.GetClient()
	if o.wrap != nil {
		cl = o.wrap(cl)
	}
	aud, err := audit.New(audit.Dependencies{
		Client: cl, Reader: mgr.GetAPIReader(), Informers: mgr.GetCache(), Evaluator: ev, Clock: clock,
		Recorder: mgr.GetEventRecorder("flowguard-auditor"), Metrics: metrics,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := mgr.Add(aud); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(logf.IntoContext(context.Background(), log))
	am := &auditManager{t: t, mgr: mgr, cancel: cancel, done: make(chan error, 1)}
	go func() { am.done <- mgr.Start(ctx) }()
	t.Cleanup(am.stop)
	return am
}

// wait waits for the manager to return; a manager that ends with an error fails the test. Later
// waits return at once.
func (m *auditManager) wait() {
	m.ended.Do(func() {
		if err := <-m.done; err != nil {
			m.t.Errorf("audit manager: %v", err)
		}
	})
}

// stop cancels the manager and waits for it to return.
func (m *auditManager) stop() {
	m.cancel()
	m.wait()
}

// stepWhenIdle advances clock by d once the auditor waits on it, so the step wakes the loop.
func stepWhenIdle(t *testing.T, clock *clocktesting.FakeClock, d time.Duration) {
	t.Helper()
	eventually(t, "the auditor to wait on its clock", func(context.Context) (bool, error) { return clock.HasWaiters(), nil })
	clock.Step(d)
}

// eventually polls cond every 100ms for up to 60s.
func eventually(t *testing.T, what string, cond func(context.Context) (bool, error)) {
	t.Helper()
	err := wait.PollUntilContextTimeout(t.Context(), 100*time.Millisecond, 60*time.Second, true, cond)
	if err != nil {
		t.Fatalf("waiting for %s: %v", what, err)
	}
}

// scheduleStatus waits until the schedule's status satisfies ok and returns it.
func scheduleStatus(t *testing.T, c *cluster.Cluster, name, what string, ok func(v1alpha1.AuditScheduleStatus) bool) v1alpha1.AuditScheduleStatus {
	t.Helper()
	var s v1alpha1.AuditSchedule
	eventually(t, what, func(ctx context.Context) (bool, error) {
		if err := c.Client.Get(ctx, client.ObjectKey{Name: name}, &s); err != nil {
			return false, err
		}
		return ok(s.Status), nil
	})
	return s.Status
}

// Golden files of kubectl output live in testdata/audit; UPDATE_GOLDEN=1 rewrites them.
func goldenText(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", "audit", name)
	if os.Getenv("UPDATE_GOLDEN") != "" {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden file (UPDATE_GOLDEN=1 writes it): %v", err)
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("%s mismatch (-want +got):\n%s", path, diff)
	}
}

var (
	ageCell     = regexp.MustCompile(`^(\d+[smhdy])+$|^<invalid>$|^<unknown>$`)
	volatileRow = regexp.MustCompile(`(?m)^(\s*(?:Creation Timestamp|Resource Version|UID|Last Transition Time):\s+).*$`)
)

// normalizeTable replaces ages in kubectl's table output and re-aligns the columns, so a golden
// file holds whatever the wall clock says. Columns are cut where the header's columns start, as
// kubectl aligns every row to them; blank lines separate tables.
func normalizeTable(out string) string {
	var b bytes.Buffer
	for i, block := range strings.Split(strings.TrimRight(out, "\n"), "\n\n") {
		if i > 0 {
			b.WriteString("\n")
		}
		lines := strings.Split(block, "\n")
		starts := columnStarts(lines[0])
		tw := tabwriter.NewWriter(&b, 0, 0, 3, ' ', 0)
		for _, line := range lines {
			var cells []string
			for k, start := range starts {
				end := len(line)
				if k+1 < len(starts) {
					end = min(starts[k+1], len(line))
				}
				cell := ""
				if start < len(line) {
					cell = strings.TrimSpace(line[start:end])
				}
				if ageCell.MatchString(cell) {
					cell = "<age>"
				}
				cells = append(cells, cell)
			}
			fmt.Fprintln(tw, strings.TrimRight(strings.Join(cells, "\t"), "\t"))
		}
		_ = tw.Flush()
	}
	return b.String()
}

// columnStarts finds where each column of a kubectl table header begins: after two or more
// spaces (a single space sits inside a title such as "LAST RUN").
func columnStarts(header string) []int {
	starts := []int{0}
	for i := 2; i < len(header); i++ {
		if header[i] != ' ' && header[i-1] == ' ' && header[i-2] == ' ' {
			starts = append(starts, i)
		}
	}
	return starts
}

// normalizeDescribe blanks what changes from run to run in kubectl describe output: UIDs,
// resource versions, server-set timestamps, and the ages in its Events table.
func normalizeDescribe(out string) string {
	out = volatileRow.ReplaceAllString(out, "${1}<volatile>")
	head, events, found := strings.Cut(out, "\nEvents:\n")
	if !found || strings.HasPrefix(events, "  <none>") {
		return out
	}
	var table []string
	for _, l := range strings.Split(strings.TrimRight(events, "\n"), "\n") {
		table = append(table, strings.TrimPrefix(l, "  "))
	}
	var b strings.Builder
	b.WriteString(head + "\nEvents:\n")
	for _, l := range strings.Split(strings.TrimRight(normalizeTable(strings.Join(table, "\n")), "\n"), "\n") {
		b.WriteString("  " + l + "\n")
	}
	return b.String()
}

func cmpDiff(want, got any) string { return cmp.Diff(want, got) }
