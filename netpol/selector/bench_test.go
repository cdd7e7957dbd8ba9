package selector

import "testing"

// sliceLabels has the shape of flows.Labels (a key-sorted slice searched linearly), so the
// figures hold for the labels flowguard evaluates without tying this package's tests to flows.
type sliceLabels []struct{ Key, Value string }

func (l sliceLabels) Get(key string) (string, bool) {
	for _, kv := range l {
		if kv.Key == key {
			return kv.Value, true
		}
	}
	return "", false
}

func (l sliceLabels) Map() Map {
	m := make(Map, len(l))
	for _, kv := range l {
		m[kv.Key] = kv.Value
	}
	return m
}

// A selector shaped like those in real Calico policies: namespace scoping, a role set, an
// exclusion and a prefix test.
const benchSelector = "projectcalico.org/namespace == 'shop' && app in {'cart', 'checkout', 'frontend'} && " +
	"tier != 'db' && !has(quarantine) && version starts with 'v2'"

// Labels as Calico reports them for a pod, sorted by key.
var benchFlowLabels = sliceLabels{
	{Key: "app", Value: "checkout"},
	{Key: "pod-template-hash", Value: "7d9f8b6c5"},
	{Key: "projectcalico.org/namespace", Value: "shop"},
	{Key: "projectcalico.org/orchestrator", Value: "k8s"},
	{Key: "projectcalico.org/serviceaccount", Value: "checkout"},
	{Key: "team", Value: "payments"},
	{Key: "tier", Value: "backend"},
	{Key: "version", Value: "v2.3.1"},
}

func BenchmarkMatches(b *testing.B) {
	sel := MustParse(benchSelector)
	for name, l := range map[string]Labels{
		"sorted slice": benchFlowLabels,
		"Map":          benchFlowLabels.Map(),
	} {
		b.Run(name, func(b *testing.B) {
			if !sel.Matches(l) {
				b.Fatal("benchmark selector must match")
			}
			b.ReportAllocs()
			for b.Loop() {
				sel.Matches(l)
			}
		})
	}
}

func BenchmarkParse(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(benchSelector); err != nil {
			b.Fatal(err)
		}
	}
}
