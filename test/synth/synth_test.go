package synth

import (
	"bytes"
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
