package synth

import (
	"bytes"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/flowguard/flowguard/flows"
)

func TestScales(t *testing.T) {
	tests := map[string]struct {
		cfg                  Config
		workloads, policies  int
		wantAllowedFlowsOver float64
	}{
		"verdict scale: 2,000 workloads of 5 pods, 2,000 policies": {cfg: VerdictScale(), workloads: 2000, policies: 2000},
		"connectivity scale: 1,000 workloads, 1,020 policies":      {cfg: ConnectivityScale(), workloads: 1000, policies: 1020},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			c := Generate(tc.cfg)
			if len(c.Workloads) != tc.workloads || c.Policies != tc.policies {
				t.Errorf("got %d workloads and %d policies, want %d and %d", len(c.Workloads), c.Policies, tc.workloads, tc.policies)
			}
		})
	}
}

func TestDeterministic(t *testing.T) {
	cfg := Config{Seed: 7, Namespaces: 3, WorkloadsPerNamespace: 3, Replicas: 2, Pods: true, DefaultDeny: true,
		KubernetesPolicyWorkloads: 1, CalicoNamespaces: 2, GlobalPolicies: 4}
	render := func() []byte {
		var b bytes.Buffer
		c := Generate(cfg)
		if err := c.WriteYAML(&b); err != nil {
			t.Fatal(err)
		}
		if err := WriteFlowLog(&b, c.Flows(500, 3), time.Unix(1718000000, 0)); err != nil {
			t.Fatal(err)
		}
		return b.Bytes()
	}
	if a, b := render(), render(); !bytes.Equal(a, b) {
		t.Error("two generations from the same config differ")
	}
}

// The flow log parses with flowguard's own Calico parser, and its mix is mostly allowed.
func TestFlowLogParses(t *testing.T) {
	c := Generate(Config{Seed: 1, Namespaces: 4, WorkloadsPerNamespace: 4, Replicas: 1, DefaultDeny: true,
		KubernetesPolicyWorkloads: 2, CalicoNamespaces: 4, GlobalPolicies: 4})
	fl := c.Flows(2000, 1)
	var b bytes.Buffer
	if err := WriteFlowLog(&b, fl, time.Unix(1718000000, 0)); err != nil {
		t.Fatal(err)
	}
	p := flows.NewParser()
	var rec flows.Record
	lines := bytes.Split(bytes.TrimSpace(b.Bytes()), []byte("\n"))
	for i, l := range lines {
		if err := p.ParseCalico(l, &rec); err != nil {
			t.Fatalf("line %d: %v\n%s", i+1, err, l)
		}
	}
	allowed := 0
	for _, f := range fl {
		if f.Allowed {
			allowed++
		}
	}
	if share := float64(allowed) / float64(len(fl)); share < 0.7 || share > 0.97 {
		t.Errorf("%.0f%% of flows allowed, want mostly allowed with some denied", share*100)
	}
}

// Records are what the reporting sides of the flows send: the source for every flow from a
// workload, the destination for every flow its source let out, each with that side's verdict,
// inside the window, in time order, and n of them.
func TestRecords(t *testing.T) {
	c := Generate(Config{Seed: 1, Namespaces: 4, WorkloadsPerNamespace: 4, Replicas: 1, DefaultDeny: true,
		KubernetesPolicyWorkloads: 2, CalicoNamespaces: 4, GlobalPolicies: 4})
	end := time.Date(2025, 10, 1, 12, 0, 0, 0, time.UTC)
	tests := map[string]struct {
		n    int
		span time.Duration
	}{
		"a day of 2,000 records": {n: 2000, span: 24 * time.Hour},
		"an hour of 301 records": {n: 301, span: time.Hour},
		"one record":             {n: 1, span: time.Minute},
		"no records":             {n: 0, span: time.Hour},
	}
	key := func(src, dst flows.Endpoint, port uint16, proto flows.Protocol) string {
		return fmt.Sprintf("%v -> %v %v/%d", src, dst, proto, port)
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			// The flows of a seed start the same whatever their number: n of them hold every flow
			// the n records come from, with its verdicts.
			verdicts := map[string]Flow{}
			for _, f := range c.Flows(tc.n, 7) {
				verdicts[key(f.Src, f.Dst, f.Port, f.Proto)] = f
			}
			recs := c.Records(tc.n, 7, end, tc.span)
			if len(recs) != tc.n {
				t.Fatalf("%d records, want %d", len(recs), tc.n)
			}
			for i, r := range recs {
				k := key(r.Src, r.Dst, r.DstPort, r.Proto)
				f, ok := verdicts[k]
				switch {
				case !ok:
					t.Errorf("record %d (%s) is none of the flows", i, k)
				case r.Reporter == flows.ReporterSrc && (f.Src.Type != flows.TypeWorkload || (r.Action == flows.ActionAllow) != f.Egress):
					t.Errorf("record %d (%s): the source reports %v; egress allows it: %v", i, k, r.Action, f.Egress)
				case r.Reporter == flows.ReporterDst && (!f.Egress || (r.Action == flows.ActionAllow) != f.Ingress):
					t.Errorf("record %d (%s): the destination reports %v; egress allows it: %v, ingress: %v", i, k, r.Action, f.Egress, f.Ingress)
				case r.Reporter != flows.ReporterSrc && r.Reporter != flows.ReporterDst:
					t.Errorf("record %d (%s): reporter %v", i, k, r.Reporter)
				}
				if r.Start.Before(end.Add(-tc.span)) || !r.Start.Before(end) || r.End != r.Start.Add(time.Minute) ||
					(i > 0 && r.Start.Before(recs[i-1].Start)) {
					t.Errorf("record %d: %v to %v, want a minute starting in the %v before %v, after the record before", i, r.Start, r.End, tc.span, end)
				}
			}
			again := c.Records(tc.n, 7, end, tc.span)
			if !slices.EqualFunc(recs, again, func(a, b flows.Record) bool {
				return key(a.Src, a.Dst, a.DstPort, a.Proto) == key(b.Src, b.Dst, b.DstPort, b.Proto) && a.Reporter == b.Reporter && a.Start.Equal(b.Start)
			}) {
				t.Error("two calls with the same seed differ")
			}
		})
	}
}
