package rulefile

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flowguard/flowguard/rego"
)

const module = `# METADATA
# title: Deployments name their team
# custom:
#   id: %s
#   severity: low
#   action: warn
#   targets: [Deployment]
package teams.%s

violation contains {"msg": "no team"} if {
	not input.object.metadata.labels.team +
}
`

func ruleModule(id string) string {
	return strings.ReplaceAll(module, "%s", id)
}

func indent(s string) string {
	return "    " + strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n    ") + "\n"
}

// Rules are read from manifests (documents, Lists, among other kinds) and .rego modules, and
// their compile errors are restated where the author edits them.
func TestLoadAndLocate(t *testing.T) {
	tests := map[string]struct {
		files map[string]string
		opts  Options
		// names are the rules read, in order; want are the located compile errors.
		names []string
		want  []string
		// wantLoad is an error of Load.
		wantLoad string
	}{
		"a literal block: the error at the manifest's line and column": {
			files: map[string]string{"r.yaml": "kind: ConfigMap\napiVersion: v1\n---\napiVersion: flowguard.dev/v1alpha1\nkind: RegoRule\nmetadata: {name: a}\nspec:\n  module: |\n" + indent(ruleModule("a"))},
			names: []string{"a"},
			// The "}" that ends the "+" is at module line 12, column 1; the module starts on line 9.
			want: []string{"r.yaml:20:5:", ": RegoRule a: spec.module: rego_parse_error"},
		},
		"a module as a quoted string: the error at the document, with the module's line": {
			files: map[string]string{"r.json": `{"apiVersion": "flowguard.dev/v1alpha1", "kind": "RegoRule", "metadata": {"name": "b"}, "spec": {"module": ` + quote(ruleModule("b")) + `}}`},
			names: []string{"b"},
			want:  []string{"r.json:1: RegoRule b: spec.module: line 12, column 1: rego_parse_error"},
		},
		"a RegoRuleList's items, which leave out their kind": {
			files: map[string]string{"list.yaml": "apiVersion: flowguard.dev/v1alpha1\nkind: RegoRuleList\nitems:\n- metadata: {name: c}\n  spec:\n    module: " + quote(ruleModule("c")) + "\n- metadata: {name: d}\n  spec:\n    module: " + quote(ruleModule("d"))},
			names: []string{"c", "d"},
			want:  []string{"list.yaml:1: RegoRule c: spec.module: line 12", "list.yaml:1: RegoRule d: spec.module: line 12"},
		},
		"a .rego module given as a rule: the compiler's own file and line": {
			files: map[string]string{"e.rego": ruleModule("e"), "e_test.rego": "package teams.e_test\n"},
			opts:  Options{Given: true},
			names: []string{"e.rego"},
			want:  []string{"e.rego:12:1: rego_parse_error"},
		},
		"a .rego module in a cluster state is not read": {
			files: map[string]string{"e.rego": ruleModule("e")},
		},
		"a misspelt field": {
			files:    map[string]string{"r.yaml": "apiVersion: flowguard.dev/v1alpha1\nkind: RegoRule\nmetadata: {name: a}\nspec:\n  modul: x\n"},
			wantLoad: `r.yaml:1: RegoRule a: strict decoding: unknown field "spec.modul"`,
		},
		"a RegoRule of another version": {
			files:    map[string]string{"r.yaml": "apiVersion: flowguard.dev/v1\nkind: RegoRule\nmetadata: {name: a}\nspec: {module: x}\n"},
			wantLoad: `r.yaml:1: apiVersion: Unsupported value: "flowguard.dev/v1"`,
		},
		"a folder given as rules that holds none": {
			files:    map[string]string{"ns.yaml": "apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n"},
			opts:     Options{Given: true},
			wantLoad: "no RegoRule manifest or .rego module",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			for f, text := range tc.files {
				if err := os.WriteFile(filepath.Join(dir, f), []byte(text), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			set, err := Load(tc.opts, dir)
			if tc.wantLoad != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantLoad) {
					t.Fatalf("Load: err = %v, want %q", err, tc.wantLoad)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, r := range set {
				names = append(names, strings.TrimPrefix(r.Name, dir+string(filepath.Separator)))
			}
			if strings.Join(names, ",") != strings.Join(tc.names, ",") {
				t.Fatalf("rules = %v, want %v", names, tc.names)
			}
			if len(set) == 0 {
				return
			}
			eng, err := rego.NewEngine(nil, rego.Options{})
			if err != nil {
				t.Fatal(err)
			}
			got := set.Locate(eng.SetUserRuleSet(set.UserRules()))
			if got == nil {
				t.Fatal("the broken rules compiled")
			}
			msg := strings.ReplaceAll(got.Error(), dir+string(filepath.Separator), "")
			for _, w := range tc.want {
				if !strings.Contains(msg, w) {
					t.Errorf("errors lack %q:\n%s", w, msg)
				}
			}
		})
	}
}

func quote(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`, "\t", `\t`).Replace(s) + `"`
}
