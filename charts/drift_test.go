package charts

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	"helm.sh/helm/v4/pkg/chart/v2/loader"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"
)

// configDefault is the kustomize tree that must render what the chart renders with its defaults.
const configDefault = "../config/default"

// helmOnlyLabels are the labels only Helm can set: who manages the object and which chart
// version rendered it.
var helmOnlyLabels = []string{"helm.sh/chart", "app.kubernetes.io/managed-by"}

// onlyInConfig are the objects config/default holds and the chart does not, with the reason.
var onlyInConfig = map[string]string{
	"v1, Kind=Namespace flowguard-system": "Helm creates the release namespace (--create-namespace); docs/install.md labels it",
}

// object is one Kubernetes object as a JSON-like tree.
type object = map[string]any

// objectKey names an object: apiVersion, kind, namespace and name.
func objectKey(o object) string {
	meta, _ := o["metadata"].(map[string]any)
	ns, _ := meta["namespace"].(string)
	name, _ := meta["name"].(string)
	if ns != "" {
		name = ns + "/" + name
	}
	return fmt.Sprintf("%s, Kind=%s %s", o["apiVersion"], o["kind"], name)
}

// chartObjects renders the chart's templates with its default values as release "flowguard" in
// namespace "flowguard-system", as `helm install flowguard charts/flowguard -n flowguard-system`
// does, and adds its CRDs (Helm installs crds/ before the templates).
func chartObjects(t *testing.T) map[string]object {
	t.Helper()
	ms, err := render(t, nil)
	if err != nil {
		t.Fatalf("render chart: %v", err)
	}
	out := map[string]object{}
	add := func(source string, raw []byte) {
		var o object
		if err := yaml.Unmarshal(raw, &o); err != nil {
			t.Fatalf("%s: %v", source, err)
		}
		if meta, ok := o["metadata"].(map[string]any); ok {
			if labels, ok := meta["labels"].(map[string]any); ok {
				for _, l := range helmOnlyLabels {
					delete(labels, l)
				}
			}
		}
		out[objectKey(o)] = o
	}
	for _, m := range ms {
		add(m.Kind+" "+m.Name, m.Raw)
	}
	chrt, err := loader.Load(chartDir)
	if err != nil {
		t.Fatalf("load chart: %v", err)
	}
	for _, crd := range chrt.CRDObjects() {
		add(crd.Filename, crd.File.Data)
	}
	return out
}

// kustomizeObjects builds dir as `kubectl apply -k dir` does.
func kustomizeObjects(t *testing.T, dir string) map[string]object {
	t.Helper()
	res, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(filesys.MakeFsOnDisk(), dir)
	if err != nil {
		t.Fatalf("kustomize build %s: %v", dir, err)
	}
	out := map[string]object{}
	for _, r := range res.Resources() {
		data, err := r.MarshalJSON()
		if err != nil {
			t.Fatalf("kustomize build %s: %s: %v", dir, r.CurId(), err)
		}
		var o object // decoded as the chart's objects are, numbers as float64
		if err := json.Unmarshal(data, &o); err != nil {
			t.Fatalf("kustomize build %s: %s: %v", dir, r.CurId(), err)
		}
		out[objectKey(o)] = o
	}
	return out
}

// TestChartMatchesConfigDefault holds config/default to the chart: with the chart's default
// values, both install the same objects, field for field, apart from the labels only Helm sets.
// A change to one without the other fails here, naming the object and the field.
func TestChartMatchesConfigDefault(t *testing.T) {
	chart := chartObjects(t)
	config := kustomizeObjects(t, configDefault)

	for _, key := range slices.Sorted(maps.Keys(config)) {
		if _, ok := chart[key]; !ok {
			if _, expected := onlyInConfig[key]; !expected {
				t.Errorf("%s: in config/default, not rendered by the chart", key)
			}
		}
	}
	for key := range onlyInConfig {
		if _, ok := config[key]; !ok {
			t.Errorf("%s: config/default no longer holds it; drop it from onlyInConfig", key)
		}
	}
	for _, key := range slices.Sorted(maps.Keys(chart)) {
		want, ok := config[key]
		if !ok {
			t.Errorf("%s: rendered by the chart, not in config/default", key)
			continue
		}
		for _, d := range fieldDiffs("", want, chart[key]) {
			t.Errorf("%s: %s", key, d)
		}
	}
}

// fieldDiffs lists where config and chart differ, one line per field with its path. Lists whose
// items all have a distinct name are matched by name (containers, env, volumes, webhooks).
func fieldDiffs(path string, config, chart any) []string {
	switch c := config.(type) {
	case map[string]any:
		h, ok := chart.(map[string]any)
		if !ok {
			break
		}
		var out []string
		for _, k := range slices.Sorted(maps.Keys(c)) {
			p := strings.TrimPrefix(path+"."+k, ".")
			if v, ok := h[k]; ok {
				out = append(out, fieldDiffs(p, c[k], v)...)
			} else {
				out = append(out, fmt.Sprintf("%s: config/default sets %s, the chart does not", p, show(c[k])))
			}
		}
		for _, k := range slices.Sorted(maps.Keys(h)) {
			if _, ok := c[k]; !ok {
				out = append(out, fmt.Sprintf("%s: the chart sets %s, config/default does not", strings.TrimPrefix(path+"."+k, "."), show(h[k])))
			}
		}
		return out
	case []any:
		h, ok := chart.([]any)
		if !ok {
			break
		}
		if cn, hn := byName(c), byName(h); cn != nil && hn != nil {
			return fieldDiffs(path, cn, hn)
		}
		if len(c) != len(h) {
			break
		}
		var out []string
		for i := range c {
			out = append(out, fieldDiffs(fmt.Sprintf("%s[%d]", path, i), c[i], h[i])...)
		}
		return out
	default:
		if fmt.Sprint(config) == fmt.Sprint(chart) && fmt.Sprintf("%T", config) == fmt.Sprintf("%T", chart) {
			return nil
		}
	}
	return []string{fmt.Sprintf("%s: config/default %s, the chart %s", path, show(config), show(chart))}
}

// byName keys a list's items by their name, or returns nil when an item has none or two share
// one.
func byName(items []any) map[string]any {
	out := map[string]any{}
	for _, it := range items {
		m, ok := it.(map[string]any)
		if !ok {
			return nil
		}
		name, ok := m["name"].(string)
		if _, dup := out["[name="+name+"]"]; !ok || dup {
			return nil
		}
		out["[name="+name+"]"] = it
	}
	return out
}

func show(v any) string {
	data, err := yaml.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	s := strings.TrimSpace(string(data))
	if strings.Contains(s, "\n") {
		return "\n\t" + strings.ReplaceAll(s, "\n", "\n\t") + "\n"
	}
	return s
}
