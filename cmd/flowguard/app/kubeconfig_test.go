package app

import (
	"testing"
)

const twoContexts = `apiVersion: v1
kind: Config
clusters:
- name: prod
  cluster: {server: "https://127.0.0.1:6443"}
- name: staging
  cluster: {server: "https://127.0.0.1:7443"}
users:
- name: me
  user: {token: t}
contexts:
- name: prod
  context: {cluster: prod, user: me}
- name: staging
  context: {cluster: staging, user: me}
current-context: prod
`

// The cluster is found as kubectl finds it: --kubeconfig, else $KUBECONFIG, in --context, else
// the current context.
func TestRestConfigAsKubectl(t *testing.T) {
	path := writeFile(t, t.TempDir(), "config", twoContexts)
	tests := map[string]struct {
		kubeconfig, context, env string
		wantHost                 string
	}{
		"--kubeconfig, current context":      {kubeconfig: path, wantHost: "https://127.0.0.1:6443"},
		"--kubeconfig and --context":         {kubeconfig: path, context: "staging", wantHost: "https://127.0.0.1:7443"},
		"$KUBECONFIG and --context":          {env: path, context: "staging", wantHost: "https://127.0.0.1:7443"},
		"$KUBECONFIG alone, current context": {env: path, wantHost: "https://127.0.0.1:6443"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Setenv("KUBECONFIG", tc.env)
			cfg, err := restConfig(tc.kubeconfig, tc.context)
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Host != tc.wantHost {
				t.Errorf("host = %s, want %s", cfg.Host, tc.wantHost)
			}
		})
	}
}

// A context the kubeconfig does not hold is exit 2 naming it, before any connection.
func TestAuditUnknownContext(t *testing.T) {
	path := writeFile(t, t.TempDir(), "config", twoContexts)
	runBinary(t, "audit", "--kubeconfig", path, "--context", "stagin").
		expect(t, ExitBadInput, nil, []string{`context "stagin"`})
	runBinary(t, "audit", "-f", shopDir, "--context", "staging").
		expect(t, ExitBadInput, nil, []string{"-f and --kubeconfig or --context: give one source of cluster state"})
}
