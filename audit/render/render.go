package render

import (
	"fmt"
	"io"
	"strings"

	"github.com/flowguard/flowguard/audit"
)

// Format is an output format of the offline audit.
type Format string

// The formats, as `-o` names them.
const (
	Text         Format = "text"
	JSON         Format = "json"
	YAML         Format = "yaml"
	HTML         Format = "html"
	PolicyReport Format = "policyreport"
)

// Formats lists every format, in the order help text shows them.
func Formats() []Format { return []Format{Text, JSON, YAML, HTML, PolicyReport} }

// ParseFormat checks a format name.
func ParseFormat(s string) (Format, error) {
	for _, f := range Formats() {
		if string(f) == s {
			return f, nil
		}
	}
	names := make([]string, 0, len(Formats()))
	for _, f := range Formats() {
		names = append(names, string(f))
	}
	return "", fmt.Errorf("unknown output format %q: want one of %s", s, strings.Join(names, ", "))
}

// Input is what the renderers print.
type Input struct {
	Result audit.Result
	// Subject says what was audited ("examples/shop", "cluster kind-dev"), for headings.
	Subject string
	// Picture is the traffic picture drawn by the html format; html omits it when nil.
	Picture *Picture
	// RunName names the PolicyReports; "flowguard-audit" when empty.
	RunName string
	// Flows says what the flow input held (records, malformed counts, a warning), for json and
	// yaml; omitted when nil.
	Flows any
}

// Write prints in to w in format f.
func Write(w io.Writer, f Format, in Input) error {
	switch f {
	case Text:
		return WriteText(w, in)
	case JSON:
		return WriteJSON(w, in)
	case YAML:
		return WriteYAML(w, in)
	case HTML:
		return WriteHTML(w, in)
	case PolicyReport:
		return WritePolicyReports(w, in)
	}
	_, err := ParseFormat(string(f))
	return err
}
