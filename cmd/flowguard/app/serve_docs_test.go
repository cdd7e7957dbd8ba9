package app

import (
	"io"
	"os"
	"strings"
	"testing"

	"github.com/spf13/pflag"
)

func readDoc(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile("../../../docs/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestServeDocsListEveryFlag fails when a flag of flowguard serve is in neither
// docs/operations.md nor docs/webhook.md.
func TestServeDocsListEveryFlag(t *testing.T) {
	docs := readDoc(t, "operations.md") + readDoc(t, "webhook.md")
	serve, _, err := NewRootCommand(io.Discard, io.Discard).Find([]string{"serve"})
	if err != nil {
		t.Fatal(err)
	}
	check := func(f *pflag.Flag) {
		if f.Name != "help" && !strings.Contains(docs, "`--"+f.Name) {
			t.Errorf("--%s is documented in neither docs/operations.md nor docs/webhook.md", f.Name)
		}
	}
	serve.LocalFlags().VisitAll(check)
	serve.InheritedFlags().VisitAll(check)
}
