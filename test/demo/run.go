package demo

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"
)

// Runner runs the story's commands with the real kubectl, printing each command as a user would
// type it and what it printed.
type Runner struct {
	// Root is the module root; commands run there, so paths in them read examples/shop/...
	Root string
	// Dir is the demo folder, where files the story writes go (bin/demo).
	Dir string
	// Kubeconfig reaches the demo's control plane.
	Kubeconfig string
	// AssetsDir holds kubectl.
	AssetsDir string
	// Out receives the story.
	Out io.Writer
}

// NewRunner returns a Runner for the demo that Up started with o.
func NewRunner(o Options, out io.Writer) *Runner {
	return &Runner{Root: o.Root, Dir: o.Dir, Kubeconfig: o.Kubeconfig(), AssetsDir: o.AssetsDir, Out: out}
}

// Result is what one command printed.
type Result struct {
	// Stdout and Stderr are kept apart for checks; Combined is what the terminal showed.
	Stdout, Stderr, Combined string
	// Err is the command's failure (a non-zero exit), if any.
	Err error
}

// kubectl runs kubectl with args (and stdin when not empty), prints it and returns what it
// printed. A failing command is a result, not an error: refusals are part of the story.
func (r *Runner) kubectl(ctx context.Context, args ...string) Result {
	return r.run(ctx, "", "", args...)
}

// kubectlTo runs kubectl and writes its standard output to the file save (relative to Root),
// shown as a shell redirection.
func (r *Runner) kubectlTo(ctx context.Context, save string, args ...string) Result {
	return r.run(ctx, save, "", args...)
}

func (r *Runner) run(ctx context.Context, save, stdin string, args ...string) Result {
	shown := "$ kubectl " + shellJoin(args)
	if save != "" {
		shown += " > " + save
	}
	fmt.Fprintln(r.Out, shown)
	cmd := exec.CommandContext(ctx, filepath.Join(r.AssetsDir, "kubectl"), args...)
	cmd.Dir = r.Root
	cmd.Env = append(os.Environ(), "KUBECONFIG="+r.Kubeconfig, "KUBECACHEDIR="+filepath.Join(r.Dir, "kubectl-cache"))
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr, combined bytes.Buffer
	cmd.Stdout = io.MultiWriter(&stdout, &combined)
	cmd.Stderr = io.MultiWriter(&stderr, &combined)
	res := Result{Err: cmd.Run()}
	res.Stdout, res.Stderr, res.Combined = stdout.String(), stderr.String(), combined.String()
	if save != "" {
		if err := os.WriteFile(r.abs(save), stdout.Bytes(), 0o644); err != nil && res.Err == nil {
			res.Err = fmt.Errorf("write %s: %w", save, err)
		}
		res.Combined = stderr.String()
	}
	r.print(res.Combined)
	return res
}

// show prints a file of the tree as `cat` would, so the reader sees what is applied.
func (r *Runner) show(path string) error {
	fmt.Fprintln(r.Out, "$ cat "+path)
	data, err := os.ReadFile(r.abs(path))
	if err != nil {
		return fmt.Errorf("read %s: %w", path, err)
	}
	r.print(string(data))
	return nil
}

func (r *Runner) print(out string) {
	if out = strings.TrimRight(out, "\n"); out != "" {
		fmt.Fprintln(r.Out, out)
	}
	fmt.Fprintln(r.Out)
}

// say prints the story's prose between commands.
func (r *Runner) say(text string) {
	fmt.Fprintln(r.Out, text)
	fmt.Fprintln(r.Out)
}

// shellJoin quotes the arguments that a shell would split or expand.
func shellJoin(args []string) string {
	quoted := make([]string, len(args))
	for i, a := range args {
		if a == "" || strings.ContainsAny(a, " '\"{}[]$*?!&|;<>()\\`") {
			a = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
		quoted[i] = a
	}
	return strings.Join(quoted, " ")
}

// expect checks a result: whether the command must succeed, and texts that must appear in
// what it printed.
func expect(what string, res Result, succeed bool, wants ...string) error {
	switch {
	case succeed && res.Err != nil:
		return fmt.Errorf("%s failed: %w\n%s", what, res.Err, res.Combined)
	case !succeed && res.Err == nil:
		return fmt.Errorf("%s succeeded, but must be refused:\n%s", what, res.Combined)
	}
	for _, want := range wants {
		if !strings.Contains(res.Combined, want) {
			return fmt.Errorf("%s printed no %q:\n%s", what, want, res.Combined)
		}
	}
	return nil
}

// admittedQuietly runs kubectl args (a server-side dry run) without showing it until the webhook
// admits it without a warning, and fails with the last answer if that takes over 15 seconds.
func (r *Runner) admittedQuietly(ctx context.Context, args []string) error {
	var last Result
	err := wait.PollUntilContextTimeout(ctx, 250*time.Millisecond, 15*time.Second, true, func(ctx context.Context) (bool, error) {
		last = r.runQuiet(ctx, args...)
		return last.Err == nil && !strings.Contains(last.Combined, "Warning:"), nil
	})
	if err != nil {
		return fmt.Errorf("kubectl %s was not admitted cleanly within 15s: %w\n%s", shellJoin(args), err, last.Combined)
	}
	return nil
}
