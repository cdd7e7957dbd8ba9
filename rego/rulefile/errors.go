package rulefile

import (
	"errors"
	"fmt"
	"strings"

	"github.com/flowguard/flowguard/rego"
)

// Errors are compile errors restated at the files the rules were read from, one per line.
type Errors []string

func (e Errors) Error() string { return strings.Join(e, "\n") }

// Locate restates the engine's error about this set's rules at the files they were read from:
// a .rego module's errors at file:line:column, a RegoRule's at the line of its spec.module in
// the manifest (or at its document, with the module's own line, when the module is not a
// literal block). Errors that are not compile errors come back as they are.
func (s Set) Locate(err error) error {
	var cerrs rego.CompileErrors
	if !errors.As(err, &cerrs) {
		return err
	}
	byName := make(map[string]Rule, len(s))
	for _, r := range s {
		byName[r.Name] = r
	}
	out := make(Errors, 0, len(cerrs))
	for _, ce := range cerrs {
		r, ok := byName[ce.File]
		switch {
		case !ok:
			out = append(out, ce.Error())
		case !r.RegoRule:
			out = append(out, ce.Error())
		case ce.Line > 0 && r.moduleLine > 0:
			col := ""
			if ce.Column > 0 {
				col = fmt.Sprintf(":%d", r.moduleColumn+ce.Column)
			}
			out = append(out, fmt.Sprintf("%s:%d%s: RegoRule %s: spec.module: %s: %s", r.File, r.moduleLine+ce.Line-1, col, r.Name, ce.Code, ce.Message))
		case r.Line == 0:
			out = append(out, fmt.Sprintf("RegoRule %s in %s: spec.module: %s", r.Name, r.File, ce.InModule()))
		default:
			out = append(out, fmt.Sprintf("%s:%d: RegoRule %s: spec.module: %s", r.File, r.Line, r.Name, ce.InModule()))
		}
	}
	return out
}
