package app

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestReadmeQuickStart runs every `bin/flowguard` command of the README's quick start from the
// repository root and compares its output and exit status with what the README shows, so the
// transcript a newcomer copies cannot drift from what the binary prints.
func TestReadmeQuickStart(t *testing.T) {
	root := filepath.Join("..", "..", "..")
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(readme), "## Quick start: check a change offline")
	if !ok {
		t.Fatal("README.md has no section \"Quick start: check a change offline\"")
	}
	_, block, ok := strings.Cut(section, "```console\n")
	if !ok {
		t.Fatal("the README's quick start has no console block")
	}
	block, _, _ = strings.Cut(block, "```")

	steps := parseConsole(block)
	if len(steps) < 3 {
		t.Fatalf("the README's quick start shows %d flowguard commands, want its three changes", len(steps))
	}
	for _, s := range steps {
		t.Run(strings.Join(s.args, " "), func(t *testing.T) {
			res := runBinaryDir(t, root, "", s.args...)
			if res.stdout != s.output {
				t.Errorf("the README shows:\n%s\nthe binary prints:\n%s", s.output, res.stdout)
			}
			if res.code != s.code {
				t.Errorf("exit status %d, the README implies %d (stderr: %s)", res.code, s.code, res.stderr)
			}
		})
	}
}

// consoleStep is one `$ bin/flowguard ...` line of a console block, the lines it printed and the
// exit status a following `$ echo $?` shows (0 when none follows).
type consoleStep struct {
	args   []string
	output string
	code   int
}

func parseConsole(block string) []consoleStep {
	var steps []consoleStep
	var inEcho bool
	for line := range strings.Lines(block) {
		line = strings.TrimSuffix(line, "\n")
		switch {
		case strings.HasPrefix(line, "$ bin/flowguard "):
			steps = append(steps, consoleStep{args: strings.Fields(strings.TrimPrefix(line, "$ bin/flowguard "))})
			inEcho = false
		case line == "$ echo $?":
			inEcho = true
		case inEcho && len(steps) > 0:
			steps[len(steps)-1].code, _ = strconv.Atoi(line)
			inEcho = false
		case len(steps) > 0:
			steps[len(steps)-1].output += line + "\n"
		}
	}
	return steps
}
