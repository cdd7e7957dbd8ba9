package app

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// The gate tests run the flowguard binary as CI runs it: built once per test process, from this
// module, into a temporary folder.
var (
	binaryOnce sync.Once
	binaryPath string
	binaryErr  error
	binaryDir  string
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binaryDir != "" {
		os.RemoveAll(binaryDir)
	}
	os.Exit(code)
}

// flowguardBinary builds cmd/flowguard once and returns its path.
func flowguardBinary(t *testing.T) string {
	t.Helper()
	binaryOnce.Do(func() {
		if binaryDir, binaryErr = os.MkdirTemp("", "flowguard-bin-"); binaryErr != nil {
			return
		}
		binaryPath = filepath.Join(binaryDir, "flowguard")
		out, err := exec.Command("go", "build", "-o", binaryPath, "github.com/flowguard/flowguard/cmd/flowguard").CombinedOutput()
		if err != nil {
			binaryErr = errors.New("go build ./cmd/flowguard: " + err.Error() + "\n" + string(out))
		}
	})
	if binaryErr != nil {
		t.Fatal(binaryErr)
	}
	return binaryPath
}

// binResult is what one run of the binary gave.
type binResult struct {
	code           int
	stdout, stderr string
}

// runBinary runs the built flowguard with args and returns its exit code and output.
func runBinary(t *testing.T, args ...string) binResult {
	t.Helper()
	return runBinaryIn(t, "", args...)
}

// runBinaryIn is runBinary with stdin as the standard input.
func runBinaryIn(t *testing.T, stdin string, args ...string) binResult {
	t.Helper()
	return runBinaryDir(t, "", stdin, args...)
}

// runBinaryDir is runBinaryIn with dir as the working directory.
func runBinaryDir(t *testing.T, dir, stdin string, args ...string) binResult {
	t.Helper()
	cmd := exec.Command(flowguardBinary(t), args...)
	cmd.Dir = dir
	cmd.Stdin = strings.NewReader(stdin)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	code := 0
	if err != nil {
		var exit *exec.ExitError
		if !errors.As(err, &exit) {
			t.Fatalf("run flowguard %s: %v", strings.Join(args, " "), err)
		}
		code = exit.ExitCode()
	}
	return binResult{code: code, stdout: out.String(), stderr: errOut.String()}
}

// expect checks the exit code and that stdout and stderr hold the given texts.
func (r binResult) expect(t *testing.T, code int, stdout, stderr []string) {
	t.Helper()
	if r.code != code {
		t.Fatalf("exit code = %d, want %d\nstdout:\n%s\nstderr:\n%s", r.code, code, truncateForLog(r.stdout), r.stderr)
	}
	for _, w := range stdout {
		if !strings.Contains(r.stdout, w) {
			t.Errorf("stdout lacks %q:\n%s", w, truncateForLog(r.stdout))
		}
	}
	for _, w := range stderr {
		if !strings.Contains(r.stderr, w) {
			t.Errorf("stderr lacks %q:\n%s", w, r.stderr)
		}
	}
}

// writeFile writes content to name in a test folder and returns its path.
func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}
