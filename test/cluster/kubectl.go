package cluster

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
)

// KubectlCommand returns the real kubectl of AssetsDir, set up to talk to this cluster, for
// callers that need stdin or streaming output. Discovery is cached in the cluster's own folder,
// never in the user's home.
func (c *Cluster) KubectlCommand(ctx context.Context, args ...string) *exec.Cmd {
	full := append([]string{
		"--kubeconfig", c.Kubeconfig,
		"--cache-dir", filepath.Join(c.workDir, "kubectl-cache"),
	}, args...)
	cmd := exec.CommandContext(ctx, filepath.Join(c.AssetsDir, "kubectl"), full...)
	cmd.Env = []string{"HOME=" + c.workDir, "PATH=" + c.AssetsDir}
	return cmd
}

// Kubectl runs kubectl with args and returns its standard output. A non-zero exit is an error
// that carries kubectl's standard error.
func (c *Cluster) Kubectl(ctx context.Context, args ...string) (string, error) {
	return c.KubectlStdin(ctx, "", args...)
}

// KubectlStdin is Kubectl with stdin as kubectl's standard input (e.g. for `apply -f -`).
func (c *Cluster) KubectlStdin(ctx context.Context, stdin string, args ...string) (string, error) {
	cmd := c.KubectlCommand(ctx, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdin = strings.NewReader(stdin)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("kubectl %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}
