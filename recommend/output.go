package recommend

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"

	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"
)

// WriteYAML writes objects as a multi-document YAML stream that kubectl applies, keys sorted,
// so the same objects always give the same bytes. header, if not empty, is written first as
// comment lines.
func WriteYAML(w io.Writer, objs []client.Object, header []string) error {
	var buf bytes.Buffer
	for _, line := range header {
		buf.WriteString("# ")
		buf.WriteString(line)
		buf.WriteByte('\n')
	}
	for i, obj := range objs {
		m, err := cleanObject(obj)
		if err != nil {
			return err
		}
		y, err := yaml.Marshal(m)
		if err != nil {
			return fmt.Errorf("write %s: %w", describe(obj), err)
		}
		if i > 0 || len(header) > 0 {
			buf.WriteString("---\n")
		}
		buf.Write(y)
	}
	_, err := w.Write(buf.Bytes())
	return err
}

// WriteJSON writes objects as one v1 List, which kubectl applies like the YAML stream.
func WriteJSON(w io.Writer, objs []client.Object) error {
	items := make([]any, 0, len(objs))
	for _, obj := range objs {
		m, err := cleanObject(obj)
		if err != nil {
			return err
		}
		items = append(items, m)
	}
	list := map[string]any{"apiVersion": "v1", "kind": "List", "items": items}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(list)
}

// cleanObject converts an object to its JSON form without the fields a manifest should not
// carry: the null creationTimestamp and the empty status every typed object marshals, and
// the empty source or destination of Calico rules.
func cleanObject(obj client.Object) (map[string]any, error) {
	js, err := json.Marshal(obj)
	if err != nil {
		return nil, fmt.Errorf("write %s: %w", describe(obj), err)
	}
	var m map[string]any
	if err := json.Unmarshal(js, &m); err != nil {
		return nil, fmt.Errorf("write %s: %w", describe(obj), err)
	}
	if meta, ok := m["metadata"].(map[string]any); ok {
		if meta["creationTimestamp"] == nil {
			delete(meta, "creationTimestamp")
		}
	}
	if st, ok := m["status"].(map[string]any); ok && len(st) == 0 {
		delete(m, "status")
	}
	if spec, ok := m["spec"].(map[string]any); ok {
		for _, dir := range []string{"ingress", "egress"} {
			rules, _ := spec[dir].([]any)
			for _, r := range rules {
				rule, ok := r.(map[string]any)
				if !ok {
					continue
				}
				for _, side := range []string{"source", "destination"} {
					if e, ok := rule[side].(map[string]any); ok && len(e) == 0 {
						delete(rule, side)
					}
				}
			}
		}
	}
	return m, nil
}

func describe(obj client.Object) string {
	kind := obj.GetObjectKind().GroupVersionKind().Kind
	if ns := obj.GetNamespace(); ns != "" {
		return kind + " " + ns + "/" + obj.GetName()
	}
	return kind + " " + obj.GetName()
}
