package app

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// shopManifests is a namespace with a default deny, an API that admits the frontend on its
// named port, and a StatefulSet and a Pod sharing a name.
const shopManifests = `
apiVersion: v1
kind: Namespace
metadata: {name: shop, labels: {team: a}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: frontend, namespace: shop}
spec:
  selector: {matchLabels: {app: frontend}}
  template:
    metadata: {labels: {app: frontend}}
    spec: {containers: [{name: c, image: x}]}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: api, namespace: shop}
spec:
  selector: {matchLabels: {app: api}}
  template:
    metadata: {labels: {app: api}}
    spec: {containers: [{name: c, image: x, ports: [{name: http, containerPort: 8080}]}]}
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: cache, namespace: shop}
spec:
  selector: {matchLabels: {app: cache}}
  template:
    metadata: {labels: {app: cache}}
    spec: {containers: [{name: c, image: x}]}
---
apiVersion: v1
kind: Pod
metadata: {name: cache, namespace: shop, labels: {app: debug}}
spec: {containers: [{name: c, image: x}]}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: default-deny, namespace: shop}
spec:
  podSelector: {}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: api-allow, namespace: shop}
spec:
  podSelector: {matchLabels: {app: api}}
  ingress:
  - from: [{podSelector: {matchLabels: {app: frontend}}}]
    ports: [{port: http}]
`

// brokenManifest has one good policy and one that the API server would refuse.
const brokenManifest = `
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: typo, namespace: shop}
spec:
  podSelectr: {}
`

func writeManifests(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestExplainCommand(t *testing.T) {
	dir := writeManifests(t, map[string]string{"shop.yaml": shopManifests})
	broken := writeManifests(t, map[string]string{"shop.yaml": shopManifests, "broken.yaml": brokenManifest})
	tests := map[string]struct {
		args     []string
		wantCode int
		wantOut  []string
		wantErr  string
	}{
		"an allowed connection names the rule that allowed it": {
			args:     []string{"explain", "-f", dir, "--from", "shop/frontend", "--to", "shop/api", "--port", "http"},
			wantCode: ExitOK,
			wantOut: []string{"shop/frontend[Deployment] -> shop/api[Deployment] TCP 8080: ALLOWED",
				"[tier default] KubernetesNetworkPolicy shop/api-allow rule 0: Allow", "no policy selects this endpoint"},
		},
		"a denied connection is still an answer (exit 0)": {
			args:     []string{"explain", "-f", dir, "--from", "shop/api", "--to", "shop/frontend", "--port", "80"},
			wantCode: ExitOK,
			wantOut:  []string{"DENIED", "end-of-tier Deny"},
		},
		"an address is a peer": {
			args:     []string{"explain", "-f", dir, "--from", "203.0.113.7", "--to", "shop/api", "--port", "8080/tcp"},
			wantCode: ExitOK,
			wantOut:  []string{"203.0.113.7 -> shop/api[Deployment] TCP 8080: DENIED", "no policy is enforced at this endpoint"},
		},
		"an ambiguous name asks for the kind": {
			args:     []string{"explain", "-f", dir, "--from", "shop/frontend", "--to", "shop/cache", "--port", "80"},
			wantCode: ExitBadInput, wantErr: "is ambiguous: write one of shop/Pod/cache, shop/StatefulSet/cache",
		},
		"NAMESPACE/KIND/NAME settles it": {
			args:     []string{"explain", "-f", dir, "--from", "shop/frontend", "--to", "shop/pod/cache", "--port", "80"},
			wantCode: ExitOK, wantOut: []string{"shop/cache[Pod]"},
		},
		"an unknown workload is bad input": {
			args:     []string{"explain", "-f", dir, "--from", "shop/nope", "--to", "shop/api", "--port", "80"},
			wantCode: ExitBadInput, wantErr: `no such workload or pod (namespace shop has`,
		},
		"a port name the destination lacks is bad input": {
			args:     []string{"explain", "-f", dir, "--from", "shop/frontend", "--to", "shop/api", "--port", "grpc"},
			wantCode: ExitBadInput, wantErr: `has no tcp port named "grpc"`,
		},
		"missing flags are all reported": {
			args:     []string{"explain", "-f", dir},
			wantCode: ExitBadInput, wantErr: "--from: required\n--to: required\n--port: required",
		},
		"a bad object is reported with its file, object and field, and the rest still answer": {
			args:     []string{"explain", "-f", broken, "--from", "shop/frontend", "--to", "shop/api", "--port", "8080"},
			wantCode: ExitBadInput, wantOut: []string{"ALLOWED"},
			wantErr: `broken.yaml:6: NetworkPolicy shop/typo: strict decoding: unknown field "spec.podSelectr"`,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			code := Execute(tc.args, &out, &errOut)
			if code != tc.wantCode {
				t.Fatalf("exit code = %d, want %d\nstdout: %s\nstderr: %s", code, tc.wantCode, out.String(), errOut.String())
			}
			for _, w := range tc.wantOut {
				if !strings.Contains(out.String(), w) {
					t.Errorf("stdout = %q, want it to contain %q", out.String(), w)
				}
			}
			if !strings.Contains(errOut.String(), tc.wantErr) {
				t.Errorf("stderr = %q, want it to contain %q", errOut.String(), tc.wantErr)
			}
		})
	}
}

// The JSON answer has a boolean at the top and each direction with its own verdict and trace.
func TestExplainJSON(t *testing.T) {
	dir := writeManifests(t, map[string]string{"shop.yaml": shopManifests})
	var out, errOut bytes.Buffer
	code := Execute([]string{"explain", "-f", dir, "--from", "shop/frontend", "--to", "shop/api", "--port", "8080", "-o", "json"}, &out, &errOut)
	if code != ExitOK {
		t.Fatalf("exit code %d: %s", code, errOut.String())
	}
	var doc struct {
		Allowed  *bool  `json:"allowed"`
		Protocol string `json:"protocol"`
		Port     int    `json:"port"`
		Egress   struct {
			Allowed   bool `json:"allowed"`
			DecidedBy struct {
				Reason string `json:"reason"`
			} `json:"decidedBy"`
		} `json:"egress"`
		Ingress struct {
			Allowed   bool `json:"allowed"`
			DecidedBy struct {
				Reason string `json:"reason"`
				Tier   string `json:"tier"`
				Rule   *int   `json:"rule"`
				Policy struct{ Kind, Namespace, Name string }
			} `json:"decidedBy"`
			Trace []json.RawMessage `json:"trace"`
		} `json:"ingress"`
	}
	if err := json.Unmarshal(out.Bytes(), &doc); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	in := doc.Ingress.DecidedBy
	switch {
	case doc.Allowed == nil || !*doc.Allowed:
		t.Errorf("top-level allowed = %v, want true", doc.Allowed)
	case doc.Protocol != "TCP" || doc.Port != 8080:
		t.Errorf("protocol/port = %s/%d", doc.Protocol, doc.Port)
	case !doc.Egress.Allowed || doc.Egress.DecidedBy.Reason != "no-policy":
		t.Errorf("egress = %+v, want allowed because no policy selects the frontend", doc.Egress)
	case !doc.Ingress.Allowed || in.Reason != "rule" || in.Tier != "default" || in.Rule == nil || *in.Rule != 0 ||
		in.Policy.Kind != "KubernetesNetworkPolicy" || in.Policy.Name != "api-allow" || len(doc.Ingress.Trace) != 1:
		t.Errorf("ingress = %+v, want allowed by rule 0 of api-allow in tier default", doc.Ingress)
	}
}
