package app

import (
	"strings"
	"testing"
)

// Flag values complete in the shell (cobra's __complete is what bash, zsh and fish call).
func TestFlagValuesComplete(t *testing.T) {
	tests := map[string]struct {
		args []string
		want []string
	}{
		"audit -o":        {args: []string{"audit", "-o", ""}, want: []string{"text", "html", "policyreport", "sarif", "junit", "github"}},
		"audit --fail-on": {args: []string{"audit", "--fail-on", ""}, want: []string{"critical", "high", "medium", "low", "info"}},
		"audit --rule":    {args: []string{"audit", "--rule", ""}, want: []string{"allow-all", "missing-default-deny", "wider-than-observed"}},
		"check -o":        {args: []string{"check", "-o", ""}, want: []string{"text", "json", "sarif", "junit", "github"}},
		"connectivity -o": {args: []string{"connectivity", "-o", ""}, want: []string{"txt", "csv", "dot"}},
		"recommend -o":    {args: []string{"recommend", "-o", ""}, want: []string{"yaml", "json"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			res := runBinary(t, append([]string{"__complete"}, tc.args...)...)
			res.expect(t, ExitOK, tc.want, nil)
			if !strings.Contains(res.stdout, ":4\n") { // ShellCompDirectiveNoFileComp: values, not file names
				t.Errorf("completion does not turn file names off:\n%s", res.stdout)
			}
		})
	}
}
