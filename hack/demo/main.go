// Command demo runs flowguard's live demo (test/demo) for `make demo` and stops it for
// `make demo-down`.
//
//	demo start  starts `demo up` in the background, shows its progress, then tells the story
//	            against it and says how to explore further
//	demo up     starts the control plane, the shop and flowguard serve, and keeps them running
//	            until it is sent SIGTERM or SIGINT (its output is DIR/demo.log)
//	demo down   stops a running `demo up`
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/flowguard/flowguard/test/cluster"
	"github.com/flowguard/flowguard/test/demo"
)

// readyLine is what `demo up` prints once the story can start.
const readyLine = "==> The demo cluster is up"

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: demo start|up|down [flags]")
		os.Exit(2)
	}
	fs := flag.NewFlagSet(os.Args[1], flag.ExitOnError)
	dir := fs.String("dir", "bin/demo", "the demo's folder: kubeconfig, certificates, logs")
	assets := fs.String("assets", os.Getenv(cluster.AssetsEnv), "folder of etcd, kube-apiserver and kubectl")
	flowguard := fs.String("flowguard", "bin/flowguard", "the flowguard binary")
	_ = fs.Parse(os.Args[2:])

	root, err := cluster.ModuleRoot()
	if err == nil {
		err = absolute(dir, assets, flowguard)
	}
	if err == nil {
		o := demo.Options{Root: root, Dir: *dir, AssetsDir: *assets, Flowguard: *flowguard, Progress: os.Stdout}
		switch os.Args[1] {
		case "start":
			err = start(o)
		case "up":
			err = up(o)
		case "down":
			err = down(o.Progress, o.Dir)
		default:
			err = fmt.Errorf("unknown command %q: want start, up or down", os.Args[1])
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

func absolute(paths ...*string) error {
	for _, p := range paths {
		if *p == "" {
			continue
		}
		abs, err := filepath.Abs(*p)
		if err != nil {
			return fmt.Errorf("resolve %s: %w", *p, err)
		}
		*p = abs
	}
	return nil
}

// start launches `demo up` in its own session, so that it outlives make, follows its log until
// it is ready, and tells the story.
func start(o demo.Options) error {
	out := o.Progress
	pidFile := filepath.Join(o.Dir, "demo.pid")
	if pid, err := readPID(pidFile); err == nil && alive(pid) {
		return fmt.Errorf("a demo is already running (pid %d); `make demo-down` stops it", pid)
	}
	if err := os.MkdirAll(o.Dir, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", o.Dir, err)
	}
	logPath := filepath.Join(o.Dir, "demo.log")
	log, err := os.Create(logPath)
	if err != nil {
		return fmt.Errorf("create %s: %w", logPath, err)
	}
	defer log.Close()
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find the demo binary: %w", err)
	}
	cmd := exec.Command(self, "up", "--dir", o.Dir, "--assets", o.AssetsDir, "--flowguard", o.Flowguard)
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start demo up: %w", err)
	}
	if err := os.WriteFile(pidFile, []byte(strconv.Itoa(cmd.Process.Pid)), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", pidFile, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	if err := follow(out, logPath, exited); err != nil {
		_ = os.Remove(pidFile)
		return fmt.Errorf("%w (log: %s)", err, logPath)
	}

	fmt.Fprintln(out)
	if err := demo.RunStory(context.Background(), demo.NewRunner(o, out)); err != nil {
		return fmt.Errorf("%w\nThe cluster is still up for a look (`make demo-down` stops it)", err)
	}
	demo.Explore(out, o)
	return nil
}

// follow copies the log at path to out until the ready line or until `demo up` exits.
func follow(out io.Writer, path string, exited <-chan error) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	rd := bufio.NewReader(f)
	var partial string
	for {
		line, err := rd.ReadString('\n')
		partial += line
		if err == nil {
			fmt.Fprint(out, partial)
			if strings.HasPrefix(partial, readyLine) {
				return nil
			}
			partial = ""
			continue
		}
		if !errors.Is(err, io.EOF) {
			return err
		}
		select {
		case err := <-exited:
			rest, _ := io.ReadAll(rd)
			fmt.Fprint(out, partial+string(rest))
			return fmt.Errorf("the demo cluster stopped before it was ready: %w", err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// up starts the demo and keeps it running until SIGTERM or SIGINT.
func up(o demo.Options) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	env, err := demo.Up(ctx, o)
	if err != nil {
		return err
	}
	fmt.Fprintln(o.Progress, readyLine)
	<-ctx.Done()
	fmt.Fprintln(o.Progress, "==> Stopping flowguard and the control plane")
	err = env.Down()
	if rmErr := os.Remove(filepath.Join(o.Dir, "demo.pid")); rmErr != nil && !errors.Is(rmErr, os.ErrNotExist) {
		err = errors.Join(err, rmErr)
	}
	return err
}

// down stops a running `demo up` and waits until it has stopped everything it started.
func down(out io.Writer, dir string) error {
	pidFile := filepath.Join(dir, "demo.pid")
	pid, err := readPID(pidFile)
	if errors.Is(err, os.ErrNotExist) {
		fmt.Fprintln(out, "No demo is running.")
		return nil
	}
	if err != nil {
		return err
	}
	if !alive(pid) {
		fmt.Fprintf(out, "The demo (pid %d) was no longer running.\n", pid)
		return os.Remove(pidFile)
	}
	fmt.Fprintf(out, "Stopping the demo (pid %d): flowguard, kube-apiserver and etcd\n", pid)
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
		return fmt.Errorf("signal pid %d: %w", pid, err)
	}
	err = wait.PollUntilContextTimeout(context.Background(), 200*time.Millisecond, 90*time.Second, true,
		func(context.Context) (bool, error) { return !alive(pid), nil })
	if err != nil {
		return fmt.Errorf("the demo (pid %d) did not stop within 90s; see %s", pid, filepath.Join(dir, "demo.log"))
	}
	fmt.Fprintln(out, "Stopped.")
	_ = os.Remove(pidFile)
	return nil
}

func readPID(path string) (int, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil {
		return 0, fmt.Errorf("%s: %w", path, err)
	}
	return pid, nil
}

// alive reports whether a process with pid exists and is not a zombie.
func alive(pid int) bool {
	if syscall.Kill(pid, 0) != nil {
		return false
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	fields := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
	return len(fields) == 0 || fields[0] != "Z"
}
