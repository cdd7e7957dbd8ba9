package netpol_test

import (
	"context"
	"slices"
	"testing"

	calicov3 "github.com/projectcalico/api/pkg/apis/projectcalico/v3"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/ptr"

	"github.com/flowguard/flowguard/netpol"
	"github.com/flowguard/flowguard/test/synth"
)

// find returns the first generated object of type T accepted by ok.
func find[T runtime.Object](sc *synth.Cluster, ok func(T) bool) T {
	for _, o := range sc.Objects {
		if t, is := o.(T); is && ok(t) {
			return t
		}
	}
	var zero T
	return zero
}

// Incremental impact (only connections the change can touch) equals evaluating every
// connection on two unrelated engines, for a change of each kind.
func TestIncrementalImpactEqualsFull(t *testing.T) {
	sc := synth.Generate(synth.Config{Seed: 9, Namespaces: 6, WorkloadsPerNamespace: 5, Replicas: 2, Pods: true,
		DefaultDeny: true, KubernetesPolicyWorkloads: 2, CalicoNamespaces: 5, GlobalPolicies: 4})
	c := loadSynth(t, sc)
	conns := connections(sc.Flows(20000, 2))

	knp := find(sc, func(p *networkingv1.NetworkPolicy) bool { return p.Name == "svc-01" && p.Namespace == "team-002" })
	narrowed := knp.DeepCopy()
	narrowed.Spec.Ingress = narrowed.Spec.Ingress[:1]
	cnp := find(sc, func(p *calicov3.NetworkPolicy) bool { return p.Namespace == "team-003" })
	cnpLess := cnp.DeepCopy()
	cnpLess.Spec.Egress = cnpLess.Spec.Egress[1:]
	ns := find(sc, func(n *corev1.Namespace) bool { return n.Name == "team-001" })
	relabelled := ns.DeepCopy()
	relabelled.Labels["team"] = "someone-else"
	dep := find(sc, func(d *appsv1.Deployment) bool { return d.Name == "svc-02" && d.Namespace == "team-004" })
	depRelabelled := dep.DeepCopy()
	depRelabelled.Spec.Template.Labels["tier"] = "frontend"
	tierObj := find(sc, func(t *calicov3.Tier) bool { return t.Name == "security" })
	tierLast := tierObj.DeepCopy()
	tierLast.Spec.Order = ptr.To(2e6)
	tierLast.Spec.DefaultAction = ptr.To(calicov3.Deny)
	set := find(sc, func(s *calicov3.GlobalNetworkSet) bool { return true })
	setWider := set.DeepCopy()
	setWider.Spec.Nets = append(setWider.Spec.Nets, "172.16.0.0/12")
	deny := find(sc, func(p *networkingv1.NetworkPolicy) bool { return p.Name == "default-deny" && p.Namespace == "team-005" })

	tests := map[string]struct {
		op       netpol.Operation
		old, new runtime.Object
	}{
		"narrow a Kubernetes policy":         {op: netpol.Update, old: knp, new: narrowed},
		"drop a Calico policy's egress rule": {op: netpol.Update, old: cnp, new: cnpLess},
		"relabel a namespace":                {op: netpol.Update, old: ns, new: relabelled},
		"relabel a Deployment's pods":        {op: netpol.Update, old: dep, new: depRelabelled},
		"move a tier last and make it deny":  {op: netpol.Update, old: tierObj, new: tierLast},
		"widen a GlobalNetworkSet":           {op: netpol.Update, old: set, new: setWider},
		"delete a default deny":              {op: netpol.Delete, old: deny},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			before := netpol.NewEngine(c)
			after, err := before.WithChange(tc.op, tc.old, tc.new)
			if err != nil {
				t.Fatal(err)
			}
			inc := impactOf(t, before, after, conns)
			full := impactOf(t, netpol.NewEngine(c), netpol.NewEngine(after.Cluster()), conns)
			key := func(ics []netpol.ImpactedConnection) []int {
				var out []int
				for _, ic := range ics {
					out = append(out, ic.Index)
				}
				return out
			}
			if len(full) == 0 {
				t.Fatal("the change alters no verdict; the case proves nothing")
			}
			if !slices.Equal(key(inc), key(full)) {
				t.Errorf("incremental impact has %d connections, full evaluation %d", len(inc), len(full))
			}
			for i := range min(len(inc), len(full)) {
				if inc[i].After.Allowed != full[i].After.Allowed || inc[i].Before.Allowed != full[i].Before.Allowed {
					t.Errorf("connection %d: incremental %v -> %v, full %v -> %v", inc[i].Index,
						inc[i].Before.Allowed, inc[i].After.Allowed, full[i].Before.Allowed, full[i].After.Allowed)
				}
			}
		})
	}
}

// impactOf is netpol.Impact under a context that never ends.
func impactOf(t testing.TB, before, after *netpol.Engine, conns []netpol.Connection) []netpol.ImpactedConnection {
	t.Helper()
	ics, err := netpol.Impact(context.Background(), before, after, conns)
	if err != nil {
		t.Fatal(err)
	}
	return ics
}
