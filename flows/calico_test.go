package flows

import (
	"bufio"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// summary is the part of a Record a reader checks by eye, in the words Calico uses.
type summary struct {
	Src, Dst           string
	SrcLabels          string
	SrcSA, DstSA       string
	Port               uint16
	Proto              string
	Action, Reporter   string
	Enforced, Pending  []string
	Bytes, Packets     uint64
	Flows, Started     uint64
	Service            string
	Domains            []string
	Host               string
	Start, End         int64
	EnforcedShortNames []string
}

func summarize(r *Record) summary {
	s := summary{
		Src: r.Src.String(), Dst: r.Dst.String(), SrcLabels: r.Src.Labels.String(),
		SrcSA: r.Src.ServiceAccount, DstSA: r.Dst.ServiceAccount,
		Port: r.DstPort, Proto: r.Proto.String(), Action: r.Action.String(), Reporter: r.Reporter.String(),
		Bytes: r.Bytes, Packets: r.Packets, Flows: r.Flows, Started: r.FlowsStarted,
		Domains: r.DstDomains, Host: r.Host, Start: r.Start.Unix(), End: r.End.Unix(),
	}
	if r.DstService.Name != "" {
		s.Service = r.DstService.Namespace + "/" + r.DstService.Name + ":" + r.DstService.PortName
	}
	for _, h := range r.Enforced {
		s.Enforced = append(s.Enforced, h.String())
		s.EnforcedShortNames = append(s.EnforcedShortNames, h.ShortName())
	}
	for _, h := range r.Pending {
		s.Pending = append(s.Pending, h.String())
	}
	return s
}

// readLines returns the lines of a testdata file.
func readLines(t testing.TB, path string) [][]byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out [][]byte
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		out = append(out, append([]byte(nil), sc.Bytes()...))
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestParseCalicoTestdataAllValid(t *testing.T) {
	files, err := filepath.Glob("testdata/calico/*.jsonl")
	if err != nil || len(files) == 0 {
		t.Fatalf("no testdata: %v", err)
	}
	p := NewParser()
	for _, file := range files {
		for i, line := range readLines(t, file) {
			var r Record
			if err := p.ParseCalico(line, &r); err != nil {
				t.Errorf("%s:%d: %v", file, i+1, err)
			}
		}
	}
}

func TestParseCalicoAggregationLevels(t *testing.T) {
	oldAPI := []string{"0|security|gnp:security.pass-cluster|pass|2", "1|default|np:shop/default.api-allow-frontend|allow|0"}
	frontend := "app=frontend,pod-template-hash=7d9f8b6c5,projectcalico.org/namespace=shop,projectcalico.org/orchestrator=k8s,projectcalico.org/serviceaccount=frontend"
	tests := map[string]struct {
		file string
		line int
		want summary
	}{
		"level 0: pods fold into their aggregated name; the workload IP is not part of the identity": {
			file: "level0.jsonl", line: 1,
			want: summary{
				Src: "shop/frontend-7d9f8b6c5-*", Dst: "shop/api-5f6b7c8d9-*", SrcLabels: frontend,
				SrcSA: "frontend", DstSA: "api", Port: 8080, Proto: "tcp", Action: "allow", Reporter: "dst",
				Enforced: oldAPI, Pending: oldAPI, EnforcedShortNames: []string{"pass-cluster", "api-allow-frontend"},
				Bytes: 48213 + 9121, Packets: 52 + 41, Flows: 1, Started: 1, Service: "shop/api:http", Host: "worker-2",
				Start: 1718000100, End: 1718000400,
			},
		},
		"level 0: a public network keeps its IP so it can be matched against CIDRs": {
			file: "level0.jsonl", line: 3,
			want: summary{
				Src: "shop/frontend-7d9f8b6c5-*", Dst: "net:93.184.216.34", SrcLabels: frontend, SrcSA: "frontend",
				Port: 443, Proto: "tcp", Action: "allow", Reporter: "src",
				Enforced: []string{"0|security|gnp:security.allow-egress-web|allow|1"},
				Pending:  []string{"0|security|gnp:security.allow-egress-web|allow|1", "1|default|snp:shop/default.lock-egress|deny|-1"},
				Bytes:    57334, Packets: 93, Flows: 1, Started: 1, Domains: []string{"example.com"}, Host: "worker-2",
				Start: 1718000100, End: 1718000400, EnforcedShortNames: []string{"allow-egress-web"},
			},
		},
		"level 1: the host endpoint keeps its address": {
			file: "level1.jsonl", line: 7,
			want: summary{
				Src: "net:10.0.0.12", Dst: "host:worker-2", Port: 22, Proto: "tcp", Action: "allow", Reporter: "dst",
				Enforced: []string{"0|default|gnp:default.allow-node-ssh|allow|0"}, Pending: []string{"0|default|gnp:default.allow-node-ssh|allow|0"},
				Bytes: 57334, Packets: 93, Flows: 1, Started: 1, Host: "worker-2", Start: 1718000100, End: 1718000400,
				EnforcedShortNames: []string{"allow-node-ssh"},
			},
		},
		"level 2: IPs are gone, networks are pub or pvt, and the denied flow's trace is sorted by index": {
			file: "level2.jsonl", line: 5,
			want: summary{
				Src: "net:pvt", Dst: "shop/api-5f6b7c8d9-*", DstSA: "api", Port: 8080, Proto: "tcp", Action: "deny", Reporter: "dst",
				Enforced: []string{"0|security|gnp:security.pass-cluster|pass|2", "1|platform|np:shop/platform.quarantine|pass|0", "2|default|knp:shop/api-ingress|deny|-1"},
				Pending:  []string{"0|security|gnp:security.pass-cluster|pass|2", "1|platform|np:shop/platform.quarantine|pass|0", "2|default|knp:shop/api-ingress|deny|-1"},
				Bytes:    57334, Packets: 93, Flows: 3, Started: 2, Host: "worker-2", Start: 1718000100, End: 1718000400,
				EnforcedShortNames: []string{"pass-cluster", "quarantine", "api-ingress"},
			},
		},
		"level 2: a namespaced network set is named by the set, not by an address": {
			file: "level2.jsonl", line: 6,
			want: summary{
				Src: "networkset:shop/partner-ips", SrcLabels: "partner=acme", Dst: "shop/api-5f6b7c8d9-*", DstSA: "api",
				Port: 8443, Proto: "tcp", Action: "allow", Reporter: "dst", Enforced: oldAPI, Pending: oldAPI,
				Bytes: 57334, Packets: 93, Flows: 3, Started: 2, Host: "worker-2", Start: 1718000100, End: 1718000400,
				EnforcedShortNames: []string{"pass-cluster", "api-allow-frontend"},
			},
		},
		"level 2: the documentation's example record": {
			file: "level2.jsonl", line: 9,
			want: summary{
				Src: "policy-demo/access-6b687c8dcb-*", SrcLabels: "run=access", Dst: "policy-demo/nginx-86c57db685-*",
				Port: 80, Proto: "tcp", Action: "allow", Reporter: "dst",
				Enforced: []string{"0|tier1|np:ns1/tier1.policy1|pass|3", "1|default|np:policy-demo/default.access-nginx|allow|2"},
				Bytes:    3000, Packets: 22, Flows: 1, Started: 1, Host: "node-a", Start: 1597166083, End: 1597166383,
				EnforcedShortNames: []string{"policy1", "access-nginx"},
			},
		},
		"level 3: the destination port is aggregated away": {
			file: "level3.jsonl", line: 1,
			want: summary{
				Src: "shop/frontend-7d9f8b6c5-*", Dst: "shop/api-5f6b7c8d9-*", SrcLabels: frontend, SrcSA: "frontend", DstSA: "api",
				Proto: "tcp", Action: "allow", Reporter: "dst", Enforced: oldAPI, Pending: oldAPI,
				Bytes: 57334, Packets: 93, Flows: 3, Started: 2, Service: "shop/api:http", Host: "worker-2",
				Start: 1718000100, End: 1718000400, EnforcedShortNames: []string{"pass-cluster", "api-allow-frontend"},
			},
		},
		"level 3: '*' placeholders for processes and service ports are accepted": {
			file: "level3.jsonl", line: 9,
			want: summary{
				Src: "jobs/batch-*", SrcLabels: "job-name=nightly", Dst: "net:pub", Proto: "tcp", Action: "deny", Reporter: "src",
				Enforced: []string{"0|default|np:jobs/default.deny-egress|deny|-1"}, Bytes: 640, Packets: 8, Flows: 8, Started: 8,
				Domains: []string{"storage.googleapis.com", "s3.amazonaws.com"}, Host: "worker-3", Start: 1718000400, End: 1718000700,
				EnforcedShortNames: []string{"deny-egress"},
			},
		},
		"newer naming: kind-prefixed names read the same as the older form": {
			file: "newer-naming.jsonl", line: 1,
			want: summary{
				Src: "shop/frontend-7d9f8b6c5-*", Dst: "shop/api-5f6b7c8d9-*", SrcLabels: frontend, SrcSA: "frontend", DstSA: "api",
				Port: 8080, Proto: "tcp", Action: "allow", Reporter: "dst",
				Enforced: []string{"0|security|gnp:pass-cluster|pass|2", "1|default|np:shop/api-allow-frontend|allow|0"},
				Pending:  []string{"0|security|gnp:pass-cluster|pass|2", "1|default|np:shop/api-allow-frontend|allow|0"},
				Bytes:    57334, Packets: 93, Flows: 3, Started: 2, Service: "shop/api:http", Host: "worker-2",
				Start: 1718000100, End: 1718000400, EnforcedShortNames: []string{"pass-cluster", "api-allow-frontend"},
			},
		},
		"newer naming: profiles and staged policies": {
			file: "newer-naming.jsonl", line: 3,
			want: summary{
				Src: "shop/frontend-7d9f8b6c5-*", Dst: "net:pub", SrcLabels: frontend, SrcSA: "frontend",
				Port: 443, Proto: "tcp", Action: "allow", Reporter: "src",
				Enforced: []string{"0|security|gnp:allow-egress-web|allow|1"},
				Pending:  []string{"0|security|gnp:allow-egress-web|allow|1", "1|default|snp:shop/lock-egress|deny|-1"},
				Bytes:    57334, Packets: 93, Flows: 3, Started: 2, Domains: []string{"example.com"}, Host: "worker-2",
				Start: 1718000100, End: 1718000400, EnforcedShortNames: []string{"allow-egress-web"},
			},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			lines := readLines(t, filepath.Join("testdata/calico", tc.file))
			var r Record
			if err := NewParser().ParseCalico(lines[tc.line-1], &r); err != nil {
				t.Fatalf("parse %s:%d: %v", tc.file, tc.line, err)
			}
			if diff := cmp.Diff(tc.want, summarize(&r)); diff != "" {
				t.Errorf("%s:%d (-want +got):\n%s", tc.file, tc.line, diff)
			}
		})
	}
}
