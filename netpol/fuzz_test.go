package netpol

import (
	"bytes"
	"errors"
	"testing"
)

// FuzzLoad feeds arbitrary manifests to the loader: it must never panic, must report every
// problem as an *ObjectError with a message, and whatever loads must evaluate.
func FuzzLoad(f *testing.F) {
	f.Add([]byte(world))
	f.Add([]byte(knp("a", "  podSelector: {}\n  ingress: [{from: [{ipBlock: {cidr: 10.0.0.0/8, except: [10.1.0.0/16]}}], ports: [{port: http}, {port: 80, endPort: 90}]}]\n")))
	f.Add([]byte(docs(tier("t", "  order: 1\n  defaultAction: Pass\n"), gnp("g", "  tier: t\n  selector: has(app)\n  ingress: [{action: Pass, source: {namespaceSelector: global(), selector: a == 'b'}}]\n"))))
	f.Add([]byte("apiVersion: v1\nkind: List\nitems: [{apiVersion: v1, kind: Namespace, metadata: {name: x}}]\n"))
	f.Add([]byte(`{"apiVersion": "projectcalico.org/v3", "kind": "NetworkSet", "metadata": {"name": "s", "namespace": "prod"}, "spec": {"nets": ["1.2.3.4/32"]}}`))
	f.Add([]byte("---\n: [\n---\napiVersion: 7\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c := NewCluster()
		err := c.LoadReader(bytes.NewReader(data), "fuzz.yaml")
		if err != nil {
			var errs Errors
			if !errors.As(err, &errs) || len(errs) == 0 {
				t.Fatalf("error %v is not Errors", err)
			}
			for _, e := range errs {
				if e.Err == nil || e.Error() == "" {
					t.Fatalf("empty error: %#v", e)
				}
			}
		}
		e := NewEngine(c)
		wls := c.Workloads()
		if len(wls) > 8 {
			wls = wls[:8]
		}
		for _, s := range wls {
			for _, d := range wls {
				e.Explain(WorkloadEndpoint(s.WorkloadRef), WorkloadEndpoint(d.WorkloadRef), TCP(80))
			}
		}
		if len(c.Workloads()) <= 8 && len(c.Policies()) <= 16 {
			e.Connectivity()
		}
	})
}
