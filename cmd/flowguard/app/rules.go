package app

import (
	"fmt"
	"maps"

	"github.com/spf13/pflag"

	"github.com/flowguard/flowguard/rego"
	"github.com/flowguard/flowguard/rego/rulefile"
)

// addRulesFlag registers --rules: the user rules to run beside the built-in library.
func addRulesFlag(fs *pflag.FlagSet, paths *[]string) {
	fs.StringSliceVar(paths, "rules", nil, "user rules: files or folders (with subfolders) of RegoRule manifests and .rego modules (- reads manifests from standard input), run beside the built-in rules as flowguard serve runs them")
}

// loadUserRules reads the rules of --rules and the RegoRules among the cluster state of -f: a
// RegoRule in -f is a rule the cluster runs, so it runs here too. stdin is what "-" read (in -f
// or --rules).
func loadUserRules(rules, files []string, recursive bool, stdin []byte) (rulefile.Set, error) {
	set, err := rulefile.Load(rulefile.Options{Recursive: true, Given: true, Stdin: stdin}, rules...)
	if err != nil {
		return nil, badInput(fmt.Errorf("read --rules: %w", err))
	}
	inFiles, err := rulefile.Load(rulefile.Options{Recursive: recursive, Stdin: stdin}, files...)
	if err != nil {
		return nil, badInput(fmt.Errorf("read RegoRules in -f: %w", err))
	}
	if set, err = rulefile.Join(set, inFiles); err != nil {
		return nil, badInput(err)
	}
	return set, nil
}

// newEngine is rego.NewEngine with the user rules in force. A user rule that does not compile
// is bad input naming its file and line, where the webhook would leave it out and run the rest:
// a gate that silently runs fewer rules than asked passes what it should stop.
func newEngine(state rego.State, opts rego.Options, rules rulefile.Set) (*rego.Engine, error) {
	eng, err := rego.NewEngine(state, opts)
	if err != nil {
		return nil, err
	}
	if len(rules) == 0 {
		return eng, nil
	}
	if err := eng.SetUserRuleSet(rules.UserRules()); err != nil {
		return nil, badInput(fmt.Errorf("compile user rules:\n%w", rules.Locate(err)))
	}
	return eng, nil
}

// userRuleParameters moves the --param values that name user rules into those rules, where the
// engine takes them (its Options.Parameters are for built-in rules), and returns the rest.
func userRuleParameters(params map[string]map[string]any, rules rulefile.Set) (map[string]map[string]any, error) {
	rest := maps.Clone(params)
	if len(rules) == 0 || len(params) == 0 {
		return rest, nil
	}
	for i := range rules {
		r, err := rules[i].Compile()
		if err != nil {
			return nil, badInput(fmt.Errorf("compile user rules:\n%w", rules.Locate(err)))
		}
		if p, ok := rest[r.ID]; ok {
			rules[i].Parameters = mergeParams(rules[i].Parameters, p)
			delete(rest, r.ID)
		}
	}
	return rest, nil
}

func mergeParams(base, over map[string]any) map[string]any {
	out := maps.Clone(base)
	if out == nil {
		out = map[string]any{}
	}
	maps.Copy(out, over)
	return out
}
