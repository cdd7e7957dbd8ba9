package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/flowguard/flowguard/test/cluster"
)

// gatekeeperModule is the Gatekeeper release compared with; hack/bench-tools.sh builds it.
const gatekeeperModule = "github.com/open-policy-agent/gatekeeper/v3@v3.23.1"

const gatekeeperNamespace = "gatekeeper-system"

// gatekeeperCRDs writes the CustomResourceDefinitions of Gatekeeper's release manifest
// (deploy/gatekeeper.yaml of the module) into dir, for the control plane to install.
func gatekeeperCRDs(dir string) error {
	out, err := exec.Command("go", "mod", "download", "-json", gatekeeperModule).Output()
	if err != nil {
		return fmt.Errorf("locate %s in the module cache: %w", gatekeeperModule, err)
	}
	var mod struct{ Dir string }
	if err := json.Unmarshal(out, &mod); err != nil || mod.Dir == "" {
		return fmt.Errorf("go mod download %s: no folder in %s", gatekeeperModule, out)
	}
	manifest := filepath.Join(mod.Dir, "deploy", "gatekeeper.yaml")
	data, err := os.ReadFile(manifest)
	if err != nil {
		return fmt.Errorf("read Gatekeeper's manifest: %w", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	n := 0
	for {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("%s: %w", manifest, err)
		}
		var tm metav1.TypeMeta
		if err := sigsyaml.Unmarshal(doc, &tm); err != nil {
			return fmt.Errorf("%s: %w", manifest, err)
		}
		if tm.Kind != "CustomResourceDefinition" {
			continue
		}
		n++
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("crd-%02d.yaml", n)), doc, 0o644); err != nil {
			return fmt.Errorf("write Gatekeeper CRD: %w", err)
		}
	}
	if n == 0 {
		return fmt.Errorf("%s holds no CustomResourceDefinition", manifest)
	}
	return nil
}

// constraint is the one ConstraintTemplate and constraint Gatekeeper evaluates: every
// NetworkPolicy (Kubernetes' and Calico's) must carry an owner label. The reviews' policies
// carry it, so Gatekeeper admits them all after evaluating the rule.
const constraint = `apiVersion: templates.gatekeeper.sh/v1
kind: ConstraintTemplate
metadata: {name: k8srequiredlabels}
spec:
  crd:
    spec:
      names: {kind: K8sRequiredLabels}
      validation:
        openAPIV3Schema:
          type: object
          properties: {labels: {type: array, items: {type: string}}}
  targets:
  - target: admission.k8s.gatekeeper.sh
    rego: |
      package k8srequiredlabels
      violation[{"msg": msg}] {
        provided := {label | input.review.object.metadata.labels[label]}
        required := {label | label := input.parameters.labels[_]}
        missing := required - provided
        count(missing) > 0
        msg := sprintf("missing labels: %v", [missing])
      }
`

const constraintObject = `apiVersion: constraints.gatekeeper.sh/v1beta1
kind: K8sRequiredLabels
metadata: {name: networkpolicies-have-owner}
spec:
  match:
    kinds: [{apiGroups: [networking.k8s.io, projectcalico.org], kinds: [NetworkPolicy]}]
  parameters: {labels: [owner]}
`

// startGatekeeper runs Gatekeeper's webhook as its Deployment runs it (operations webhook and
// mutation-webhook, http.send disabled, plus generate, which the audit Deployment runs) with
// the bench's certificate instead of its rotation,
// installs the constraint and waits until the webhook refuses a NetworkPolicy without an owner.
func startGatekeeper(ctx context.Context, o options, c *cluster.Cluster, certDir, caFile string) (*server, error) {
	if err := c.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: gatekeeperNamespace}}); err != nil {
		return nil, fmt.Errorf("create namespace %s: %w", gatekeeperNamespace, err)
	}
	// Gatekeeper owns its status objects by its Pod, which must exist (never scheduled here).
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "gatekeeper-bench", Namespace: gatekeeperNamespace},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "manager", Image: "openpolicyagent/gatekeeper:v3.23.1"}}}}
	if err := c.Client.Create(ctx, pod); err != nil {
		return nil, fmt.Errorf("create Gatekeeper's Pod object: %w", err)
	}
	ports, err := freePorts(3)
	if err != nil {
		return nil, err
	}
	args := []string{
		fmt.Sprintf("--port=%d", ports[0]), "--host=127.0.0.1", "--cert-dir=" + certDir, "--disable-cert-rotation",
		fmt.Sprintf("--health-addr=127.0.0.1:%d", ports[1]), fmt.Sprintf("--metrics-addr=127.0.0.1:%d", ports[2]),
		"--logtostderr", "--exempt-namespace=" + gatekeeperNamespace,
		"--operation=webhook", "--operation=mutation-webhook", "--disable-opa-builtin={http.send}",
		// The audit Deployment's generate operation creates the constraint's CRD from the template.
		"--operation=generate",
	}
	env := []string{"KUBECONFIG=" + c.Kubeconfig, "POD_NAMESPACE=" + gatekeeperNamespace, "POD_NAME=gatekeeper-bench",
		"NAMESPACE=" + gatekeeperNamespace, "CONTAINER_NAME=manager"}
	s, err := start("gatekeeper", o.gatekeeper, filepath.Join(o.dir, "gatekeeper.log"), env, args)
	if err != nil {
		return nil, err
	}
	s.url = fmt.Sprintf("https://127.0.0.1:%d/v1/admit", ports[0])
	if err := s.waitHTTP(ctx, fmt.Sprintf("http://127.0.0.1:%d/readyz", ports[1]), 3*time.Minute); err != nil {
		return s, err
	}
	if err := kubectlApply(ctx, c, constraint); err != nil {
		return s, err
	}
	// The constraint's kind exists once Gatekeeper has compiled the template.
	var last error
	if err := wait.PollUntilContextTimeout(ctx, time.Second, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
		last = kubectlApply(ctx, c, constraintObject)
		return last == nil, nil
	}); err != nil {
		return s, fmt.Errorf("create Gatekeeper constraint: %w", last)
	}
	probe, err := decode(c.Scheme, `
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: bench-probe, namespace: default}
spec: {podSelector: {}}`)
	if err != nil {
		return s, err
	}
	body, err := json.Marshal(map[string]any{"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
		"request": map[string]any{"uid": "probe", "kind": map[string]string{"group": "networking.k8s.io", "version": "v1", "kind": "NetworkPolicy"},
			"resource":  map[string]string{"group": "networking.k8s.io", "version": "v1", "resource": "networkpolicies"},
			"namespace": "default", "name": "bench-probe", "operation": "CREATE", "userInfo": map[string]any{"username": "bench"},
			"object": probe}})
	if err != nil {
		return s, fmt.Errorf("encode Gatekeeper probe: %w", err)
	}
	client, err := tlsClient(caFile)
	if err != nil {
		return s, err
	}
	var said string
	err = s.poll(ctx, 2*time.Minute, "the constraint to refuse a NetworkPolicy without an owner label", func() bool {
		resp, err := client.Post(s.url, "application/json", bytes.NewReader(body))
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		data, _ := io.ReadAll(resp.Body)
		said = string(data)
		return resp.StatusCode == http.StatusOK && strings.Contains(said, `"allowed":false`) && strings.Contains(said, "owner")
	})
	if err != nil {
		return s, fmt.Errorf("%w; last answer: %.300s", err, said)
	}
	return s, nil
}

func kubectlApply(ctx context.Context, c *cluster.Cluster, doc string) error {
	if out, err := c.KubectlStdin(ctx, doc, "apply", "-f", "-"); err != nil {
		return fmt.Errorf("kubectl apply: %w: %s", err, out)
	}
	return nil
}
