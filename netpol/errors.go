package netpol

import (
	"errors"
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Source says where an object was read from, so that errors point at it.
type Source struct {
	// File is the path read, "-" for standard input, empty for objects added directly.
	File string
	// Line is the first line of the object's YAML document, 0 when unknown.
	Line int
	// Item is the object's place inside a List ("items[3]"), empty otherwise.
	Item string
}

func (s Source) String() string {
	var b strings.Builder
	b.WriteString(s.File)
	if s.Line > 0 {
		fmt.Fprintf(&b, ":%d", s.Line)
	}
	if s.Item != "" {
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(s.Item)
	}
	return b.String()
}

// ObjectError is a problem with one object, or with a document that could not be read as one.
type ObjectError struct {
	Source Source
	// Kind, Namespace and Name identify the object as far as it could be read.
	Kind, Namespace, Name string
	// Fields holds validation errors with their field paths, when the object was read but is
	// invalid.
	Fields field.ErrorList
	// Err is the underlying error (Fields aggregated, when set).
	Err error
	// doc is the YAML document the object was read from, where field paths find their lines.
	doc []byte
}

// Error reads "file:line: Kind ns/name: field.path: message", one problem per line, each at the
// line of its field when the document is known.
func (e *ObjectError) Error() string {
	lines := make([]string, 0, max(len(e.Fields), 1))
	for _, p := range e.problems() {
		var b strings.Builder
		src := e.Source
		if p.path != "" && e.doc != nil {
			path := p.path
			if src.Item != "" {
				path = src.Item + "." + path
			}
			src.Line = fieldLine(e.doc, src.Line, path)
		}
		if s := src.String(); s != "" {
			b.WriteString(s)
			b.WriteString(": ")
		}
		if e.Kind != "" || e.Name != "" {
			b.WriteString(e.Object())
			b.WriteString(": ")
		}
		b.WriteString(p.msg)
		lines = append(lines, b.String())
	}
	return strings.Join(lines, "\n")
}

// problem is one problem of an object and the field path it is at ("" when none).
type problem struct{ path, msg string }

func (e *ObjectError) problems() []problem {
	var out []problem
	var unknown unknownFields
	var typed *fieldTypeError
	switch {
	case len(e.Fields) > 0:
		for _, f := range e.Fields {
			out = append(out, problem{f.Field, f.Error()})
		}
	case errors.As(e.Err, &unknown):
		for _, path := range unknown {
			out = append(out, problem{path, fmt.Sprintf("strict decoding: unknown field %q", path)})
		}
	case errors.As(e.Err, &typed):
		out = append(out, problem{typed.path, typed.err.Error()})
	case e.Err != nil:
		out = append(out, problem{"", e.Err.Error()})
	default:
		out = append(out, problem{})
	}
	return out
}

// unknownFields are the paths of fields the object's type does not have.
type unknownFields []string

func (u unknownFields) Error() string {
	msgs := make([]string, len(u))
	for i, p := range u {
		msgs[i] = fmt.Sprintf("unknown field %q", p)
	}
	return "strict decoding: " + strings.Join(msgs, "; ")
}

// fieldTypeError is a value of the wrong type at path.
type fieldTypeError struct {
	path string
	err  error
}

func (e *fieldTypeError) Error() string { return e.err.Error() }

// Object returns "Kind namespace/name" as far as known.
func (e *ObjectError) Object() string {
	kind := e.Kind
	if kind == "" {
		kind = "object"
	}
	switch {
	case e.Name == "":
		return kind
	case e.Namespace == "":
		return kind + " " + e.Name
	}
	return kind + " " + e.Namespace + "/" + e.Name
}

func (e *ObjectError) Unwrap() error { return e.Err }

// Errors is every problem found while loading, one per object or unreadable document. Objects
// without problems are loaded regardless.
type Errors []*ObjectError

func (es Errors) Error() string {
	msgs := make([]string, len(es))
	for i, e := range es {
		msgs[i] = e.Error()
	}
	return strings.Join(msgs, "\n")
}

// Unwrap lets errors.As and errors.Is see each object's error.
func (es Errors) Unwrap() []error {
	out := make([]error, len(es))
	for i, e := range es {
		out[i] = e
	}
	return out
}

// objectError builds an ObjectError for obj from validation errors or a plain error.
func objectError(obj runtime.Object, src Source, fields field.ErrorList, err error) *ObjectError {
	kind, ns, name := describe(obj)
	if err == nil && len(fields) > 0 {
		err = fields.ToAggregate()
	}
	return &ObjectError{Source: src, Kind: kind, Namespace: ns, Name: name, Fields: fields, Err: err}
}

func errUnsupportedKind(obj runtime.Object) error {
	return fmt.Errorf("unsupported object type %T", obj)
}
