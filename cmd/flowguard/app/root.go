package app

import (
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"
)

// Exit codes shared by every subcommand.
const (
	ExitOK       = 0
	ExitFailed   = 1 // the question was answered and the answer is "no" (denied, findings over threshold)
	ExitBadInput = 2 // the input could not be read or understood
)

// exitError carries a specific exit code out of a command.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// badInput marks err as a problem with the user's input (exit code 2).
func badInput(err error) error { return &exitError{code: ExitBadInput, err: err} }

// Execute runs the flowguard command line and returns the process exit code.
func Execute(args []string, stdout, stderr io.Writer) int {
	cmd := NewRootCommand(stdout, stderr)
	cmd.SetArgs(args)
	err := cmd.Execute()
	if err == nil {
		return ExitOK
	}
	var exit *exitError
	if errors.As(err, &exit) {
		if exit.err != nil && exit.code != ExitFailed {
			fmt.Fprintln(stderr, "Error:", exit.err)
		}
		return exit.code
	}
	fmt.Fprintln(stderr, "Error:", err)
	return ExitBadInput
}

// NewRootCommand returns the flowguard command with every subcommand attached.
func NewRootCommand(stdout, stderr io.Writer) *cobra.Command {
	log := &LogOptions{}
	root := &cobra.Command{
		Use:           "flowguard",
		Short:         "Keep Kubernetes and Calico network policies honest against observed traffic",
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(*cobra.Command, []string) error {
			return log.Validate()
		},
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	setVersionFlag(root)
	log.AddFlags(root.PersistentFlags())

	root.AddCommand(
		newVersionCommand(),
		newServeCommand(log),
		newRegoCommand(),
		newCheckCommand(),
		newFlowsCommand(log),
		newRecommendCommand(log),
		newAuditCommand(),
		newExplainCommand(),
		newConnectivityCommand(),
	)
	return root
}
