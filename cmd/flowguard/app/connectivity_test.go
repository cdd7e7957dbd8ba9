package app

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

func TestConnectivityCommand(t *testing.T) {
	dir := writeManifests(t, map[string]string{"shop.yaml": shopManifests})
	broken := writeManifests(t, map[string]string{"shop.yaml": shopManifests, "broken.yaml": brokenManifest})
	// Every pod of shop is isolated for ingress; egress is open; only the frontend reaches
	// the API, on its named port.
	const txt = `shop/api[Deployment] => 0.0.0.0/0 : All Connections
shop/cache[Pod] => 0.0.0.0/0 : All Connections
shop/cache[StatefulSet] => 0.0.0.0/0 : All Connections
shop/frontend[Deployment] => 0.0.0.0/0 : All Connections
shop/frontend[Deployment] => shop/api[Deployment] : TCP 8080
`
	tests := map[string]struct {
		args     []string
		wantCode int
		wantOut  string
		contains []string
		wantErr  string
	}{
		"txt lists one line per allowed pair": {
			args: []string{"connectivity", "-f", dir}, wantCode: ExitOK, wantOut: txt,
		},
		"csv has a header and one row per pair": {
			args: []string{"connectivity", "-f", dir, "-o", "csv"}, wantCode: ExitOK,
			contains: []string{"src,dst,conn,src_host_network,dst_host_network\n", "shop/frontend[Deployment],shop/api[Deployment],TCP 8080,false,false\n"},
		},
		"md is a table": {
			args: []string{"connectivity", "-f", dir, "-o", "md"}, wantCode: ExitOK,
			contains: []string{"| src | dst | conn | src_host_network | dst_host_network |\n", "| shop/frontend[Deployment] | shop/api[Deployment] | TCP 8080 | false | false |\n"},
		},
		"dot draws namespaces as clusters and outside space apart": {
			args: []string{"connectivity", "-f", dir, "-o", "dot"}, wantCode: ExitOK,
			contains: []string{"digraph {", `label="shop"`, `[label="frontend[Deployment]"]`, `shape=ellipse`, `[label="TCP 8080"]`},
		},
		"an unknown format is bad input": {
			args: []string{"connectivity", "-f", dir, "-o", "svg"}, wantCode: ExitBadInput, wantErr: `--output "svg": must be one of txt, json, csv, md, dot`,
		},
		"no manifests is bad input": {
			args: []string{"connectivity"}, wantCode: ExitBadInput, wantErr: "-f: at least one file or folder is required",
		},
		"a bad object is reported and the others still mapped": {
			args: []string{"connectivity", "-f", broken}, wantCode: ExitBadInput, wantOut: txt,
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
			if tc.wantOut != "" && out.String() != tc.wantOut {
				t.Errorf("stdout =\n%s\nwant\n%s", out.String(), tc.wantOut)
			}
			for _, w := range tc.contains {
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

func TestConnectivityJSON(t *testing.T) {
	dir := writeManifests(t, map[string]string{"shop.yaml": shopManifests})
	var out, errOut bytes.Buffer
	if code := Execute([]string{"connectivity", "-f", dir, "-o", "json"}, &out, &errOut); code != ExitOK {
		t.Fatalf("exit code %d: %s", code, errOut.String())
	}
	var edges []struct{ Src, Dst, Conn string }
	if err := json.Unmarshal(out.Bytes(), &edges); err != nil {
		t.Fatal(err)
	}
	if len(edges) != 5 || edges[4].Src != "shop/frontend[Deployment]" || edges[4].Dst != "shop/api[Deployment]" || edges[4].Conn != "TCP 8080" {
		t.Errorf("edges = %+v", edges)
	}
}

// hostNetworkAgent is a DaemonSet whose pods use the host network, in namespace shop.
const hostNetworkAgent = `apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent, namespace: shop}
spec:
  selector: {matchLabels: {app: agent}}
  template:
    metadata: {labels: {app: agent}}
    spec: {hostNetwork: true, containers: [{name: a, image: a}]}
`

// TestConnectivityMarksHostNetwork: a host-network workload takes part in the map (the other
// side's policies still apply) and is marked in every format, since no pod policy governs it.
func TestConnectivityMarksHostNetwork(t *testing.T) {
	dir := writeManifests(t, map[string]string{"shop.yaml": shopManifests, "agent.yaml": hostNetworkAgent})
	tests := map[string][]string{
		"txt":  {"shop/agent[DaemonSet] (hostNetwork, no pod policy) => 0.0.0.0/0 : All Connections\n"},
		"json": {`{"src":"shop/agent[DaemonSet]","dst":"0.0.0.0/0","conn":"All Connections","srcHostNetwork":true}`},
		"csv":  {"shop/agent[DaemonSet],0.0.0.0/0,All Connections,true,false\n"},
		"md":   {"| shop/agent[DaemonSet] | 0.0.0.0/0 | All Connections | true | false |\n"},
		"dot":  {`[label="agent[DaemonSet]\n(hostNetwork, no pod policy)", style=dashed]`},
	}
	for format, want := range tests {
		t.Run(format, func(t *testing.T) {
			var out, errOut bytes.Buffer
			if code := Execute([]string{"connectivity", "-f", dir, "-o", format}, &out, &errOut); code != ExitOK {
				t.Fatalf("exit code %d: %s", code, errOut.String())
			}
			for _, w := range want {
				if !strings.Contains(out.String(), w) {
					t.Errorf("stdout = %s\nwant it to contain %q", out.String(), w)
				}
			}
			if strings.Count(out.String(), "frontend[Deployment] (hostNetwork") > 0 || strings.Contains(out.String(), `"dstHostNetwork":false`) {
				t.Errorf("a pod-network workload is marked: %s", out.String())
			}
		})
	}
}
