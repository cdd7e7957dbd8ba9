package app

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// recommendManifests is a small shop: frontend -> api (named port http) -> db, and DNS.
const recommendManifests = `apiVersion: v1
kind: Namespace
metadata: {name: shop}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: frontend, namespace: shop}
spec:
  selector: {matchLabels: {app: frontend}}
  template:
    metadata: {labels: {app: frontend}}
    spec: {containers: [{name: web, image: registry.example/frontend}]}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: api, namespace: shop}
spec:
  selector: {matchLabels: {app: api}}
  template:
    metadata: {labels: {app: api, tier: backend}}
    spec: {containers: [{name: api, image: registry.example/api, ports: [{name: http, containerPort: 8080}]}]}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: coredns, namespace: kube-system}
spec:
  selector: {matchLabels: {k8s-app: kube-dns}}
  template:
    metadata: {labels: {k8s-app: kube-dns}}
    spec: {containers: [{name: coredns, image: registry.example/coredns}]}
`

// recommendFlows are Calico flow-log records (aggregation level 2) over two days.
var recommendFlows = strings.Join([]string{
	`{"start_time":1772323200,"end_time":1772323500,"source_name":"-","source_name_aggr":"frontend-7d9f8b6c5-*","source_namespace":"shop","source_type":"wep","source_labels":{"labels":["app=frontend","pod-template-hash=7d9f8b6c5"]},"dest_name":"-","dest_name_aggr":"api-5f6b7c8d9-*","dest_namespace":"shop","dest_type":"wep","dest_labels":{"labels":["app=api","tier=backend"]},"dest_port":8080,"proto":"tcp","action":"allow","reporter":"dst","num_flows":3}`,
	`{"start_time":1772323200,"end_time":1772323500,"source_name":"-","source_name_aggr":"api-5f6b7c8d9-*","source_namespace":"shop","source_type":"wep","source_labels":{"labels":["app=api","tier=backend"]},"dest_name":"-","dest_name_aggr":"coredns-5d78c9869d-*","dest_namespace":"kube-system","dest_type":"wep","dest_labels":{"labels":["k8s-app=kube-dns"]},"dest_port":53,"proto":"udp","action":"allow","reporter":"src","num_flows":9}`,
	`{"start_time":1772409600,"end_time":1772409900,"source_ip":"52.1.2.3","source_name":"-","source_name_aggr":"pub","source_namespace":"-","source_type":"net","dest_name":"-","dest_name_aggr":"frontend-7d9f8b6c5-*","dest_namespace":"shop","dest_type":"wep","dest_port":443,"proto":"tcp","action":"allow","reporter":"dst","num_flows":1}`,
	`{"start_time":1772409600,"end_time":1772409900,"source_name":"-","source_name_aggr":"ghost-6f7b8c9d5-*","source_namespace":"shop","source_type":"wep","dest_name":"-","dest_name_aggr":"api-5f6b7c8d9-*","dest_namespace":"shop","dest_type":"wep","dest_port":8080,"proto":"tcp","action":"allow","reporter":"dst","num_flows":2}`,
	`not a flow record`,
}, "\n") + "\n"

func writeRecommendFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestRecommendCommand(t *testing.T) {
	dir := t.TempDir()
	manifests := writeRecommendFile(t, dir, "cluster.yaml", recommendManifests)
	flowLog := writeRecommendFile(t, dir, "flows.log", recommendFlows)
	garbage := writeRecommendFile(t, dir, "garbage.log", "garbage\n{\"start_time\":\n")
	badManifest := writeRecommendFile(t, dir, "bad.yaml", "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x, namespace: shop}\nspec: {replicas: many}\n")

	tests := map[string]struct {
		args     []string
		wantCode int
		wantOut  []string
		wantErr  []string
	}{
		"Kubernetes policies by default, with the unresolved flow and the malformed record on stderr": {
			args:     []string{"recommend", "--flows", flowLog, "-f", manifests},
			wantCode: ExitOK,
			wantOut: []string{
				"# flowguard recommend: style k8s, 4 policies for 2 workloads in 1 namespaces",
				"#   shop: stabilizing",
				"name: flowguard-default-deny", "name: flowguard-allow-dns", "name: flowguard-api", "name: flowguard-frontend",
				"- port: http", "cidr: 52.1.2.3/32",
				"flowguard.dev/recommendation-status: stabilizing",
			},
			wantErr: []string{
				"1 malformed flow records skipped",
				"shop/ghost-6f7b8c9d5-* -> shop/api[Deployment] tcp/8080 (2 flows, last seen 2026-03-02T00:05:00Z): source: no workload of the cluster model matches",
			},
		},
		"Calico staged policies in a tier": {
			args:     []string{"recommend", "--flows", flowLog, "-f", manifests, "--style", "calico-staged", "--tier", "learned"},
			wantCode: ExitOK,
			wantOut:  []string{"kind: Tier", "name: learned", "kind: StagedNetworkPolicy", "name: learned.shop", "tier: learned", "selector: projectcalico.org/namespace == 'shop'"},
		},
		"the state at another time": {
			args:     []string{"recommend", "--flows", flowLog, "-f", manifests, "--at", "2026-03-05T00:00:00Z"},
			wantCode: ExitOK,
			wantOut:  []string{"#   shop: stable", "states as of 2026-03-05T00:00:00Z"},
		},
		"JSON as a v1 List": {
			args:     []string{"recommend", "--flows", flowLog, "-f", manifests, "-o", "json"},
			wantCode: ExitOK,
			wantOut:  []string{`"kind": "List"`, `"name": "flowguard-api"`},
		},
		"no flows is bad input": {
			args: []string{"recommend", "-f", manifests}, wantCode: ExitBadInput, wantErr: []string{"--flows: at least one"},
		},
		"no manifests is bad input": {
			args: []string{"recommend", "--flows", flowLog}, wantCode: ExitBadInput, wantErr: []string{"-f: the cluster's manifests are required"},
		},
		"every problem with the flags at once": {
			args:     []string{"recommend", "--flows", flowLog, "-f", manifests, "--style", "cilium", "--at", "yesterday", "-o", "xml"},
			wantCode: ExitBadInput,
			wantErr:  []string{`--output "xml"`, `--at "yesterday"`, `style "cilium": must be one of k8s, calico-staged`},
		},
		"a flow log that does not exist": {
			args: []string{"recommend", "--flows", filepath.Join(dir, "nope.log"), "-f", manifests}, wantCode: ExitBadInput,
			wantErr: []string{"nope.log"},
		},
		"a flow log without one valid record": {
			args: []string{"recommend", "--flows", garbage, "-f", manifests}, wantCode: ExitBadInput,
			wantErr: []string{"no valid flow record: all 2 are malformed (syntax: 1, wrong-type: 1)"},
		},
		"a manifest that does not decode names its file and line": {
			args: []string{"recommend", "--flows", flowLog, "-f", badManifest}, wantCode: ExitBadInput,
			wantErr: []string{"read cluster state", "bad.yaml:4: Deployment shop/x: spec.replicas: Invalid value: string: must be a number"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			code := Execute(tc.args, &out, &errOut)
			if code != tc.wantCode {
				t.Fatalf("exit code = %d, want %d\nstderr: %s", code, tc.wantCode, errOut.String())
			}
			for _, w := range tc.wantOut {
				if !strings.Contains(out.String(), w) {
					t.Errorf("stdout lacks %q:\n%s", w, out.String())
				}
			}
			for _, w := range tc.wantErr {
				if !strings.Contains(errOut.String(), w) {
					t.Errorf("stderr lacks %q:\n%s", w, errOut.String())
				}
			}
		})
	}
}

func TestRecommendCommandIsDeterministic(t *testing.T) {
	dir := t.TempDir()
	args := []string{"recommend", "--flows", writeRecommendFile(t, dir, "flows.log", recommendFlows), "-f", writeRecommendFile(t, dir, "cluster.yaml", recommendManifests), "-o", "json"}
	var first bytes.Buffer
	if code := Execute(args, &first, &bytes.Buffer{}); code != ExitOK {
		t.Fatalf("exit code %d", code)
	}
	var list struct {
		Items []json.RawMessage `json:"items"`
	}
	if err := json.Unmarshal(first.Bytes(), &list); err != nil || len(list.Items) != 4 {
		t.Fatalf("output is not a List of 4 items (%v):\n%s", err, first.String())
	}
	for range 3 {
		var again bytes.Buffer
		Execute(args, &again, &bytes.Buffer{})
		if !bytes.Equal(again.Bytes(), first.Bytes()) {
			t.Fatalf("second run differs:\n%s\nfirst:\n%s", again.String(), first.String())
		}
	}
}
