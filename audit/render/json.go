package render

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"

	"go.yaml.in/yaml/v3"

	"github.com/flowguard/flowguard/audit"
)

// document is the json and yaml output: top-level summary and findings.
type document struct {
	Summary  audit.Summary   `json:"summary"`
	Findings []audit.Finding `json:"findings"`
	Flows    any             `json:"flows,omitempty"`
}

func newDocument(in Input) document {
	fs := in.Result.Findings
	if fs == nil {
		fs = []audit.Finding{}
	}
	return document{Summary: in.Result.Summarize(), Findings: fs, Flows: in.Flows}
}

// WriteJSON prints the result as one indented JSON object.
func WriteJSON(w io.Writer, in Input) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(newDocument(in)); err != nil {
		return fmt.Errorf("write audit result as json: %w", err)
	}
	return nil
}

// WriteYAML prints the result as YAML with the same fields as json, in the same order.
func WriteYAML(w io.Writer, in Input) error {
	if err := writeOrderedYAML(w, newDocument(in)); err != nil {
		return fmt.Errorf("write audit result as yaml: %w", err)
	}
	return nil
}

// writeOrderedYAML marshals v through its JSON form and prints it as block YAML, keeping the
// field order of the Go types (converting through a map would sort keys alphabetically).
func writeOrderedYAML(w io.Writer, v any) error {
	j, err := json.Marshal(v)
	if err != nil {
		return err
	}
	var node yaml.Node
	if err := yaml.Unmarshal(j, &node); err != nil {
		return err
	}
	blockStyle(&node)
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	enc.CompactSeqIndent()
	if err := enc.Encode(&node); err != nil {
		return err
	}
	if err := enc.Close(); err != nil {
		return err
	}
	_, err = w.Write(buf.Bytes())
	return err
}

// blockStyle clears the flow and quoting styles that parsing JSON leaves on a node tree, so the
// encoder prints block YAML and quotes only where YAML needs it.
func blockStyle(n *yaml.Node) {
	n.Style = 0
	for _, c := range n.Content {
		blockStyle(c)
	}
}
