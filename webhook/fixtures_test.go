package webhook

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	admissionv1 "k8s.io/api/admission/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	clocktesting "k8s.io/utils/clock/testing"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"
	"sigs.k8s.io/yaml"

	"github.com/flowguard/flowguard/rego"
)

// Kinds as the API server names them in an AdmissionRequest.
var (
	gvkNetworkPolicy   = metav1.GroupVersionKind{Group: "networking.k8s.io", Version: "v1", Kind: "NetworkPolicy"}
	gvkCalicoPolicy    = metav1.GroupVersionKind{Group: "projectcalico.org", Version: "v3", Kind: "NetworkPolicy"}
	gvkGlobalPolicy    = metav1.GroupVersionKind{Group: "projectcalico.org", Version: "v3", Kind: "GlobalNetworkPolicy"}
	gvkNamespace       = metav1.GroupVersionKind{Version: "v1", Kind: "Namespace"}
	gvkPod             = metav1.GroupVersionKind{Version: "v1", Kind: "Pod"}
	gvkDeployment      = metav1.GroupVersionKind{Group: "apps", Version: "v1", Kind: "Deployment"}
	gvkCronJob         = metav1.GroupVersionKind{Group: "batch", Version: "v1", Kind: "CronJob"}
	gvkConfigMap       = metav1.GroupVersionKind{Version: "v1", Kind: "ConfigMap"}
	gvkRegoRule        = metav1.GroupVersionKind{Group: "flowguard.dev", Version: "v1alpha1", Kind: "RegoRule"}
	gvkCalicoTier      = metav1.GroupVersionKind{Group: "projectcalico.org", Version: "v3", Kind: "Tier"}
	gvkCalicoSet       = metav1.GroupVersionKind{Group: "projectcalico.org", Version: "v3", Kind: "NetworkSet"}
	gvkStagedK8sPolicy = metav1.GroupVersionKind{Group: "projectcalico.org", Version: "v3", Kind: "StagedKubernetesNetworkPolicy"}
)

// reqMod modifies a request under construction.
type reqMod func(*admission.Request)

// newRequest builds an AdmissionRequest the way the API server sends one. obj and old are YAML
// (or "" where the operation has none).
func newRequest(t testing.TB, gvk metav1.GroupVersionKind, op admissionv1.Operation, obj, old string, mods ...reqMod) admission.Request {
	t.Helper()
	req := admission.Request{AdmissionRequest: admissionv1.AdmissionRequest{
		UID:       types.UID("uid-" + string(op)),
		Kind:      gvk,
		Operation: op,
		UserInfo:  authenticationv1.UserInfo{Username: "alice"},
		Object:    rawYAML(t, obj),
		OldObject: rawYAML(t, old),
	}}
	for _, view := range []runtime.RawExtension{req.OldObject, req.Object} { // the object wins
		if len(view.Raw) == 0 {
			continue
		}
		var meta struct {
			Metadata metav1.ObjectMeta `json:"metadata"`
		}
		if err := yaml.Unmarshal(view.Raw, &meta); err != nil {
			t.Fatalf("fixture metadata: %v", err)
		}
		req.Name, req.Namespace = meta.Metadata.Name, meta.Metadata.Namespace
	}
	for _, m := range mods {
		m(&req)
	}
	return req
}

func rawYAML(t testing.TB, s string) runtime.RawExtension {
	t.Helper()
	if s == "" {
		return runtime.RawExtension{}
	}
	b, err := yaml.YAMLToJSON([]byte(s))
	if err != nil {
		t.Fatalf("fixture YAML: %v\n%s", err, s)
	}
	return runtime.RawExtension{Raw: b}
}

// testRule is a rule written in Go for handler tests: it sees the same input a Rego rule sees.
type testRule struct {
	rego.Rule
	fire func(in rego.AdmissionRequest) []string
}

// ruleDecider is a small real decider: it runs Go rules over the request the handler built,
// skipping rules that need flows while no traffic graph is loaded, as the engine does.
type ruleDecider struct {
	rules       []testRule
	graphLoaded bool

	mu    sync.Mutex
	calls []rego.AdmissionRequest
}

func (d *ruleDecider) Admit(ctx context.Context, in rego.AdmissionRequest) (rego.Result, error) {
	d.mu.Lock()
	d.calls = append(d.calls, in)
	d.mu.Unlock()
	kind := in.Kind.Kind
	if g := in.Kind.Group; g != "" && g != "apps" && g != "batch" && g != "networking.k8s.io" {
		kind = g + "/" + kind
	}
	var res rego.Result
	for _, r := range d.rules {
		if !slices.Contains(r.Targets, kind) {
			continue
		}
		if r.NeedsFlows && !d.graphLoaded {
			res.Skipped = append(res.Skipped, r.Rule)
			continue
		}
		for _, msg := range r.fire(in) {
			res.Violations = append(res.Violations, rego.Violation{Rule: r.Rule, Msg: msg})
		}
	}
	return res, ctx.Err()
}

func (d *ruleDecider) called() []rego.AdmissionRequest {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Clone(d.calls)
}

// The rules the handler tests run, one per enforcement action plus one that needs flows.
func testRules() []testRule {
	policyKinds := []string{"NetworkPolicy", "projectcalico.org/NetworkPolicy", "projectcalico.org/GlobalNetworkPolicy"}
	return []testRule{
		{
			Rule: rego.Rule{ID: "allow-all", Action: rego.ActionWarn, Targets: policyKinds},
			fire: func(in rego.AdmissionRequest) []string {
				spec, _ := in.Object["spec"].(map[string]any)
				ingress, _ := spec["ingress"].([]any)
				var out []string
				for i, r := range ingress {
					if rule, _ := r.(map[string]any); rule["from"] == nil {
						out = append(out, fmt.Sprintf("ingress rule %d admits every peer on every port", i))
					}
				}
				return out
			},
		},
		{
			Rule: rego.Rule{ID: "no-policy-delete", Action: rego.ActionDeny, Targets: policyKinds},
			fire: func(in rego.AdmissionRequest) []string {
				if in.Operation == "DELETE" {
					return []string{fmt.Sprintf("deleting %s/%s would cut frontend -> api:8080 (12 flows, last seen 1m ago)", in.Namespace, in.Name)}
				}
				return nil
			},
		},
		{
			Rule: rego.Rule{ID: "forbidden-label", Action: rego.ActionDeny, Targets: append([]string{"Pod", "Deployment", "Namespace"}, policyKinds...)},
			fire: func(in rego.AdmissionRequest) []string {
				if labels(in.Object)["forbidden"] == "true" {
					return []string{"label forbidden=true is not allowed"}
				}
				return nil
			},
		},
		{
			Rule: rego.Rule{ID: "team-label", Action: rego.ActionDryRun, Targets: []string{"Deployment", "Pod"}},
			fire: func(in rego.AdmissionRequest) []string {
				if labels(in.Object)["team"] == nil {
					return []string{"workload has no team label"}
				}
				return nil
			},
		},
		{
			Rule: rego.Rule{ID: "breaking-change", Action: rego.ActionDeny, NeedsFlows: true, Targets: append([]string{"Namespace"}, policyKinds...)},
			fire: func(rego.AdmissionRequest) []string { return nil },
		},
	}
}

func labels(obj map[string]any) map[string]any {
	meta, _ := obj["metadata"].(map[string]any)
	l, _ := meta["labels"].(map[string]any)
	return l
}

// newTestHandler builds a handler over d with a fresh registry, so metrics can be read back.
func newTestHandler(t testing.TB, d Decider, cfg Config) (*Handler, *Metrics) {
	t.Helper()
	clk := clocktesting.NewFakePassiveClock(time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC))
	m, err := NewMetrics(prometheus.NewRegistry(), clk.Now, nil)
	if err != nil {
		t.Fatal(err)
	}
	h, err := NewHandler(Options{Decider: d, Config: cfg, Metrics: m, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)
	return h, m
}
