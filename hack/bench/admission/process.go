package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"
)

// server is a webhook server running as a process of its own.
type server struct {
	name string
	// url is the validating endpoint.
	url string
	// pprof is the address of the server's pprof endpoints, empty when it serves none.
	pprof string
	cmd   *exec.Cmd
	done  chan error
	log   string
}

// start runs bin with args and env added to this process's environment, its output in logPath.
func start(name, bin, logPath string, env, args []string) (*server, error) {
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("create %s log: %w", name, err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	s := &server{name: name, cmd: cmd, done: make(chan error, 1), log: logPath}
	go func() {
		s.done <- cmd.Wait()
		logFile.Close()
	}()
	return s, nil
}

// poll calls ok every 200ms until it is true, the process exits or timeout passes.
func (s *server) poll(ctx context.Context, timeout time.Duration, what string, ok func() bool) error {
	err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, timeout, true, func(context.Context) (bool, error) {
		select {
		case err := <-s.done:
			s.done <- err
			return false, fmt.Errorf("%s exited: %w (log: %s)", s.name, err, s.log)
		default:
		}
		return ok(), nil
	})
	if err != nil {
		return fmt.Errorf("%s: waiting for %s: %w (log: %s)", s.name, what, err, s.log)
	}
	return nil
}

// waitHTTP waits until url answers 200; insecure skips certificate checks (for readiness only).
func (s *server) waitHTTP(ctx context.Context, url string, timeout time.Duration) error {
	client := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // readiness probe of a loopback server only
	}}
	return s.poll(ctx, timeout, url, func() bool {
		resp, err := client.Get(url)
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
}

// alive returns an error when the process has exited.
func (s *server) alive() error {
	select {
	case err := <-s.done:
		s.done <- err
		return fmt.Errorf("%s exited: %w (log: %s)", s.name, err, s.log)
	default:
		return nil
	}
}

// cpu is the process's user and system CPU time so far, from /proc/PID/stat (clock ticks of
// 1/100 s, as Linux reports them to user space).
func (s *server) cpu() (time.Duration, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", s.cmd.Process.Pid))
	if err != nil {
		return 0, fmt.Errorf("read %s's CPU time: %w", s.name, err)
	}
	// Fields after the command name, which is in parentheses and may hold spaces.
	rest := string(data[strings.LastIndexByte(string(data), ')')+2:])
	f := strings.Fields(rest)
	if len(f) < 13 {
		return 0, fmt.Errorf("%s's /proc stat has %d fields", s.name, len(f))
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, fmt.Errorf("%s's /proc stat: %w", s.name, err)
	}
	return time.Duration(utime+stime) * 10 * time.Millisecond, nil
}

// stop sends SIGTERM and waits up to 40 s, then kills.
func (s *server) stop() error {
	if s == nil {
		return nil
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-s.done:
		var exit *exec.ExitError
		if err != nil && !errors.As(err, &exit) {
			return fmt.Errorf("%s: %w", s.name, err)
		}
		return nil
	case <-time.After(40 * time.Second):
		_ = s.cmd.Process.Kill()
		return fmt.Errorf("%s did not stop within 40s of SIGTERM; killed", s.name)
	}
}

// freePorts returns n ports free on loopback now.
func freePorts(n int) ([]int, error) {
	ports := make([]int, 0, n)
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("find a free port: %w", err)
		}
		defer l.Close()
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// loadAverage is the first figure of /proc/loadavg.
func loadAverage() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	return strings.Fields(string(data))[0]
}

// profile records the server's CPU profile for d into path when it serves pprof; the channel
// reports when the profile is written (at once when there is none to take).
func (s *server) profile(ctx context.Context, d time.Duration, path string) <-chan error {
	done := make(chan error, 1)
	if s.pprof == "" {
		done <- nil
		return done
	}
	go func() {
		done <- func() error {
			url := fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", s.pprof, max(1, int(d.Seconds())))
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
			if err != nil {
				return fmt.Errorf("profile %s: %w", s.name, err)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				return fmt.Errorf("profile %s: %w", s.name, err)
			}
			defer resp.Body.Close()
			body, err := io.ReadAll(resp.Body)
			if err == nil && resp.StatusCode != http.StatusOK {
				err = fmt.Errorf("HTTP %d: %.200s", resp.StatusCode, body)
			}
			if err != nil {
				return fmt.Errorf("profile %s: %w", s.name, err)
			}
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				return fmt.Errorf("profile %s: %w", s.name, err)
			}
			if err := os.WriteFile(path, body, 0o644); err != nil {
				return fmt.Errorf("profile %s: %w", s.name, err)
			}
			return nil
		}()
	}()
	return done
}
