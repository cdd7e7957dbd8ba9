package app

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
)

// WriteCLIDoc writes the command-line reference (docs/cli.md) from the command tree: every
// command with its usage, description, examples and flags, so the reference says what the
// binary does. make docs writes it; a test fails when it drifts.
func WriteCLIDoc(w io.Writer) error {
	root := NewRootCommand(io.Discard, io.Discard)
	root.InitDefaultHelpCmd()
	var b strings.Builder
	b.WriteString("# The flowguard command line\n\n")
	b.WriteString("<!-- Generated from the command tree by `make docs` (hack/clidoc). DO NOT EDIT. -->\n\n")
	b.WriteString(root.Short + ".\n\n")
	var cmds []*cobra.Command
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		for _, sub := range c.Commands() {
			if !sub.IsAvailableCommand() || sub.IsAdditionalHelpTopicCommand() {
				continue
			}
			if sub.Runnable() {
				cmds = append(cmds, sub)
			}
			walk(sub)
		}
	}
	walk(root)
	for _, c := range cmds {
		fmt.Fprintf(&b, "- [`%s`](#%s): %s\n", c.CommandPath(), anchor(c.CommandPath()), c.Short)
	}
	b.WriteString("\nEvery command takes the global flags:\n\n```\n")
	b.WriteString(root.PersistentFlags().FlagUsages())
	b.WriteString("```\n")
	for _, c := range cmds {
		fmt.Fprintf(&b, "\n## %s\n\n%s.\n\n```\n%s\n```\n", c.CommandPath(), c.Short, c.UseLine())
		if c.Long != "" {
			fmt.Fprintf(&b, "\n%s\n", strings.TrimSpace(c.Long))
		}
		if c.Example != "" {
			fmt.Fprintf(&b, "\n### Examples\n\n```\n%s\n```\n", strings.TrimRight(c.Example, "\n"))
		}
		if flags := c.NonInheritedFlags(); flags.HasAvailableFlags() {
			fmt.Fprintf(&b, "\n### Flags\n\n```\n%s```\n", flags.FlagUsages())
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// anchor is the heading anchor GitHub makes of a command path.
func anchor(path string) string {
	return strings.ReplaceAll(strings.ToLower(path), " ", "-")
}
