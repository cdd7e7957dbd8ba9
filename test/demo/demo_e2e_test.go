//go:build e2e

package demo

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flowguard/flowguard/test/cluster"
)

// TestDemo runs `make demo`'s story against its own control plane, with flowguard serve built
// from this tree and run as its own process: every step's outcome (the refusal naming the
// flows, the warnings, the audit's findings, the recommendation applied without a refusal and
// the better score after it) is checked by the step itself.
func TestDemo(t *testing.T) {
	root, err := cluster.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	flowguard := filepath.Join(dir, "flowguard")
	build := exec.Command("go", "build", "-o", flowguard, "./cmd/flowguard")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build flowguard: %v\n%s", err, out)
	}
	var progress, story bytes.Buffer
	o := Options{Root: root, Dir: filepath.Join(dir, "demo"), AssetsDir: os.Getenv(cluster.AssetsEnv), Flowguard: flowguard, Progress: &progress}
	env, err := Up(t.Context(), o)
	if err != nil {
		t.Fatalf("start the demo: %v\n%s", err, progress.String())
	}
	t.Cleanup(func() {
		if err := env.Down(); err != nil {
			t.Errorf("stop the demo: %v", err)
		}
	})
	for _, want := range []string{"CRDs installed", "272 flow records read", "Installing the ValidatingWebhookConfiguration"} {
		if !strings.Contains(progress.String(), want) {
			t.Errorf("the setup's progress lacks %q:\n%s", want, progress.String())
		}
	}

	r := NewRunner(o, &story)
	for i, s := range Story {
		ok := t.Run(s.Title, func(t *testing.T) {
			if err := s.Run(context.WithoutCancel(t.Context()), r); err != nil {
				t.Fatal(err)
			}
		})
		if !ok {
			t.Fatalf("step %d failed; the story so far:\n%s\nflowguard's log: %s", i+1, story.String(), readFile(t, filepath.Join(o.Dir, "flowguard.log")))
		}
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	return string(b)
}
