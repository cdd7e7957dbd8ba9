package rego

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// userRule builds a user rule module: METADATA for id with the given targets and action, and body
// as the rest of the module after the package line.
func userRule(id, action, targets, body string) string {
	return fmt.Sprintf(`# METADATA
# title: test rule %[1]s
# custom:
#   id: %[1]s
#   severity: low
#   action: %[2]s
#   targets: %[3]s
package test.%[4]s

%[5]s
`, id, action, targets, strings.ReplaceAll(id, "-", "_"), body)
}

func configMapRequest(name string, labels map[string]any) AdmissionRequest {
	return AdmissionRequest{
		UID:       "uid-1",
		Operation: "CREATE",
		Kind:      metav1.GroupVersionKind{Version: "v1", Kind: "ConfigMap"},
		Namespace: "shop",
		Name:      name,
		Object: map[string]any{
			"apiVersion": "v1", "kind": "ConfigMap",
			"metadata": map[string]any{"name": name, "namespace": "shop", "labels": labels},
		},
	}
}

func newTestEngine(t *testing.T, opts Options, users map[string]string) *Engine {
	t.Helper()
	e, err := NewEngine(nil, opts)
	if err != nil {
		t.Fatalf("NewEngine: %v", err)
	}
	if err := e.SetUserRules(users); err != nil {
		t.Fatalf("SetUserRules: %v", err)
	}
	return e
}

const labelledRule = `violation contains {"msg": sprintf("%s has no owner label", [input.object.metadata.name]), "details": {"name": input.name}} if {
	not input.object.metadata.labels.owner
}`

func TestAdmitRunsRulesTargetingTheKind(t *testing.T) {
	e := newTestEngine(t, Options{}, map[string]string{
		"owner.rego":  userRule("needs-owner", "deny", "[ConfigMap]", labelledRule),
		"pods.rego":   userRule("pods-only", "warn", "[Pod]", `violation contains {"msg": "pod"} if true`),
		"audits.rego": userRule("audit-only", "warn", "[audit]\n#   subjects: [ConfigMap]", `violation contains {"msg": "audit"} if true`),
	})
	cases := map[string]struct {
		labels   map[string]any
		wantMsgs []string
		denied   bool
	}{
		"violating object is denied with the rule's message": {wantMsgs: []string{"cm has no owner label"}, denied: true},
		"compliant object passes":                            {labels: map[string]any{"owner": "team-a"}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			res, err := e.Admit(context.Background(), configMapRequest("cm", tc.labels))
			if err != nil {
				t.Fatalf("Admit: %v", err)
			}
			var msgs []string
			for _, v := range res.Violations {
				msgs = append(msgs, v.Msg)
				if v.Resource != (ResourceRef{APIVersion: "v1", Kind: "ConfigMap", Namespace: "shop", Name: "cm"}) {
					t.Errorf("resource = %+v", v.Resource)
				}
				if v.Details["name"] != "cm" {
					t.Errorf("details = %v", v.Details)
				}
			}
			if strings.Join(msgs, "|") != strings.Join(tc.wantMsgs, "|") {
				t.Errorf("violations = %q, want %q", msgs, tc.wantMsgs)
			}
			if res.Denied() != tc.denied {
				t.Errorf("Denied() = %v, want %v", res.Denied(), tc.denied)
			}
		})
	}
}

func TestRuleSetIsCompiledOnceAndReused(t *testing.T) {
	e := newTestEngine(t, Options{}, map[string]string{"owner.rego": userRule("needs-owner", "deny", "[ConfigMap]", labelledRule)})
	before := e.set.Load()
	for i := range 50 {
		if _, err := e.Admit(context.Background(), configMapRequest(fmt.Sprintf("cm-%d", i), nil)); err != nil {
			t.Fatal(err)
		}
	}
	if e.set.Load() != before {
		t.Fatal("Admit replaced the rule set; queries must be prepared once per rule set")
	}
	if err := e.SetUserRules(nil); err != nil {
		t.Fatal(err)
	}
	if e.set.Load() == before {
		t.Fatal("SetUserRules did not swap the rule set")
	}
}

func TestDeadlineCutsOffALoopingRule(t *testing.T) {
	// Ten billion iterations: only the deadline ends it.
	loop := `violation contains {"msg": "never"} if {
	some i in numbers.range(1, 100000)
	some j in numbers.range(1, 100000)
	i == j + 1000000
}`
	e := newTestEngine(t, Options{Deadline: 20 * time.Millisecond}, map[string]string{
		"a.rego": userRule("a-finds-first", "warn", "[ConfigMap]", `violation contains {"msg": "first"} if true`),
		"b.rego": userRule("b-loops", "deny", "[ConfigMap]", loop),
	})
	res, err := e.Admit(context.Background(), configMapRequest("cm", nil))
	if !errors.Is(err, ErrDeadline) {
		t.Fatalf("Admit error = %v, want ErrDeadline", err)
	}
	if !strings.Contains(err.Error(), "rule b-loops: on ConfigMap shop/cm") {
		t.Errorf("error %q does not name the rule and object", err)
	}
	if len(res.Violations) != 1 || res.Violations[0].Msg != "first" {
		t.Errorf("violations found before the cut-off = %+v, want the first rule's", res.Violations)
	}
}

func TestCallerCancellationIsNotADeadline(t *testing.T) {
	e := newTestEngine(t, Options{}, map[string]string{"owner.rego": userRule("needs-owner", "deny", "[ConfigMap]", labelledRule)})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := e.Admit(ctx, configMapRequest("cm", nil))
	if !errors.Is(err, context.Canceled) || errors.Is(err, ErrDeadline) {
		t.Fatalf("Admit error = %v, want context.Canceled", err)
	}
}

func TestParametersReachRules(t *testing.T) {
	rule := userRule("max-labels", "warn", "[ConfigMap]\n#   parameters: {max: 1, unit: labels}", `violation contains {"msg": sprintf("more than %d %s", [p.max, p.unit])} if {
	p := data.flowguard.parameters["max-labels"]
	count(input.object.metadata.labels) > p.max
}`)
	e, err := NewEngine(nil, Options{})
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string]struct {
		params map[string]any
		want   string
	}{
		"METADATA defaults apply":   {want: "more than 1 labels"},
		"configuration overrides":   {params: map[string]any{"max": 0}, want: "more than 0 labels"},
		"configuration can silence": {params: map[string]any{"max": 5}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if err := e.SetUserRuleSet([]UserRule{{Name: "max.rego", Source: rule, Parameters: tc.params}}); err != nil {
				t.Fatal(err)
			}
			res, err := e.Admit(context.Background(), configMapRequest("cm", map[string]any{"a": "1", "b": "2"}))
			if err != nil {
				t.Fatal(err)
			}
			var got string
			if len(res.Violations) > 0 {
				got = res.Violations[0].Msg
			}
			if got != tc.want {
				t.Errorf("violation = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestUserRuleOverridesMetadata(t *testing.T) {
	e, err := NewEngine(nil, Options{})
	if err != nil {
		t.Fatal(err)
	}
	err = e.SetUserRuleSet([]UserRule{{
		Name: "owner.rego", Source: userRule("needs-owner", "deny", "[Pod]", labelledRule),
		Action: ActionDryRun, Severity: SeverityCritical, Targets: []string{"ConfigMap"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	res, err := e.Admit(context.Background(), configMapRequest("cm", nil))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Violations) != 1 {
		t.Fatalf("violations = %+v, want one from the retargeted rule", res.Violations)
	}
	if r := res.Violations[0].Rule; r.Action != ActionDryRun || r.Severity != SeverityCritical || r.Builtin {
		t.Errorf("rule = %+v, want the RegoRule's action and severity, not built-in", r)
	}
}

func TestHotReloadKeepsGoodRulesWhenOneBreaks(t *testing.T) {
	e := newTestEngine(t, Options{}, map[string]string{"owner.rego": userRule("needs-owner", "deny", "[ConfigMap]", labelledRule)})
	err := e.SetUserRules(map[string]string{
		"owner.rego":  userRule("needs-owner", "deny", "[ConfigMap]", labelledRule),
		"broken.rego": userRule("broken", "deny", "[ConfigMap]", `violation contains {"msg": x} if { x := 1 + "a" }`),
	})
	var cerrs CompileErrors
	if !errors.As(err, &cerrs) || cerrs[0].File != "broken.rego" {
		t.Fatalf("SetUserRules error = %v, want CompileErrors naming broken.rego", err)
	}
	ids := map[string]bool{}
	for _, r := range e.Rules() {
		ids[r.ID] = true
	}
	if !ids["needs-owner"] || ids["broken"] {
		t.Errorf("rules in force = %v, want needs-owner and not broken", ids)
	}
}

func TestConcurrentDecisionsDuringReload(t *testing.T) {
	e := newTestEngine(t, Options{}, map[string]string{"owner.rego": userRule("needs-owner", "deny", "[ConfigMap]", labelledRule)})
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 20 {
				res, err := e.Admit(context.Background(), configMapRequest(fmt.Sprintf("cm-%d-%d", g, i), nil))
				if err != nil {
					t.Error(err)
					return
				}
				if len(res.Violations) != 1 {
					t.Errorf("violations = %d, want 1 whichever rule set the decision saw", len(res.Violations))
					return
				}
			}
		})
	}
	for i := range 5 {
		msg := fmt.Sprintf("rev %d", i)
		if err := e.SetUserRules(map[string]string{"owner.rego": userRule("needs-owner", "deny", "[ConfigMap]",
			strings.Replace(labelledRule, "has no owner label", msg, 1))}); err != nil {
			t.Error(err)
		}
	}
	wg.Wait()
}
