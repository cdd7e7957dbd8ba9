package webhook

import (
	"context"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
	admissionv1 "k8s.io/api/admission/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/flowguard/flowguard/rego"
)

const (
	openPolicy = `
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: open, namespace: shop}
spec:
  podSelector: {}
  ingress: [{}]`
	narrowPolicy = `
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: api, namespace: shop}
spec:
  podSelector: {matchLabels: {app: api}}
  ingress: [{from: [{podSelector: {matchLabels: {app: frontend}}}]}]`
	forbiddenPolicy = `
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: bad, namespace: shop, labels: {forbidden: "true"}}
spec:
  podSelector: {}
  ingress: [{}, {}]`
	exemptPolicy = `
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: bad, namespace: shop, labels: {forbidden: "true", flowguard.dev/exempt: "true"}}
spec: {podSelector: {}}`
	systemPolicy = `
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: bad, namespace: kube-system, labels: {forbidden: "true"}}
spec: {podSelector: {}}`
	pod = `
apiVersion: v1
kind: Pod
metadata: {name: web-0, namespace: shop, labels: {app: web, team: a}}
spec: {containers: [{name: web, image: nginx}]}`
	podRelabelled = `
apiVersion: v1
kind: Pod
metadata: {name: web-0, namespace: shop, labels: {app: web, team: a, forbidden: "true"}}
spec: {containers: [{name: web, image: nginx}]}`
	podNewImage = `
apiVersion: v1
kind: Pod
metadata: {name: web-0, namespace: shop, labels: {team: a, app: web}}
spec: {containers: [{name: web, image: nginx:2}]}`
	podOwned = `
apiVersion: v1
kind: Pod
metadata:
  name: web-7d9f-abcde
  namespace: shop
  labels: {app: web, forbidden: "true"}
  ownerReferences: [{apiVersion: apps/v1, kind: ReplicaSet, name: web-7d9f, uid: u1, controller: true}]
spec: {containers: [{name: web, image: nginx}]}`
	deployment = `
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: web, image: nginx}]}`
	deploymentScaled = `
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  replicas: 5
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: web, image: nginx}]}`
	deploymentRelabelled = `
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web, tier: edge}}
    spec: {containers: [{name: web, image: nginx}]}`
	cronJob = `
apiVersion: batch/v1
kind: CronJob
metadata: {name: report, namespace: shop}
spec:
  schedule: "@daily"
  jobTemplate:
    spec:
      template:
        metadata: {labels: {app: report}}
        spec: {restartPolicy: Never, containers: [{name: r, image: busybox}]}`
	cronJobRelabelled = `
apiVersion: batch/v1
kind: CronJob
metadata: {name: report, namespace: shop}
spec:
  schedule: "@hourly"
  jobTemplate:
    spec:
      template:
        metadata: {labels: {app: report, egress: open}}
        spec: {restartPolicy: Never, containers: [{name: r, image: busybox}]}`
	namespaceShop = `
apiVersion: v1
kind: Namespace
metadata: {name: shop, labels: {env: prod}}`
	namespaceShopRelabelled = `
apiVersion: v1
kind: Namespace
metadata: {name: shop, labels: {env: staging}}`
	namespaceSystem = `
apiVersion: v1
kind: Namespace
metadata: {name: kube-system, labels: {env: prod}}`
	namespaceSystemRelabelled = `
apiVersion: v1
kind: Namespace
metadata: {name: kube-system, labels: {env: staging, forbidden: "true"}}`
	narrowPolicyAnnotated = `
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: api, namespace: shop, annotations: {owner: payments}}
spec:
  podSelector: {matchLabels: {app: api}}
  ingress: [{from: [{podSelector: {matchLabels: {app: frontend}}}]}]`
	configMap = `
apiVersion: v1
kind: ConfigMap
metadata: {name: c, namespace: shop}`
)

func TestHandlerDecisions(t *testing.T) {
	tests := map[string]struct {
		gvk       string
		op        admissionv1.Operation
		obj, old  string
		overrides map[string]rego.Action
		noGraph   bool
		// wantCalls is how many times the rules ran: 0 proves a request was admitted before
		// anything was evaluated.
		wantCalls    int
		wantAllowed  bool
		wantCode     int32
		wantMessage  []string
		wantWarnings []string
		wantAudit    string
	}{
		"a narrow policy is admitted silently": {
			gvk: "np", op: admissionv1.Create, obj: narrowPolicy,
			wantCalls: 1, wantAllowed: true, wantCode: 200,
		},
		"an allow-all policy is admitted with a warning the client sees": {
			gvk: "np", op: admissionv1.Create, obj: openPolicy,
			wantCalls: 1, wantAllowed: true, wantCode: 200,
			wantWarnings: []string{"[allow-all] ingress rule 0 admits every peer on every port"},
		},
		"every deny message and every warning are reported at once": {
			gvk: "np", op: admissionv1.Update, obj: forbiddenPolicy, old: narrowPolicy,
			wantCalls: 1, wantAllowed: false, wantCode: 403,
			wantMessage: []string{"[forbidden-label] label forbidden=true is not allowed"},
			wantWarnings: []string{
				"[allow-all] ingress rule 0 admits every peer on every port",
				"[allow-all] ingress rule 1 admits every peer on every port",
			},
		},
		"deleting a policy goes to the rules with the old object": {
			gvk: "np", op: admissionv1.Delete, old: narrowPolicy,
			wantCalls: 1, wantAllowed: false, wantCode: 403,
			wantMessage: []string{"[no-policy-delete] deleting shop/api would cut frontend -> api:8080 (12 flows, last seen 1m ago)"},
		},
		"re-applying an unchanged policy is skipped": {
			gvk: "np", op: admissionv1.Update, obj: narrowPolicy, old: narrowPolicy,
			wantCalls: 0, wantAllowed: true, wantCode: 200,
		},
		"annotating a policy is skipped": {
			gvk: "np", op: admissionv1.Update, obj: narrowPolicyAnnotated, old: narrowPolicy,
			wantCalls: 0, wantAllowed: true, wantCode: 200,
		},
		"an override turns a warning into a denial": {
			gvk: "np", op: admissionv1.Create, obj: openPolicy,
			overrides: map[string]rego.Action{"allow-all": rego.ActionDeny},
			wantCalls: 1, wantAllowed: false, wantCode: 403,
			wantMessage: []string{"[allow-all] ingress rule 0 admits every peer on every port"},
		},
		"an override turns a denial into a dry run": {
			gvk: "np", op: admissionv1.Delete, old: narrowPolicy,
			overrides: map[string]rego.Action{"no-policy-delete": rego.ActionDryRun},
			wantCalls: 1, wantAllowed: true, wantCode: 200,
			wantAudit: `[{"rule":"no-policy-delete","msg":"deleting shop/api would cut frontend -\u003e api:8080 (12 flows, last seen 1m ago)"}]`,
		},
		"a dry-run violation admits and is recorded in an audit annotation": {
			gvk: "deploy", op: admissionv1.Create, obj: deployment,
			wantCalls: 1, wantAllowed: true, wantCode: 200,
			wantAudit: `[{"rule":"team-label","msg":"workload has no team label"}]`,
		},
		"an object in an exempt namespace is untouched": {
			gvk: "np", op: admissionv1.Create, obj: systemPolicy,
			wantCalls: 0, wantAllowed: true, wantCode: 200,
		},
		"an object labelled exempt is untouched": {
			gvk: "np", op: admissionv1.Create, obj: exemptPolicy,
			wantCalls: 0, wantAllowed: true, wantCode: 200,
		},
		"relabelling an exempt namespace is untouched": {
			gvk: "ns", op: admissionv1.Update, obj: namespaceSystemRelabelled, old: namespaceSystem,
			wantCalls: 0, wantAllowed: true, wantCode: 200,
		},
		"relabelling a namespace goes to the rules": {
			gvk: "ns", op: admissionv1.Update, obj: namespaceShopRelabelled, old: namespaceShop, noGraph: true,
			wantCalls: 1, wantAllowed: true, wantCode: 200,
			wantWarnings: []string{"flowguard: the traffic graph is not loaded yet; not checked against observed flows: breaking-change"},
		},
		"creating a namespace moves no traffic": {
			gvk: "ns", op: admissionv1.Create, obj: namespaceShop,
			wantCalls: 0, wantAllowed: true, wantCode: 200,
		},
		"a pod update that keeps its labels is skipped": {
			gvk: "pod", op: admissionv1.Update, obj: podNewImage, old: pod,
			wantCalls: 0, wantAllowed: true, wantCode: 200,
		},
		"a pod update that changes its labels goes to the rules": {
			gvk: "pod", op: admissionv1.Update, obj: podRelabelled, old: pod,
			wantCalls: 1, wantAllowed: false, wantCode: 403,
			wantMessage: []string{"[forbidden-label] label forbidden=true is not allowed"},
		},
		"a pod its ReplicaSet creates was checked with its Deployment": {
			gvk: "pod", op: admissionv1.Create, obj: podOwned,
			wantCalls: 0, wantAllowed: true, wantCode: 200,
		},
		"scaling a deployment is skipped": {
			gvk: "deploy", op: admissionv1.Update, obj: deploymentScaled, old: deployment,
			wantCalls: 0, wantAllowed: true, wantCode: 200,
		},
		"changing a deployment's pod labels goes to the rules": {
			gvk: "deploy", op: admissionv1.Update, obj: deploymentRelabelled, old: deployment,
			wantCalls: 1, wantAllowed: true, wantCode: 200,
			wantAudit: `[{"rule":"team-label","msg":"workload has no team label"}]`,
		},
		"changing a cronjob's schedule and job template labels goes to the rules": {
			gvk: "cronjob", op: admissionv1.Update, obj: cronJobRelabelled, old: cronJob,
			wantCalls: 1, wantAllowed: true, wantCode: 200,
		},
		"a kind flowguard does not handle is admitted": {
			gvk: "cm", op: admissionv1.Create, obj: configMap,
			wantCalls: 0, wantAllowed: true, wantCode: 200,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			d := &ruleDecider{rules: testRules(), graphLoaded: !tc.noGraph}
			cfg := DefaultConfig("flowguard-system")
			cfg.Overrides = tc.overrides
			h, _ := newTestHandler(t, d, cfg)
			resp := h.Handle(context.Background(), newRequest(t, fixtureKind(tc.gvk), tc.op, tc.obj, tc.old))

			if got := len(d.called()); got != tc.wantCalls {
				t.Errorf("rules ran %d times, want %d", got, tc.wantCalls)
			}
			assertResponse(t, resp, tc.wantAllowed, tc.wantCode, tc.wantMessage, tc.wantWarnings)
			if got := resp.AuditAnnotations[dryRunAnnotation]; got != tc.wantAudit {
				t.Errorf("audit annotation = %s, want %s", got, tc.wantAudit)
			}
		})
	}
}

func fixtureKind(short string) metav1.GroupVersionKind {
	switch short {
	case "np":
		return gvkNetworkPolicy
	case "ns":
		return gvkNamespace
	case "pod":
		return gvkPod
	case "deploy":
		return gvkDeployment
	case "cronjob":
		return gvkCronJob
	case "cm":
		return gvkConfigMap
	}
	panic("unknown fixture kind " + short)
}

// assertResponse checks the decision, the status code, that the message holds every wanted
// line, and the exact warnings.
func assertResponse(t *testing.T, resp admission.Response, allowed bool, code int32, message, warnings []string) {
	t.Helper()
	if resp.Allowed != allowed {
		t.Errorf("allowed = %v, want %v (message %q)", resp.Allowed, allowed, resp.Result.Message)
	}
	if resp.Result == nil || resp.Result.Code != code {
		t.Errorf("result = %+v, want code %d", resp.Result, code)
	}
	for _, m := range message {
		if resp.Result == nil || !strings.Contains(resp.Result.Message, m) {
			t.Errorf("message %q does not contain %q", resp.Result.Message, m)
		}
	}
	if len(message) == 0 && resp.Result != nil && !resp.Allowed {
		t.Errorf("unexpected refusal: %q", resp.Result.Message)
	}
	if strings.Join(resp.Warnings, "\n") != strings.Join(warnings, "\n") {
		t.Errorf("warnings = %q, want %q", resp.Warnings, warnings)
	}
}

func TestHandlerRecordsDecisionsInMetrics(t *testing.T) {
	d := &ruleDecider{rules: testRules(), graphLoaded: true}
	h, m := newTestHandler(t, d, DefaultConfig("flowguard-system"))
	h.Handle(context.Background(), newRequest(t, gvkNetworkPolicy, admissionv1.Create, forbiddenPolicy, ""))
	h.Handle(context.Background(), newRequest(t, gvkDeployment, admissionv1.Create, deployment, ""))

	for _, c := range []struct {
		rule, action string
		want         float64
	}{
		{"allow-all", "warn", 2},
		{"forbidden-label", "deny", 1},
		{"team-label", "dryrun", 1},
		{"no-policy-delete", "deny", 0},
	} {
		if got := testutil.ToFloat64(m.decisions.WithLabelValues(c.rule, c.action)); got != c.want {
			t.Errorf("decisions{rule=%s,action=%s} = %v, want %v", c.rule, c.action, got, c.want)
		}
	}
	if got := testutil.CollectAndCount(m.duration); got != 2 {
		t.Errorf("duration series = %d, want one per kind and operation (2)", got)
	}
}

func TestHandlerBuildsRuleInput(t *testing.T) {
	d := &ruleDecider{rules: testRules()}
	h, _ := newTestHandler(t, d, DefaultConfig("flowguard-system"))
	dryRun := true
	h.Handle(context.Background(), newRequest(t, gvkNetworkPolicy, admissionv1.Update, openPolicy, narrowPolicy,
		func(r *admission.Request) { r.DryRun = &dryRun }))

	calls := d.called()
	if len(calls) != 1 {
		t.Fatalf("rules ran %d times, want 1", len(calls))
	}
	in := calls[0]
	if in.UID != "uid-UPDATE" || in.Operation != "UPDATE" || in.Namespace != "shop" || in.Name != "open" ||
		in.Kind != gvkNetworkPolicy || in.UserInfo.Username != "alice" || !in.DryRun {
		t.Errorf("request fields = %+v", in)
	}
	if name := in.Object["metadata"].(map[string]any)["name"]; name != "open" {
		t.Errorf("object name = %v, want open", name)
	}
	if name := in.OldObject["metadata"].(map[string]any)["name"]; name != "api" {
		t.Errorf("old object name = %v, want api", name)
	}
}
