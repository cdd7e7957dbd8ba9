package recommend

import (
	"maps"
	"slices"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/flowguard/flowguard/netpol"
)

// volatility decides which labels may select pods.
type volatility struct {
	exact    map[string]bool
	prefixes []string
}

func newVolatility(extra []string) volatility {
	v := volatility{exact: map[string]bool{}}
	for _, k := range append(netpol.VolatileLabels(), extra...) {
		if strings.HasSuffix(k, "/") {
			v.prefixes = append(v.prefixes, k)
		} else {
			v.exact[k] = true
		}
	}
	return v
}

func (v volatility) volatile(key string) bool {
	if v.exact[key] {
		return true
	}
	for _, p := range v.prefixes {
		if strings.HasPrefix(key, p) {
			return true
		}
	}
	return false
}

// stable returns the labels of a pod template that may select its pods.
func (v volatility) stable(labels map[string]string) map[string]string {
	out := make(map[string]string, len(labels))
	for k, val := range labels {
		if !v.volatile(k) {
			out[k] = val
		}
	}
	return out
}

// labelSelector selects pods: every Match label present with its value, every Absent key
// missing. It is the common form of a Kubernetes podSelector and a Calico selector.
type labelSelector struct {
	Match  map[string]string
	Absent []string // sorted
}

// matches reports whether labels satisfy the selector.
func (s *labelSelector) matches(labels map[string]string) bool {
	for k, v := range s.Match {
		if got, ok := labels[k]; !ok || got != v {
			return false
		}
	}
	for _, k := range s.Absent {
		if _, ok := labels[k]; ok {
			return false
		}
	}
	return true
}

// kubernetes renders the selector as a podSelector.
func (s *labelSelector) kubernetes() metav1.LabelSelector {
	out := metav1.LabelSelector{}
	if len(s.Match) > 0 {
		out.MatchLabels = maps.Clone(s.Match)
	}
	for _, k := range s.Absent {
		out.MatchExpressions = append(out.MatchExpressions, metav1.LabelSelectorRequirement{Key: k, Operator: metav1.LabelSelectorOpDoesNotExist})
	}
	return out
}

// calico renders the selector in Calico's selector language, terms in key order.
func (s *labelSelector) calico() string {
	var terms []string
	for _, k := range slices.Sorted(maps.Keys(s.Match)) {
		terms = append(terms, k+" == '"+s.Match[k]+"'")
	}
	for _, k := range s.Absent {
		terms = append(terms, "!has("+k+")")
	}
	if len(terms) == 0 {
		return "all()"
	}
	return strings.Join(terms, " && ")
}

// keyRank orders the keys a selector is built from: the labels people select workloads by
// come first, so that recommendations read like hand-written policies.
var keyRank = map[string]int{
	"app.kubernetes.io/name":      0,
	"app":                         1,
	"k8s-app":                     2,
	"app.kubernetes.io/instance":  3,
	"name":                        4,
	"app.kubernetes.io/component": 5,
	"component":                   6,
	"tier":                        7,
	"role":                        8,
}

func rankOf(k string) int {
	if r, ok := keyRank[k]; ok {
		return r
	}
	return len(keyRank)
}

// distinguish builds the selector for one group of a namespace from its stable labels: the
// fewest of them that tell it apart from the other groups of the namespace (given by their
// stable labels), then a "key absent" term for each group whose stable labels are a strict
// superset of its own. Groups with identical stable labels are merged before this is called,
// so every other group can be excluded. The result depends only on the label sets, never on
// the order of others.
func distinguish(stable map[string]string, others []map[string]string) labelSelector {
	keys := slices.SortedFunc(maps.Keys(stable), func(a, b string) int {
		if ra, rb := rankOf(a), rankOf(b); ra != rb {
			return ra - rb
		}
		return strings.Compare(a, b)
	})
	sel := labelSelector{Match: map[string]string{}}
	if len(keys) == 0 {
		return sel
	}
	// matching[i] is true while others[i] still matches the selector.
	matching := make([]bool, len(others))
	for i := range matching {
		matching[i] = true
	}
	left := len(others)
	eliminated := func(k string) int {
		n := 0
		for i, o := range others {
			if v, ok := o[k]; matching[i] && (!ok || v != stable[k]) {
				n++
			}
		}
		return n
	}
	add := func(k string) {
		sel.Match[k] = stable[k]
		for i, o := range others {
			if v, ok := o[k]; matching[i] && (!ok || v != stable[k]) {
				matching[i] = false
				left--
			}
		}
	}
	// The most telling key comes first even when nothing needs telling apart, so that a
	// lone workload is selected by its name label rather than by nothing.
	add(keys[0])
	for left > 0 {
		best, bestN := "", 0
		for _, k := range keys {
			if _, used := sel.Match[k]; used {
				continue
			}
			if n := eliminated(k); n > bestN {
				best, bestN = k, n
			}
		}
		if bestN == 0 {
			break
		}
		add(best)
	}
	// What is left carries every stable label of this group, and more: exclude it by the
	// first key it has that this group lacks.
	absent := map[string]bool{}
	for i, o := range others {
		if !matching[i] {
			continue
		}
		for _, k := range slices.Sorted(maps.Keys(o)) {
			if _, ok := stable[k]; !ok {
				absent[k] = true
				break
			}
		}
	}
	sel.Absent = slices.Sorted(maps.Keys(absent))
	return sel
}

// labelKey is a canonical string of a label set, for grouping.
func labelKey(l map[string]string) string {
	var b strings.Builder
	for _, k := range slices.Sorted(maps.Keys(l)) {
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(l[k])
		b.WriteByte(',')
	}
	return b.String()
}
