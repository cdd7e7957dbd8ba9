package rulefile

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
	kjson "sigs.k8s.io/json"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/flowguard/flowguard/api/v1alpha1"
	"github.com/flowguard/flowguard/netpol"
	"github.com/flowguard/flowguard/rego"
)

// Rule is one user rule and where it was read.
type Rule struct {
	rego.UserRule
	// File is the file it was read from (InCluster for a RegoRule listed from a cluster); Line
	// is the first line of its RegoRule document, 1 for a .rego module, 0 from a cluster.
	File string
	Line int
	// RegoRule is true when the rule came from a RegoRule manifest (its Name is the RegoRule's
	// name), false for a .rego module (its Name is the file).
	RegoRule bool
	// moduleLine and moduleColumn are where the module's first line sits in File; zero when
	// the module is not a literal block (|) whose lines map one to one.
	moduleLine, moduleColumn int
}

// Set is the user rules read from some paths, in the order read.
type Set []Rule

// UserRules returns the rules as the engine takes them.
func (s Set) UserRules() []rego.UserRule {
	out := make([]rego.UserRule, len(s))
	for i, r := range s {
		out[i] = r.UserRule
	}
	return out
}

// Options say what to read.
type Options struct {
	// Recursive reads folders' subfolders too.
	Recursive bool
	// Given says the paths were given as rules (--rules): .rego files (not _test.rego) are
	// modules too, and a path that holds no rule is an error. Otherwise the paths are a cluster
	// state (-f) whose RegoRules are picked out.
	Given bool
	// Stdin is what "-" holds (manifests); without it "-" is not read.
	Stdin []byte
}

// Load reads the rules in paths: the RegoRules among the objects of YAML or JSON manifests
// (multi-document, Lists unfolded; other kinds are left to the cluster state) and, with
// Options.Given, .rego modules. Every problem is reported, each naming its file and line.
func Load(opts Options, paths ...string) (Set, error) {
	var set Set
	var errs []error
	for _, p := range paths {
		if p == "-" {
			rules, err := readData("-", opts.Stdin)
			errs = append(errs, err)
			set = append(set, rules...)
			continue
		}
		files, err := ruleFiles(p, opts)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		n := len(set)
		for _, f := range files {
			rules, err := readFile(f)
			errs = append(errs, err)
			set = append(set, rules...)
		}
		if opts.Given && len(set) == n {
			errs = append(errs, fmt.Errorf("%s: no RegoRule manifest or .rego module", p))
		}
	}
	set, err := Join(set)
	return set, errors.Join(append(errs, err)...)
}

// Join returns the rules of sets, each once: a document read twice (a folder given in two
// flags) counts once, two rules of one name are an error naming both places.
func Join(sets ...Set) (Set, error) {
	var out Set
	var errs []error
	seen := map[string]Rule{}
	for _, r := range slices.Concat(sets...) {
		other, dup := seen[r.Name]
		switch {
		case dup && other.File == r.File && other.Line == r.Line:
		case dup:
			errs = append(errs, fmt.Errorf("%s:%d: RegoRule %s: also read from %s:%d; a name is one rule", r.File, r.Line, r.Name, other.File, other.Line))
		default:
			seen[r.Name] = r
			out = append(out, r)
		}
	}
	return out, errors.Join(errs...)
}

func ruleFiles(p string, opts Options) ([]string, error) {
	exts := []string{".yaml", ".yml", ".json"}
	if opts.Given {
		exts = append(exts, ".rego")
	}
	files, err := netpol.ListFiles(p, opts.Recursive, exts...)
	if err != nil {
		return nil, fmt.Errorf("read rules: %w", err)
	}
	return slices.DeleteFunc(files, func(f string) bool { return strings.HasSuffix(f, "_test.rego") }), nil
}

func readFile(path string) ([]Rule, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read rules: %w", err)
	}
	return readData(path, data)
}

// readData reads the rules in the contents of one file: a .rego module, or manifests.
func readData(path string, data []byte) ([]Rule, error) {
	if strings.EqualFold(filepath.Ext(path), ".rego") {
		return []Rule{{UserRule: rego.UserRule{Name: path, Source: string(data)}, File: path, Line: 1}}, nil
	}
	docs, err := netpol.SplitDocuments(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("read rules: %s: %w", path, err)
	}
	var rules []Rule
	var errs []error
	for _, d := range docs {
		r, err := readDocument(path, d)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s:%d: %w", path, d.Line, err))
		}
		rules = append(rules, r...)
	}
	return rules, errors.Join(errs...)
}

// typeMeta is what every document says of itself.
type typeMeta struct {
	APIVersion string            `json:"apiVersion"`
	Kind       string            `json:"kind"`
	Items      []json.RawMessage `json:"items"`
}

func readDocument(path string, d netpol.Document) ([]Rule, error) {
	js, err := sigsyaml.YAMLToJSON(d.Data)
	if err != nil {
		return nil, fmt.Errorf("parse YAML: %w", err)
	}
	if t := bytes.TrimSpace(js); len(t) == 0 || bytes.Equal(t, []byte("null")) {
		return nil, nil
	}
	var tm typeMeta
	if err := json.Unmarshal(js, &tm); err != nil {
		return nil, fmt.Errorf("read object: %w", err)
	}
	if strings.HasSuffix(tm.Kind, "List") && tm.Items != nil {
		var rules []Rule
		var errs []error
		for i, item := range tm.Items {
			rs, err := readObject(path, d.Line, item, tm.Kind == "RegoRuleList")
			if err != nil {
				errs = append(errs, fmt.Errorf("items[%d]: %w", i, err))
			}
			rules = append(rules, rs...)
		}
		return rules, errors.Join(errs...)
	}
	rules, err := readObject(path, d.Line, js, false)
	if len(rules) == 1 {
		rules[0].moduleLine, rules[0].moduleColumn = moduleStart(d)
	}
	return rules, err
}

// readObject decodes one object; inList says it is an item of a RegoRuleList, which leaves out
// its items' kind.
func readObject(path string, line int, js []byte, inList bool) ([]Rule, error) {
	var tm typeMeta
	if err := json.Unmarshal(js, &tm); err != nil {
		return nil, fmt.Errorf("read object: %w", err)
	}
	isRule := tm.Kind == "RegoRule" || (inList && tm.Kind == "")
	switch {
	case isRule && tm.APIVersion != "" && tm.APIVersion != v1alpha1.GroupVersion.String():
		return nil, fmt.Errorf("apiVersion: Unsupported value: %q (RegoRules are %s)", tm.APIVersion, v1alpha1.GroupVersion)
	case !isRule:
		return nil, nil
	}
	var rr v1alpha1.RegoRule
	strict, err := kjson.UnmarshalStrict(js, &rr, kjson.DisallowDuplicateFields, kjson.DisallowUnknownFields)
	if err != nil {
		return nil, fmt.Errorf("decode RegoRule: %w", err)
	}
	if len(strict) > 0 {
		msgs := make([]string, len(strict))
		for i, e := range strict {
			msgs[i] = e.Error()
		}
		return nil, fmt.Errorf("RegoRule %s: strict decoding: %s", rr.Name, strings.Join(msgs, "; "))
	}
	switch {
	case rr.Name == "":
		return nil, errors.New("RegoRule: metadata.name: Required value")
	case rr.Spec.Module == "":
		return nil, fmt.Errorf("RegoRule %s: spec.module: Required value: a RegoRule carries its Rego module", rr.Name)
	}
	u, err := FromRegoRule(&rr)
	if err != nil {
		return nil, err
	}
	return []Rule{{UserRule: u, File: path, Line: line, RegoRule: true}}, nil
}

// InCluster is what File holds for a rule read from a cluster, which has no file or line.
const InCluster = "the cluster"

// FromCluster is the set of RegoRules listed from a cluster. Every problem is reported, each
// naming its RegoRule.
func FromCluster(items []v1alpha1.RegoRule) (Set, error) {
	set := make(Set, 0, len(items))
	var errs []error
	for i := range items {
		u, err := FromRegoRule(&items[i])
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", InCluster, err))
			continue
		}
		set = append(set, Rule{UserRule: u, File: InCluster, RegoRule: true})
	}
	return set, errors.Join(errs...)
}

// FromRegoRule is the user rule a RegoRule puts in force: its module, with the spec's action,
// severity, targets and parameters over the module's METADATA.
func FromRegoRule(rr *v1alpha1.RegoRule) (rego.UserRule, error) {
	r := rego.UserRule{
		Name:     rr.Name,
		Source:   rr.Spec.Module,
		Action:   rego.Action(rr.Spec.EnforcementAction),
		Severity: rego.Severity(rr.Spec.Severity),
		Targets:  rr.Spec.Targets,
	}
	if p := rr.Spec.Parameters; p != nil && len(p.Raw) > 0 {
		if err := json.Unmarshal(p.Raw, &r.Parameters); err != nil {
			return r, fmt.Errorf("RegoRule %s: spec.parameters: %w", rr.Name, err)
		}
	}
	return r, nil
}

// moduleStart finds where spec.module's first line sits in the file when the module is a
// literal block, whose lines are the file's lines: the line after the "|" and the block's
// indentation. Zero when it is not.
func moduleStart(d netpol.Document) (line, column int) {
	var root yaml.Node
	if yaml.Unmarshal(d.Data, &root) != nil || len(root.Content) != 1 {
		return 0, 0
	}
	n := mappingValue(mappingValue(root.Content[0], "spec"), "module")
	if n == nil || n.Style != yaml.LiteralStyle {
		return 0, 0
	}
	// n.Line is the "|" line counted from the document's first; lines[n.Line] is the next one.
	lines := strings.Split(string(d.Data), "\n")
	for i := n.Line; i < len(lines); i++ {
		if text := lines[i]; strings.TrimSpace(text) != "" {
			return d.Line + n.Line, len(text) - len(strings.TrimLeft(text, " "))
		}
	}
	return 0, 0
}

func mappingValue(n *yaml.Node, key string) *yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}
