//go:build e2e

package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/flowguard/flowguard/test/cluster"
)

// webhookCluster is the cluster the webhook scenarios start from: api in shop behind a default
// deny, reachable from namespaces labelled team=web, where frontend runs; quiet has no policy.
const webhookCluster = `
apiVersion: v1
kind: Namespace
metadata: {name: shop, labels: {env: prod}}
---
apiVersion: v1
kind: Namespace
metadata: {name: web, labels: {team: web}}
---
apiVersion: v1
kind: Namespace
metadata: {name: quiet}
---
apiVersion: v1
kind: Namespace
metadata: {name: flowguard-system, labels: {flowguard.dev/exempt: "true"}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: api, namespace: shop, labels: {team: payments}}
spec:
  selector: {matchLabels: {app: api}}
  template:
    metadata: {labels: {app: api}}
    spec: {containers: [{name: api, image: registry.example/api:1, ports: [{name: http, containerPort: 8080}]}]}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: frontend, namespace: web, labels: {team: web}}
spec:
  selector: {matchLabels: {app: frontend}}
  template:
    metadata: {labels: {app: frontend}}
    spec: {containers: [{name: frontend, image: registry.example/frontend:1}]}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: default-deny-ingress, namespace: shop}
spec: {podSelector: {}, policyTypes: [Ingress]}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: allow-web-to-api, namespace: shop}
spec:
  podSelector: {matchLabels: {app: api}}
  policyTypes: [Ingress]
  ingress:
  - from: [{namespaceSelector: {matchLabels: {team: web}}}]
    ports: [{port: 8080, protocol: TCP}]
`

// allowAllIngress admits every peer on every port to api in namespace ns.
func allowAllIngress(ns, name, labels string) string {
	return `
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: ` + name + `, namespace: ` + ns + `, labels: {` + labels + `}}
spec:
  podSelector: {matchLabels: {app: api}}
  policyTypes: [Ingress]
  ingress: [{}]
`
}

// TestWebhook drives flowguard's webhook through the real API server and the real kubectl, with
// config/webhook's configuration calling flowguard serve over TLS, and a traffic graph holding
// web/frontend -> shop/api:8080 as observed a minute ago. The subtests share the control plane
// and run in order; each leaves the cluster as it found it.
func TestWebhook(t *testing.T) {
	c := cluster.StartForTest(t, cluster.Options{})
	ctx := t.Context()
	if _, err := c.KubectlStdin(ctx, webhookCluster, "apply", "-f", "-"); err != nil {
		t.Fatal(err)
	}
	fg := startFlowguard(t, c, "--traffic-snapshot="+observedFlows(t, time.Now()))
	fg.waitForWebhook(t, allowAllIngress("shop", "probe", ""), "[allow-all]")

	t.Run("an allow-all policy is admitted with a warning the client sees", func(t *testing.T) {
		res := fg.kubectl(t, allowAllIngress("shop", "open-api", ""), "apply", "-f", "-")
		if res.err != nil {
			t.Fatalf("kubectl apply: %v\n%s", res.err, res.stderr)
		}
		assertContains(t, "kubectl's stderr", res.stderr, "Warning: [allow-all]")
		assertContains(t, "kubectl's stdout", res.stdout, "networkpolicy.networking.k8s.io/open-api created")
		if res := fg.kubectl(t, "", "delete", "networkpolicy", "-n", "shop", "open-api"); res.err != nil {
			t.Fatalf("delete open-api: %v\n%s", res.err, res.stderr)
		}
	})

	t.Run("a policy that cuts observed traffic is refused and the message names the flows", func(t *testing.T) {
		res := fg.kubectl(t, `
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: frontend-dns-only, namespace: web}
spec:
  podSelector: {matchLabels: {app: frontend}}
  policyTypes: [Egress]
  egress: [{ports: [{port: 53, protocol: UDP}]}]
`, "apply", "-f", "-")
		assertRefused(t, res, `admission webhook "namespaced.flowguard.dev" denied the request`,
			"[breaking-change]", "web/frontend-7d9f8b6c5-* -> shop/api-6f8d9c7b4-*:8080/TCP")
		assertAbsent(t, fg, "networkpolicy", "web", "frontend-dns-only")
	})

	t.Run("an AdminNetworkPolicy that cuts observed traffic is refused, though a Kubernetes policy allows it", func(t *testing.T) {
		res := fg.kubectl(t, `
apiVersion: policy.networking.k8s.io/v1alpha1
kind: AdminNetworkPolicy
metadata: {name: isolate-shop}
spec:
  priority: 10
  subject: {namespaces: {matchLabels: {env: prod}}}
  ingress:
  - name: no-web
    action: Deny
    from: [{namespaces: {matchLabels: {team: web}}}]
`, "apply", "-f", "-")
		assertRefused(t, res, `admission webhook "cluster.flowguard.dev" denied the request`,
			"[breaking-change]", "web/frontend-7d9f8b6c5-* -> shop/api-6f8d9c7b4-*:8080/TCP")
		if res := fg.kubectl(t, "", "get", "adminnetworkpolicies.policy.networking.k8s.io", "isolate-shop"); res.err == nil {
			t.Errorf("AdminNetworkPolicy isolate-shop was created")
		}
	})

	t.Run("deleting the allow policy that carries observed traffic is refused", func(t *testing.T) {
		res := fg.kubectl(t, "", "delete", "networkpolicy", "-n", "shop", "allow-web-to-api")
		assertRefused(t, res, "[breaking-change]", "shop/api-6f8d9c7b4-*:8080/TCP")
		if res := fg.kubectl(t, "", "get", "networkpolicy", "-n", "shop", "allow-web-to-api"); res.err != nil {
			t.Errorf("allow-web-to-api is gone: %v", res.err)
		}
	})

	t.Run("relabelling a namespace so that a policy stops matching it is refused", func(t *testing.T) {
		res := fg.kubectl(t, "", "label", "namespace", "web", "team=marketing", "--overwrite")
		assertRefused(t, res, `admission webhook "cluster.flowguard.dev" denied the request`, "[breaking-change]", "web/frontend")
		out := fg.kubectl(t, "", "get", "namespace", "web", "-o", "jsonpath={.metadata.labels.team}")
		if out.stdout != "web" {
			t.Errorf("namespace web has team=%q, want web", out.stdout)
		}
		// A label no selector reads moves no traffic.
		if res := fg.kubectl(t, "", "label", "namespace", "web", "cost-centre=42"); res.err != nil {
			t.Errorf("a harmless relabel was refused: %v\n%s", res.err, res.stderr)
		}
	})

	t.Run("a workload in a namespace no policy covers gets a warning", func(t *testing.T) {
		res := fg.kubectl(t, `
apiVersion: apps/v1
kind: Deployment
metadata: {name: worker, namespace: quiet, labels: {team: batch}}
spec:
  selector: {matchLabels: {app: worker}}
  template:
    metadata: {labels: {app: worker}}
    spec: {containers: [{name: worker, image: registry.example/worker:1}]}
`, "apply", "-f", "-")
		if res.err != nil {
			t.Fatalf("kubectl apply: %v\n%s", res.err, res.stderr)
		}
		assertContains(t, "kubectl's stderr", res.stderr, "Warning: [unprotected-workload]")
	})

	t.Run("updates that keep the pod labels never reach flowguard", func(t *testing.T) {
		updates := `flowguard_webhook_request_duration_seconds_count{kind="Deployment",operation="UPDATE"}`
		before := fg.metric(t, updates)
		if res := fg.kubectl(t, "", "scale", "deployment", "-n", "quiet", "worker", "--replicas=3"); res.err != nil {
			t.Fatalf("kubectl scale: %v\n%s", res.err, res.stderr)
		}
		if got := fg.metric(t, updates); got != before {
			t.Errorf("a scale reached the webhook: %v Deployment updates, want %v", got, before)
		}
		res := fg.kubectl(t, "", "patch", "deployment", "-n", "quiet", "worker", "--type=merge",
			"-p", `{"spec":{"template":{"metadata":{"labels":{"tier":"backend"}}}}}`)
		if res.err != nil {
			t.Fatalf("kubectl patch: %v\n%s", res.err, res.stderr)
		}
		if got := fg.metric(t, updates); got != before+1 {
			t.Errorf("a pod label change: %v Deployment updates reviewed, want %v", got, before+1)
		}
	})

	t.Run("annotating or re-applying a policy never reaches flowguard", func(t *testing.T) {
		updates := `flowguard_webhook_request_duration_seconds_count{kind="NetworkPolicy",operation="UPDATE"}`
		before := fg.metric(t, updates)
		if res := fg.kubectl(t, "", "annotate", "networkpolicy", "-n", "shop", "allow-web-to-api", "owner=payments"); res.err != nil {
			t.Fatalf("kubectl annotate: %v\n%s", res.err, res.stderr)
		}
		if got := fg.metric(t, updates); got != before {
			t.Errorf("an annotation reached the webhook: %v NetworkPolicy updates, want %v", got, before)
		}
		res := fg.kubectl(t, "", "patch", "networkpolicy", "-n", "shop", "allow-web-to-api", "--type=json",
			"-p", `[{"op":"add","path":"/spec/ingress/0/ports/-","value":{"port":9090,"protocol":"TCP"}}]`)
		if res.err != nil {
			t.Fatalf("a widening patch was refused: %v\n%s", res.err, res.stderr)
		}
		if got := fg.metric(t, updates); got != before+1 {
			t.Errorf("a spec change: %v NetworkPolicy updates reviewed, want %v", got, before+1)
		}
	})

	t.Run("a dryrun rule admits and records", func(t *testing.T) {
		if res := fg.kubectl(t, requireTeamLabel, "apply", "-f", "-"); res.err != nil {
			t.Fatalf("apply RegoRule: %v\n%s", res.err, res.stderr)
		}
		recorded := `flowguard_webhook_decisions_total{action="dryrun",rule="require-team-label"}`
		untagged := `
apiVersion: apps/v1
kind: Deployment
metadata: {name: untagged, namespace: shop}
spec:
  selector: {matchLabels: {app: untagged}}
  template:
    metadata: {labels: {app: untagged}}
    spec: {containers: [{name: c, image: registry.example/untagged:1}]}
`
		// RegoRules reach every replica through an informer; wait until this one is in force.
		if err := wait.PollUntilContextTimeout(t.Context(), 200*time.Millisecond, 30*time.Second, true, func(context.Context) (bool, error) {
			fg.kubectl(t, untagged, "apply", "--dry-run=server", "-f", "-")
			return fg.metric(t, recorded) > 0, nil
		}); err != nil {
			t.Fatalf("the RegoRule never took effect: %v", err)
		}
		before := fg.metric(t, recorded)
		res := fg.kubectl(t, untagged, "apply", "-f", "-")
		if res.err != nil {
			t.Fatalf("a dryrun violation refused the change: %v\n%s", res.err, res.stderr)
		}
		if strings.Contains(res.stderr, "require-team-label") {
			t.Errorf("a dryrun violation reached the client: %s", res.stderr)
		}
		if got := fg.metric(t, recorded); got != before+1 {
			t.Errorf("dryrun decisions = %v, want %v", got, before+1)
		}
		assertContains(t, "flowguard's log", fg.logs.String(), "Dry-run violation")

		// The leader records what it compiled in the rule's status, which kubectl's columns show.
		const columns = `{.status.id} {.status.action} {.status.severity} {.status.conditions[?(@.type=="Compiled")].status}`
		var got string
		if err := wait.PollUntilContextTimeout(t.Context(), 200*time.Millisecond, 30*time.Second, true, func(context.Context) (bool, error) {
			got = fg.kubectl(t, "", "get", "regorule", "require-team-label", "-o", "jsonpath="+columns).stdout
			return got == "require-team-label dryrun low True", nil
		}); err != nil {
			t.Errorf("RegoRule status = %q, want %q", got, "require-team-label dryrun low True")
		}
	})

	t.Run("an exempt namespace and an exempt object are untouched", func(t *testing.T) {
		creates := `flowguard_webhook_request_duration_seconds_count{kind="NetworkPolicy",operation="CREATE"}`
		before := fg.metric(t, creates)
		for _, obj := range []string{
			allowAllIngress(flowguardNamespace, "open", ""),
			allowAllIngress("kube-system", "open", ""),
			allowAllIngress("shop", "open-exempt", `flowguard.dev/exempt: "true"`),
		} {
			res := fg.kubectl(t, obj, "apply", "-f", "-")
			if res.err != nil || strings.Contains(res.stderr, "Warning") {
				t.Errorf("exempt object: err %v, stderr %q", res.err, res.stderr)
			}
		}
		if got := fg.metric(t, creates); got != before {
			t.Errorf("flowguard was called for exempt objects: %v creates reviewed, want %v", got, before)
		}
	})

	t.Run("a RegoRule that does not compile is refused with the line", func(t *testing.T) {
		res := fg.kubectl(t, brokenRegoRule, "apply", "-f", "-")
		assertRefused(t, res, `The RegoRule "broken" is invalid: spec.module: Invalid value: "\tmsg := concat(\"\", [input.object.metadata.name)": `+
			`line 11, column 47: rego_parse_error: unexpected ) token`)
		assertAbsent(t, fg, "regorule", "", "broken")
	})

	t.Run("a Calico policy with a bad selector is refused with the field path", func(t *testing.T) {
		res := fg.kubectl(t, `
apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata: {name: bad-selector, namespace: shop}
spec:
  selector: app == 'api'
  ingress:
  - action: Allow
    protocol: TCP
    source: {selector: "app == 'frontend' && tier = 'web'"}
    destination: {ports: [8080]}
`, "apply", "-f", "-")
		assertRefused(t, res, `spec.ingress[0].source.selector: Invalid value: "app == 'frontend' && tier = 'web'": position 26:`)
		assertAbsent(t, fg, "networkpolicies.projectcalico.org", "shop", "bad-selector")
	})
}

// requireTeamLabel is a user rule whose own action is warn, run as a dry run by its RegoRule.
const requireTeamLabel = `
apiVersion: flowguard.dev/v1alpha1
kind: RegoRule
metadata: {name: require-team-label}
spec:
  enforcementAction: dryrun
  module: |
    # METADATA
    # title: Workloads name the team that owns them
    # custom:
    #   id: require-team-label
    #   severity: low
    #   action: warn
    #   targets: [Deployment]
    package teams.require_team_label

    violation contains {"msg": "workload has no team label", "details": {}} if {
    	not input.object.metadata.labels.team
    }
`

// brokenRegoRule closes a bracket with a parenthesis on line 11 of its module.
const brokenRegoRule = `
apiVersion: flowguard.dev/v1alpha1
kind: RegoRule
metadata: {name: broken}
spec:
  module: |
    # METADATA
    # title: Broken
    # custom:
    #   id: broken
    #   severity: low
    #   action: warn
    #   targets: [Deployment]
    package teams.broken

    violation contains {"msg": msg} if {
    	msg := concat("", [input.object.metadata.name)
    }
`

func assertContains(t *testing.T, what, got, want string) {
	t.Helper()
	if !strings.Contains(got, want) {
		t.Errorf("%s does not contain %q:\n%s", what, want, got)
	}
}

// assertRefused checks that kubectl failed and that its error output holds every wanted text.
func assertRefused(t *testing.T, res kubectlResult, want ...string) {
	t.Helper()
	if res.err == nil {
		t.Fatalf("the change was admitted; stdout %q stderr %q", res.stdout, res.stderr)
	}
	t.Logf("kubectl: %s", res.stderr)
	for _, w := range want {
		assertContains(t, "kubectl's error", res.stderr, w)
	}
}

func assertAbsent(t *testing.T, fg *runningFlowguard, resource, ns, name string) {
	t.Helper()
	args := []string{"get", resource, name, "--ignore-not-found", "-o", "name"}
	if ns != "" {
		args = append(args, "-n", ns)
	}
	if res := fg.kubectl(t, "", args...); res.err != nil || strings.TrimSpace(res.stdout) != "" {
		t.Errorf("%s %s/%s exists after a refusal: %q %v", resource, ns, name, res.stdout, res.err)
	}
}
