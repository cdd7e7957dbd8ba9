package app

import (
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/flowguard/flowguard/rego"
	"github.com/flowguard/flowguard/rego/rulefile"
)

// RegoTestOptions are the flags of `flowguard rego test`.
type RegoTestOptions struct {
	Verbose bool
	Format  string
	Run     string
	Timeout time.Duration
	Rules   []string
}

// AddFlags registers the flags, named as `opa test` names them.
func (o *RegoTestOptions) AddFlags(fs *pflag.FlagSet) {
	fs.BoolVarP(&o.Verbose, "verbose", "v", false, "list every test, with print output and the trace of failures")
	fs.StringVarP(&o.Format, "format", "f", "pretty", "report format: pretty or json")
	fs.StringVarP(&o.Run, "run", "r", "", "run only the tests whose package-qualified name matches this regular expression")
	fs.DurationVarP(&o.Timeout, "timeout", "t", 5*time.Second, "timeout for each test")
	fs.StringSliceVar(&o.Rules, "rules", nil, "user rules under test: files or folders of RegoRule manifests and .rego modules, loaded beside PATH's tests")
}

// Validate checks the format and timeout.
func (o *RegoTestOptions) Validate() error {
	if o.Format != "pretty" && o.Format != "json" {
		return badInput(fmt.Errorf("--format %q: must be pretty or json", o.Format))
	}
	if o.Timeout <= 0 {
		return badInput(fmt.Errorf("--timeout %s: must be positive", o.Timeout))
	}
	return nil
}

func newRegoCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "rego",
		Short: "Work with flowguard's Rego rules",
	}
	cmd.AddCommand(newRegoTestCommand())
	return cmd
}

func newRegoTestCommand() *cobra.Command {
	o := &RegoTestOptions{}
	cmd := &cobra.Command{
		Use:   "test PATH...",
		Short: "Run Rego unit tests (test_* rules) with flowguard's builtins, like opa test",
		Long: `Run the Rego unit tests (rules named test_*) in the .rego files under each PATH, as
'opa test' does and with its output, but with flowguard's sandbox and builtins: tests mock a
builtin with 'with flowguard.impact as {...}'. The helper packages of the built-in library
(data.flowguard.policy, data.flowguard.report) are available to import.

Exit status: 0 when every test passes, 1 when a test fails or errors, 2 when the files cannot
be loaded or compiled. --rules loads the rules under test from RegoRule manifests (their
spec.module) and .rego modules, so that tests kept beside a cluster's RegoRules test the
modules the cluster runs; compile errors point at the manifest's line. (opa test uses 2 for failures and 1 for errors; flowguard keeps one
convention across its commands.)`,
		Example: `  flowguard rego test rego/lib
  flowguard rego test -v --run allow_all my-rules/
  flowguard rego test --rules cluster/regorules/ tests/`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, paths []string) error {
			if err := o.Validate(); err != nil {
				return err
			}
			stdin, err := readStdin(cmd.InOrStdin(), map[string][]string{"--rules": o.Rules})
			if err != nil {
				return err
			}
			rules, err := rulefile.Load(rulefile.Options{Recursive: true, Given: true, Stdin: stdin}, o.Rules...)
			if err != nil {
				return badInput(fmt.Errorf("read --rules: %w", err))
			}
			sum, err := rego.RunTests(cmd.Context(), paths, rego.TestOptions{
				Output: cmd.OutOrStdout(), Verbose: o.Verbose, JSON: o.Format == "json", Run: o.Run, Timeout: o.Timeout,
				Modules: rules.UserRules(),
			})
			if err != nil {
				return badInput(rules.Locate(err))
			}
			if sum.Passed+sum.Failed+sum.Errored+sum.Skipped == 0 {
				return badInput(errors.New("no tests found under " + fmt.Sprint(paths)))
			}
			if !sum.OK() {
				return &exitError{code: ExitFailed, err: fmt.Errorf("%d of %d tests failed", sum.Failed+sum.Errored, sum.Passed+sum.Failed+sum.Errored)}
			}
			return nil
		},
	}
	o.AddFlags(cmd.Flags())
	return cmd
}
