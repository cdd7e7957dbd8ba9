package webhook

import (
	"strings"
	"testing"
	"time"

	"github.com/flowguard/flowguard/rego"
)

func TestConfigValidate(t *testing.T) {
	tests := map[string]struct {
		mod     func(*Config)
		wantErr []string
	}{
		"the defaults are valid": {mod: func(*Config) {}},
		"every problem is reported": {
			mod: func(c *Config) {
				c.Overrides = map[string]rego.Action{"allow-all": "block"}
				c.ExemptNamespaces = append(c.ExemptNamespaces, "Not_A_Namespace")
				c.ExemptLabel = "bad label"
				c.Deadline = 0
				c.Workers = 0
				c.Queue = -1
			},
			wantErr: []string{
				`action override for rule "allow-all": "block" is not one of deny, warn, dryrun`,
				`exempt namespace "Not_A_Namespace"`,
				`exempt label "bad label"`,
				`decision deadline 0s: must be positive`,
				`decision workers 0: must be at least 1`,
				`decision queue -1: must not be negative`,
			},
		},
		"object exemptions can be turned off": {mod: func(c *Config) { c.ExemptLabel = "" }},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			c := DefaultConfig("flowguard-system")
			tc.mod(&c)
			err := c.Validate()
			if len(tc.wantErr) == 0 {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatal("Validate() = nil, want errors")
			}
			for _, want := range tc.wantErr {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("Validate() = %v\nwant it to contain %q", err, want)
				}
			}
		})
	}
}

func TestDefaultConfig(t *testing.T) {
	tests := map[string]struct {
		own  string
		want string
	}{
		"own namespace and kube-system are exempt": {own: "flowguard-system", want: "flowguard-system,kube-system"},
		"running in kube-system exempts it once":   {own: "kube-system", want: "kube-system"},
		"no own namespace known":                   {own: "", want: "kube-system"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			c := DefaultConfig(tc.own)
			if got := strings.Join(c.ExemptNamespaces, ","); got != tc.want {
				t.Errorf("exempt namespaces = %s, want %s", got, tc.want)
			}
			if c.Deadline != time.Second || c.ExemptLabel != DefaultExemptLabel || c.FailClosed != (FailClosed{}) {
				t.Errorf("defaults = %+v", c)
			}
		})
	}
}

func TestConfigAction(t *testing.T) {
	c := DefaultConfig("")
	c.Overrides = map[string]rego.Action{"allow-all": rego.ActionDeny}
	tests := map[string]struct {
		rule rego.Rule
		want rego.Action
	}{
		"the rule's own action applies":             {rule: rego.Rule{ID: "x", Action: rego.ActionWarn}, want: rego.ActionWarn},
		"an override wins":                          {rule: rego.Rule{ID: "allow-all", Action: rego.ActionWarn}, want: rego.ActionDeny},
		"a rule without a valid action denies":      {rule: rego.Rule{ID: "y"}, want: rego.ActionDeny},
		"a dry-run rule stays a dry run by default": {rule: rego.Rule{ID: "z", Action: rego.ActionDryRun}, want: rego.ActionDryRun},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := c.action(tc.rule); got != tc.want {
				t.Errorf("action = %s, want %s", got, tc.want)
			}
		})
	}
}

func TestSanitizeWarning(t *testing.T) {
	long := strings.Repeat("é", 600)
	tests := map[string]struct{ in, want string }{
		"plain text is kept":                         {in: "[allow-all] admits every peer", want: "[allow-all] admits every peer"},
		"newlines would make the API server drop it": {in: "breaks:\n a -> b\n c -> d", want: "breaks:  a -> b  c -> d"},
		"invalid UTF-8 is replaced":                  {in: "bad \xff byte", want: "bad ? byte"},
		"a long warning is cut on a rune boundary":   {in: long, want: strings.Repeat("é", 511) + "…"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := sanitizeWarning(tc.in); got != tc.want {
				t.Errorf("sanitizeWarning = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestSourceLine(t *testing.T) {
	src := "package x\n\nviolation contains v if {\n  v := input.nope\n}"
	tests := map[string]struct {
		n    int
		want string
	}{
		"the first line":       {n: 1, want: "package x"},
		"an empty line":        {n: 2, want: ""},
		"the last line":        {n: 5, want: "}"},
		"past the end":         {n: 9, want: ""},
		"no line known":        {n: 0, want: ""},
		"a line in the middle": {n: 4, want: "  v := input.nope"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := sourceLine(src, tc.n); got != tc.want {
				t.Errorf("sourceLine(%d) = %q, want %q", tc.n, got, tc.want)
			}
		})
	}
}
