package app

import (
	"bytes"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// openPair: namespaces a and b with two workloads each and no policy, so every workload
// reaches every other and outside space, and outside space reaches every workload.
const openPair = `
apiVersion: v1
kind: Namespace
metadata: {name: a}
---
apiVersion: v1
kind: Namespace
metadata: {name: b}
---
apiVersion: v1
kind: Pod
metadata: {name: p1, namespace: a, labels: {app: p1}}
spec: {containers: [{name: c, image: i}]}
---
apiVersion: v1
kind: Pod
metadata: {name: p2, namespace: a, labels: {app: p2}}
spec: {containers: [{name: c, image: i}]}
---
apiVersion: v1
kind: Pod
metadata: {name: q1, namespace: b, labels: {app: q1}}
spec: {containers: [{name: c, image: i}]}
---
apiVersion: v1
kind: Pod
metadata: {name: q2, namespace: b, labels: {app: q2}}
spec: {containers: [{name: c, image: i}]}
`

// q1FromQ2: b's q1 admits only q2, on TCP 80, so b's pair is no longer alike both ways and
// no longer a mesh, and q1 is no longer reached from outside b.
const q1FromQ2 = `
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: q1, namespace: b}
spec:
  podSelector: {matchLabels: {app: q1}}
  ingress:
  - from: [{podSelector: {matchLabels: {app: q2}}}]
    ports: [{port: 80}]
`

var (
	dotNodeLine    = regexp.MustCompile(`^\t+(n\d+) \[label="([^"]*)"`)
	dotEdgeLine    = regexp.MustCompile(`^\t(n\d+) -> (n\d+) \[(.*)\]$`)
	dotClusterLine = regexp.MustCompile(`^\tsubgraph (cluster_\d+) \{$`)
)

// dotEdges reads the output's edges as "from -> to [attributes]" with nodes and clusters by
// their labels, so that the test reads like the picture.
func dotEdges(t *testing.T, dot string) (edges []string, clusters []string) {
	t.Helper()
	names := map[string]string{}
	clusterNames := map[string]string{}
	lines := strings.Split(dot, "\n")
	for i, l := range lines {
		if m := dotNodeLine.FindStringSubmatch(l); m != nil {
			names[m[1]] = m[2]
		}
		if m := dotClusterLine.FindStringSubmatch(l); m != nil {
			label := strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(lines[i+1]), `label="`), `"`)
			clusterNames[m[1]] = label
			clusters = append(clusters, label)
		}
	}
	for _, l := range lines {
		m := dotEdgeLine.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		attrs := m[3]
		for id, label := range clusterNames {
			attrs = strings.ReplaceAll(attrs, "="+id, "="+strings.SplitN(label, `\n`, 2)[0])
		}
		edges = append(edges, names[m[1]]+" -> "+names[m[2]]+" ["+attrs+"]")
	}
	slices.Sort(edges)
	return edges, clusters
}

func TestConnectivityDot(t *testing.T) {
	tests := map[string]struct {
		files        map[string]string
		wantEdges    []string
		wantClusters []string
	}{
		"open namespaces fold into one edge between their boxes, both ways": {
			files: map[string]string{"open.yaml": openPair},
			wantClusters: []string{
				`a\n(each workload to every other: all)`,
				`b\n(each workload to every other: all)`,
			},
			wantEdges: []string{
				`0.0.0.0/0 -> p1[Pod] [lhead=a, dir=both, label="all"]`,
				`0.0.0.0/0 -> q1[Pod] [lhead=b, dir=both, label="all"]`,
				`p1[Pod] -> q1[Pod] [ltail=a, lhead=b, dir=both, label="all"]`,
			},
		},
		"a pair allowed differently each way keeps each way's connections at its head": {
			files: map[string]string{"open.yaml": openPair, "policy.yaml": q1FromQ2},
			wantClusters: []string{
				`a\n(each workload to every other: all)`,
				`b`,
			},
			wantEdges: []string{
				`0.0.0.0/0 -> p1[Pod] [lhead=a, dir=both, label="all"]`,
				`0.0.0.0/0 -> q2[Pod] [label="all"]`,
				`p1[Pod] -> q2[Pod] [ltail=a, label="all"]`,
				`q1[Pod] -> 0.0.0.0/0 [ltail=b, label="all"]`,
				`q1[Pod] -> p1[Pod] [ltail=b, lhead=a, label="all"]`,
				`q1[Pod] -> q2[Pod] [dir=both, headlabel="all", taillabel="TCP 80"]`,
			},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			dir := writeManifests(t, tc.files)
			var out, errOut bytes.Buffer
			if code := Execute([]string{"connectivity", "-f", dir, "-o", "dot"}, &out, &errOut); code != ExitOK {
				t.Fatalf("exit code %d: %s", code, errOut.String())
			}
			if !strings.HasPrefix(out.String(), "digraph {\n") || !strings.HasSuffix(out.String(), "}\n") {
				t.Errorf("not one digraph:\n%s", out.String())
			}
			edges, clusters := dotEdges(t, out.String())
			if diff := cmp.Diff(tc.wantClusters, clusters); diff != "" {
				t.Errorf("clusters (-want +got):\n%s\n%s", diff, out.String())
			}
			if diff := cmp.Diff(tc.wantEdges, edges); diff != "" {
				t.Errorf("edges (-want +got):\n%s\n%s", diff, out.String())
			}
		})
	}
}
