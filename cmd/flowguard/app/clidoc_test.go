package app

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCLIDocIsCurrent fails when docs/cli.md is not what the command tree says: a flag, command
// or example changed without make docs.
func TestCLIDocIsCurrent(t *testing.T) {
	path := filepath.Join("..", "..", "..", "docs", "cli.md")
	committed, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := WriteCLIDoc(&b); err != nil {
		t.Fatal(err)
	}
	if b.String() == string(committed) {
		return
	}
	want, got := strings.Split(b.String(), "\n"), strings.Split(string(committed), "\n")
	for i := range max(len(want), len(got)) {
		w, g := lineAt(want, i), lineAt(got, i)
		if w != g {
			t.Fatalf("docs/cli.md is stale (run make docs): line %d is\n\t%q\nwant\n\t%q", i+1, g, w)
		}
	}
}

func lineAt(lines []string, i int) string {
	if i < len(lines) {
		return lines[i]
	}
	return "<end of file>"
}

// The reference holds every command's examples and flags, and the flags of this change.
func TestCLIDocHoldsEveryCommand(t *testing.T) {
	var b bytes.Buffer
	if err := WriteCLIDoc(&b); err != nil {
		t.Fatal(err)
	}
	doc := b.String()
	for _, w := range []string{
		"## flowguard check\n", "## flowguard audit\n", "## flowguard rego test\n", "## flowguard flows summarize\n",
		"flowguard check -f cluster/ --flows logs/ --rules regorules/ --change pr/ -o sarif > flowguard.sarif",
		"      --rules strings", "--log-level string",
	} {
		if !strings.Contains(doc, w) {
			t.Errorf("docs/cli.md lacks %q", w)
		}
	}
}
