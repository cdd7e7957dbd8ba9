package selector

import (
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestFromLabelSelector(t *testing.T) {
	req := func(key string, op metav1.LabelSelectorOperator, values ...string) metav1.LabelSelectorRequirement {
		return metav1.LabelSelectorRequirement{Key: key, Operator: op, Values: values}
	}
	tests := map[string]struct {
		ls    *metav1.LabelSelector
		want  string // canonical selector
		match []Map
		miss  []Map
	}{
		"empty selector selects everything": {
			ls: &metav1.LabelSelector{}, want: "all()", match: []Map{{}, {"a": "b"}}},
		"matchLabels are equalities in key order": {
			ls:    &metav1.LabelSelector{MatchLabels: map[string]string{"tier": "fe", "app": "web"}},
			want:  `(app == "web" && tier == "fe")`,
			match: []Map{{"app": "web", "tier": "fe", "x": "y"}}, miss: []Map{{"app": "web"}}},
		"In": {
			ls:    &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{req("env", metav1.LabelSelectorOpIn, "prod", "dev", "prod")}},
			want:  `env in {"dev", "prod"}`,
			match: []Map{{"env": "dev"}}, miss: []Map{{}, {"env": "qa"}}},
		"NotIn matches when the key is absent": {
			ls:    &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{req("env", metav1.LabelSelectorOpNotIn, "prod")}},
			want:  `env not in {"prod"}`,
			match: []Map{{}, {"env": "dev"}}, miss: []Map{{"env": "prod"}}},
		"Exists": {
			ls:   &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{req("app.kubernetes.io/name", metav1.LabelSelectorOpExists)}},
			want: "has(app.kubernetes.io/name)", match: []Map{{"app.kubernetes.io/name": ""}}, miss: []Map{{}}},
		"DoesNotExist": {
			ls:   &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{req("canary", metav1.LabelSelectorOpDoesNotExist)}},
			want: "!has(canary)", match: []Map{{}}, miss: []Map{{"canary": "true"}}},
		"matchLabels and matchExpressions are ANDed": {
			ls: &metav1.LabelSelector{
				MatchLabels:      map[string]string{"app": "web"},
				MatchExpressions: []metav1.LabelSelectorRequirement{req("canary", metav1.LabelSelectorOpDoesNotExist)},
			},
			want:  `(app == "web" && !has(canary))`,
			match: []Map{{"app": "web"}}, miss: []Map{{"app": "web", "canary": ""}, {}}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			sel, err := FromLabelSelector(tc.ls)
			if err != nil {
				t.Fatal(err)
			}
			if sel.String() != tc.want {
				t.Errorf("String() = %s, want %s", sel.String(), tc.want)
			}
			if !MustParse(sel.String()).Equal(sel) {
				t.Errorf("%s does not round-trip", sel)
			}
			for _, l := range tc.match {
				if !sel.Matches(l) {
					t.Errorf("should match %v", l)
				}
			}
			for _, l := range tc.miss {
				if sel.Matches(l) {
					t.Errorf("should not match %v", l)
				}
			}
		})
	}
}

func TestFromLabelSelectorNil(t *testing.T) {
	sel, err := FromLabelSelector(nil)
	if sel != nil || err != nil {
		t.Errorf("FromLabelSelector(nil) = %v, %v; want nil, nil (not set)", sel, err)
	}
}

func TestFromLabelSelectorErrors(t *testing.T) {
	tests := map[string]struct {
		ls   *metav1.LabelSelector
		want []string // fragments that must all appear: every problem is reported at once
	}{
		"bad key and bad value in matchLabels": {
			ls:   &metav1.LabelSelector{MatchLabels: map[string]string{"bad key": "ok", "k": "bad value"}},
			want: []string{`matchLabels[bad key]: Invalid value: "bad key"`, `matchLabels[k]: Invalid value: "bad value"`},
		},
		"In without values": {
			ls:   &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "a", Operator: metav1.LabelSelectorOpIn}}},
			want: []string{"matchExpressions[0].values: Required value"},
		},
		"Exists with values": {
			ls:   &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "a", Operator: metav1.LabelSelectorOpExists, Values: []string{"x"}}}},
			want: []string{"matchExpressions[0].values: Forbidden"},
		},
		"unknown operator and quoted value": {
			ls: &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{
				{Key: "a", Operator: "Gt", Values: []string{"1"}},
				{Key: "b", Operator: metav1.LabelSelectorOpIn, Values: []string{`x'"y`}},
			}},
			want: []string{`matchExpressions[0].operator: Unsupported value: "Gt"`, "matchExpressions[1].values[0]: Invalid value"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			sel, err := FromLabelSelector(tc.ls)
			if err == nil {
				t.Fatalf("FromLabelSelector = %v, want an error", sel)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}
