package selector

import (
	"fmt"
	"slices"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// FromLabelSelector translates a Kubernetes label selector into the equivalent Calico selector,
// so that Kubernetes and Calico policies are evaluated by one engine. matchLabels become
// k == 'v' (in key order), then matchExpressions in their order: In → k in {...},
// NotIn → k not in {...} (true when k is absent, as in Kubernetes), Exists → has(k),
// DoesNotExist → !has(k); all terms are joined with &&. An empty selector ({}) is all().
//
// A nil selector means "not set" and yields (nil, nil): whether that selects everything or
// nothing depends on the field (podSelector, namespaceSelector, peer) and is the caller's call.
//
// Keys, values and operators are validated as the API server validates them; every problem is
// reported at once, each with its field path.
func FromLabelSelector(ls *metav1.LabelSelector) (*Selector, error) {
	sel, errs := FromLabelSelectorAt(ls, nil)
	if len(errs) > 0 {
		return nil, fmt.Errorf("convert label selector: %w", errs.ToAggregate())
	}
	return sel, nil
}

// FromLabelSelectorAt is FromLabelSelector for the selector at path of an object: its problems
// are field errors under path, as the API server words them
// (spec.podSelector.matchExpressions[0].operator: Unsupported value: "Inn": ...).
func FromLabelSelectorAt(ls *metav1.LabelSelector, path *field.Path) (*Selector, field.ErrorList) {
	if ls == nil {
		return nil, nil
	}
	var errs field.ErrorList
	var terms []node

	keys := make([]string, 0, len(ls.MatchLabels))
	for k := range ls.MatchLabels {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	mlPath := path.Child("matchLabels")
	for _, k := range keys {
		v := ls.MatchLabels[k]
		p := mlPath.Key(k)
		errs = append(errs, validateKey(p, k)...)
		for _, msg := range validation.IsValidLabelValue(v) {
			errs = append(errs, field.Invalid(p, v, msg))
		}
		terms = append(terms, node{kind: opEq, key: k, value: v})
	}

	for i, e := range ls.MatchExpressions {
		p := path.Child("matchExpressions").Index(i)
		errs = append(errs, validateKey(p.Child("key"), e.Key)...)
		for j, v := range e.Values {
			for _, msg := range validation.IsValidLabelValue(v) {
				errs = append(errs, field.Invalid(p.Child("values").Index(j), v, msg))
			}
		}
		switch e.Operator {
		case metav1.LabelSelectorOpIn, metav1.LabelSelectorOpNotIn:
			if len(e.Values) == 0 {
				errs = append(errs, field.Required(p.Child("values"), "must be non-empty for In and NotIn"))
			}
			set := slices.Clone(e.Values)
			slices.Sort(set)
			n := node{kind: opIn, key: e.Key, set: slices.Compact(set)}
			if e.Operator == metav1.LabelSelectorOpNotIn {
				n.kind = opNotIn
			}
			terms = append(terms, n)
		case metav1.LabelSelectorOpExists, metav1.LabelSelectorOpDoesNotExist:
			if len(e.Values) > 0 {
				errs = append(errs, field.Forbidden(p.Child("values"), "must be empty for Exists and DoesNotExist"))
			}
			n := node{kind: opHas, key: e.Key}
			if e.Operator == metav1.LabelSelectorOpDoesNotExist {
				n = negate(n)
			}
			terms = append(terms, n)
		default:
			errs = append(errs, field.NotSupported(p.Child("operator"), e.Operator, []metav1.LabelSelectorOperator{
				metav1.LabelSelectorOpIn, metav1.LabelSelectorOpNotIn,
				metav1.LabelSelectorOpExists, metav1.LabelSelectorOpDoesNotExist,
			}))
		}
	}
	if len(errs) > 0 {
		return nil, errs
	}
	switch len(terms) {
	case 0:
		return newSelector(node{kind: opAll}), nil
	case 1:
		return newSelector(terms[0]), nil
	}
	return newSelector(node{kind: opAnd, kids: terms}), nil
}

// validateKey applies the API server's rule for label keys (an optional DNS-subdomain prefix and
// a name), which also keeps every key inside the Calico label alphabet.
func validateKey(p *field.Path, k string) field.ErrorList {
	var errs field.ErrorList
	for _, msg := range validation.IsQualifiedName(k) {
		errs = append(errs, field.Invalid(p, k, msg))
	}
	return errs
}
