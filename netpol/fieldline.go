package netpol

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// fieldLine returns the line, in the file, of the field at path ("spec.ingress[0].ports[0].port",
// "spec.podSelector.matchLabels[app]") in a YAML document that starts on line start: the line
// of the deepest part of the path the document holds, so a missing field points at its parent.
// It returns start when the document cannot be read.
func fieldLine(doc []byte, start int, path string) int {
	var root yaml.Node
	if yaml.Unmarshal(doc, &root) != nil || len(root.Content) != 1 {
		return start
	}
	n, line := root.Content[0], start
	for _, part := range splitPath(path) {
		var next *yaml.Node
		switch {
		case n.Kind == yaml.MappingNode && !part.index:
			for i := 0; i+1 < len(n.Content); i += 2 {
				if n.Content[i].Value == part.name {
					line = start + n.Content[i].Line - 1
					next = n.Content[i+1]
					break
				}
			}
		case n.Kind == yaml.SequenceNode && part.index:
			if i, err := strconv.Atoi(part.name); err == nil && i >= 0 && i < len(n.Content) {
				next = n.Content[i]
				line = start + next.Line - 1
			}
		}
		if next == nil {
			break
		}
		n = next
	}
	return line
}

type pathPart struct {
	name string
	// index is true for [N] of a list; a map key ([key]) is a name.
	index bool
}

// splitPath splits a field path as field.Path prints it: "a.b[0].c[key]".
func splitPath(path string) []pathPart {
	var parts []pathPart
	for seg := range strings.SplitSeq(path, ".") {
		name, rest, _ := strings.Cut(seg, "[")
		if name != "" {
			parts = append(parts, pathPart{name: name})
		}
		for rest != "" {
			sub, after, _ := strings.Cut(rest, "]")
			_, err := strconv.Atoi(sub)
			parts = append(parts, pathPart{name: sub, index: err == nil})
			rest = strings.TrimPrefix(after, "[")
		}
	}
	return parts
}

// typeMismatch matches encoding/json's message for a value of the wrong type, which names Go
// types: "json: cannot unmarshal bool into Go struct field ObjectMeta.metadata.name of type string".
var typeMismatch = regexp.MustCompile(`^json: cannot unmarshal (.+) into Go struct field [^.]*\.(\S+) of type (.+)$`)

// plainTypeError rewords a type mismatch as the API server's field errors read, in JSON's
// terms: `metadata.name: Invalid value: bool: must be a string`; other errors come back as they are.
func plainTypeError(err error) (path string, msg error) {
	m := typeMismatch.FindStringSubmatch(err.Error())
	if m == nil {
		return "", err
	}
	want := "an object"
	switch t := m[3]; {
	case t == "string":
		want = "a string"
	case t == "bool":
		want = "true or false"
	case strings.HasPrefix(t, "int") || strings.HasPrefix(t, "uint") || strings.HasPrefix(t, "float"):
		want = "a number"
	case strings.HasPrefix(t, "[]"):
		want = "a list"
	}
	return m[2], fmt.Errorf("%s: Invalid value: %s: must be %s", m[2], m[1], want)
}
