package app

import (
	"github.com/spf13/cobra"

	"github.com/flowguard/flowguard/audit/render"
	"github.com/flowguard/flowguard/cmd/flowguard/ciformat"
	"github.com/flowguard/flowguard/rego"
)

// completeValues makes the shell complete flag's values from values, and nothing else (no file
// names).
func completeValues(cmd *cobra.Command, flag string, values func() []string) {
	// Registering fails only for a flag that does not exist, which the tests of completion catch.
	_ = cmd.RegisterFlagCompletionFunc(flag, func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return values(), cobra.ShellCompDirectiveNoFileComp
	})
}

func fixed(values ...string) func() []string { return func() []string { return values } }

// auditFormats are audit's -o values: render's and the CI formats.
func auditFormats() []string {
	var out []string
	for _, f := range render.Formats() {
		out = append(out, string(f))
	}
	for _, f := range ciformat.Formats() {
		out = append(out, string(f))
	}
	return out
}

// severities are --fail-on's values, most severe first.
func severities() []string { return []string{"critical", "high", "medium", "low", "info"} }

// auditRuleIDs are the built-in audit rules, which --rule and --param name.
func auditRuleIDs() []string {
	eng, err := rego.NewEngine(nil, rego.Options{})
	if err != nil {
		return nil
	}
	var ids []string
	for _, r := range eng.Rules() {
		if r.Audits() {
			ids = append(ids, r.ID)
		}
	}
	return ids
}
