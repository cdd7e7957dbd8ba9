package netpol_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"

	calicov3 "github.com/projectcalico/api/pkg/apis/projectcalico/v3"
	"github.com/projectcalico/api/pkg/lib/numorstring"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/ptr"

	"github.com/flowguard/flowguard/netpol"
	"github.com/flowguard/flowguard/test/synth"
)

// An engine WithChange derives shares what it can with its parent. For random chains of
// single changes of every kind over a generated cluster, the derived engine must answer
// exactly as an engine built from scratch from the changed objects: the same verdicts, both
// enforced and pending, with the same deciding hits; and Impact between the derived engine
// and its parent (which evaluates only what the change can touch) must equal Impact between
// two engines built from scratch (which evaluates everything).
func TestDerivedEngineEqualsRebuilt(t *testing.T) {
	sc := synth.Generate(synth.Config{Seed: 11, Namespaces: 5, WorkloadsPerNamespace: 4, Replicas: 2, Pods: true,
		DefaultDeny: true, KubernetesPolicyWorkloads: 2, CalicoNamespaces: 4, GlobalPolicies: 4})
	conns := connections(sc.Flows(2500, 3))
	conns = append(conns, extraConnections(t, sc)...)
	base := newObjectSet(sc.Objects)
	for trial := range 40 {
		rng := rand.New(rand.NewPCG(uint64(trial), 7))
		objs := base.clone()
		before := netpol.NewEngine(objs.cluster(t))
		if trial%2 == 0 {
			// A warm parent, as a webhook's is: classes resolved, applicable policies listed.
			for _, c := range conns {
				before.Verdict(c.Src, c.Dst, c.Packet)
				before.PendingVerdict(c.Src, c.Dst, c.Packet)
			}
		}
		rebuiltBefore := netpol.NewEngine(objs.cluster(t))
		var steps []string
		for range 1 + rng.IntN(3) {
			ch := randomChange(rng, objs, conns)
			steps = append(steps, ch.name)
			name := fmt.Sprintf("trial %d: %s", trial, strings.Join(steps, ", then "))
			after, err := before.WithChange(ch.op, ch.old, ch.new)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			objs.apply(ch)
			rebuilt := netpol.NewEngine(objs.cluster(t))
			for i, c := range conns {
				for view, verdict := range map[string]func(*netpol.Engine) netpol.Verdict{
					"enforced": func(e *netpol.Engine) netpol.Verdict { return e.Verdict(c.Src, c.Dst, c.Packet) },
					"pending":  func(e *netpol.Engine) netpol.Verdict { return e.PendingVerdict(c.Src, c.Dst, c.Packet) },
				} {
					if got, want := verdictText(verdict(after)), verdictText(verdict(rebuilt)); got != want {
						t.Fatalf("%s: connection %d (%s -> %s %v), %s verdict:\nderived %s\nrebuilt %s",
							name, i, c.Src, c.Dst, c.Packet, view, got, want)
					}
				}
			}
			for view, impact := range map[string]func(context.Context, *netpol.Engine, *netpol.Engine, []netpol.Connection) ([]netpol.ImpactedConnection, error){
				"Impact": netpol.Impact, "PendingImpact": netpol.PendingImpact,
			} {
				derived, err := impact(context.Background(), before, after, conns)
				if err != nil {
					t.Fatal(err)
				}
				fromRebuilt, err := impact(context.Background(), rebuiltBefore, rebuilt, conns)
				if err != nil {
					t.Fatal(err)
				}
				got, want := impactText(derived), impactText(fromRebuilt)
				if i := firstDifference(got, want); i >= 0 {
					t.Fatalf("%s: %s of the derived engine (%d connections) differs from that of rebuilt ones (%d) at %d:\nderived %s\nrebuilt %s",
						name, view, len(got), len(want), i, at(got, i), at(want, i))
				}
			}
			before, rebuiltBefore = after, rebuilt
		}
	}
}

// A derived engine and its parent answer from many goroutines at once while the derived one
// takes over the parent's resolutions and policy lists. Run with -race.
func TestDerivedEngineConcurrentUse(t *testing.T) {
	sc := synth.Generate(synth.Config{Seed: 12, Namespaces: 4, WorkloadsPerNamespace: 4, Replicas: 1, Pods: true,
		DefaultDeny: true, KubernetesPolicyWorkloads: 2, CalicoNamespaces: 3, GlobalPolicies: 4})
	conns := connections(sc.Flows(2000, 4))
	for seed := range uint64(6) {
		objs := newObjectSet(sc.Objects)
		parent := netpol.NewEngine(objs.cluster(t))
		for _, c := range conns[:len(conns)/2] {
			parent.Verdict(c.Src, c.Dst, c.Packet)
		}
		ch := randomChange(rand.New(rand.NewPCG(seed, 2)), objs, conns)
		child, err := parent.WithChange(ch.op, ch.old, ch.new)
		if err != nil {
			t.Fatal(err)
		}
		objs.apply(ch)
		rebuilt := netpol.NewEngine(objs.cluster(t))
		want := make([]string, len(conns))
		for i, c := range conns {
			want[i] = verdictText(rebuilt.Verdict(c.Src, c.Dst, c.Packet))
		}
		var wg sync.WaitGroup
		for g := range 8 {
			wg.Go(func() {
				for i := g; i < len(conns); i += 3 {
					c := conns[i]
					parent.Verdict(c.Src, c.Dst, c.Packet)
					if got := verdictText(child.Verdict(c.Src, c.Dst, c.Packet)); got != want[i] {
						t.Errorf("after %s, connection %d: derived %s, rebuilt %s", ch.name, i, got, want[i])
						return
					}
				}
			})
		}
		wg.Wait()
	}
}

// extraConnections adds what flows lack: workloads and pods by name, pod addresses, address
// ranges, the generated network set and a host endpoint's address, as sources and
// destinations of the generated workloads.
func extraConnections(t *testing.T, sc *synth.Cluster) []netpol.Connection {
	c := loadSynth(t, sc)
	var peers []*netpol.Endpoint
	for i, w := range c.Workloads() {
		if i%3 == 0 {
			peers = append(peers, netpol.WorkloadEndpoint(w.WorkloadRef))
		}
		if len(w.IPs) > 0 && i%2 == 0 {
			peers = append(peers, netpol.AddrEndpoint(w.IPs[0]))
		}
	}
	peers = append(peers,
		netpol.RangeEndpoint("pvt", netip.MustParsePrefix("10.0.0.0/8")),
		netpol.RangeEndpoint("bad", netip.MustParsePrefix(synth.KnownBadNet)),
		netpol.AddrEndpoint(netip.MustParseAddr("203.0.113.7")),
		&netpol.Endpoint{Kind: netpol.EndpointNetworkSet, Name: "known-bad"},
		&netpol.Endpoint{Kind: netpol.EndpointHost, Name: "node-a"},
	)
	var out []netpol.Connection
	for i, s := range peers {
		for j, d := range peers {
			if (i+j)%4 == 0 {
				out = append(out, netpol.Connection{Src: s, Dst: d, Packet: netpol.TCP(8000 + uint16(j%4))})
				out = append(out, netpol.Connection{Src: s, Dst: d, Packet: netpol.TCP(443)})
			}
		}
	}
	return out
}

// verdictText is everything a verdict says: outcome and, per direction, what decided it.
func verdictText(v netpol.Verdict) string {
	hit := func(h netpol.Hit) string {
		ref := ""
		if h.Policy != nil {
			ref = h.Policy.Ref.String()
		}
		return fmt.Sprintf("%v/%v/%s/%s/%d", h.Reason, h.Action, h.Tier, ref, h.RuleIndex)
	}
	trace := func(d netpol.Decision) string {
		var hs []string
		for _, h := range d.Trace {
			hs = append(hs, hit(h))
		}
		return strings.Join(hs, " ")
	}
	return fmt.Sprintf("allowed %v; egress %v %s [%s]; ingress %v %s [%s]", v.Allowed,
		v.Egress.Allowed, hit(v.Egress.Hit), trace(v.Egress), v.Ingress.Allowed, hit(v.Ingress.Hit), trace(v.Ingress))
}

func impactText(ics []netpol.ImpactedConnection) []string {
	out := make([]string, len(ics))
	for i, ic := range ics {
		out[i] = fmt.Sprintf("#%d: %s => %s", ic.Index, verdictText(ic.Before), verdictText(ic.After))
	}
	return out
}

func firstDifference(a, b []string) int {
	for i := range max(len(a), len(b)) {
		if at(a, i) != at(b, i) {
			return i
		}
	}
	return -1
}

func at(s []string, i int) string {
	if i < len(s) {
		return s[i]
	}
	return "(none)"
}

// objectSet is a cluster as a list of objects, to rebuild from scratch after each change.
type objectSet struct{ objs []runtime.Object }

func newObjectSet(objs []runtime.Object) *objectSet { return &objectSet{objs: slices.Clone(objs)} }

func (s *objectSet) clone() *objectSet { return newObjectSet(s.objs) }

func (s *objectSet) cluster(t *testing.T) *netpol.Cluster {
	c := netpol.NewCluster()
	for _, o := range s.objs {
		if err := c.Add(o); err != nil {
			t.Fatal(err)
		}
	}
	return c
}

func objectKey(o runtime.Object) string {
	m, err := meta.Accessor(o)
	if err != nil {
		panic(err)
	}
	return reflect.TypeOf(o).String() + "/" + m.GetNamespace() + "/" + m.GetName()
}

func (s *objectSet) apply(ch change) {
	target := ch.new
	if ch.op == netpol.Delete {
		target = ch.old
	}
	i := slices.IndexFunc(s.objs, func(o runtime.Object) bool { return objectKey(o) == objectKey(target) })
	switch {
	case ch.op == netpol.Delete:
		s.objs = slices.Delete(s.objs, i, i+1)
	case i >= 0:
		s.objs[i] = ch.new
	default:
		s.objs = append(s.objs, ch.new)
	}
}

// pick returns a random object of type T, or the zero T when there is none.
func pick[T runtime.Object](rng *rand.Rand, s *objectSet) T {
	var all []T
	for _, o := range s.objs {
		if t, ok := o.(T); ok {
			all = append(all, t)
		}
	}
	var zero T
	if len(all) == 0 {
		return zero
	}
	return all[rng.IntN(len(all))]
}

type change struct {
	name     string
	op       netpol.Operation
	old, new runtime.Object
}

// randomNet is a network policies or sets may name: inside the cluster's pod range, the
// namespaces' client blocks, the known-bad set, or elsewhere.
func randomNet(rng *rand.Rand) string {
	return []string{
		fmt.Sprintf("10.244.0.%d/30", 4*rng.IntN(16)), fmt.Sprintf("172.%d.0.0/16", 16+rng.IntN(8)),
		fmt.Sprintf("172.%d.%d.0/24", 16+rng.IntN(8), rng.IntN(4)), "198.51.100.0/25", "203.0.113.0/24", "100.64.0.0/10",
	}[rng.IntN(6)]
}

func randomApp(rng *rand.Rand) string { return fmt.Sprintf("svc-%02d", rng.IntN(5)) }

// randomChange makes one create, update or delete of a random kind, on the current objects.
func randomChange(rng *rand.Rand, s *objectSet, conns []netpol.Connection) change {
	for {
		if ch, ok := tryChange(rng, s, conns); ok {
			return ch
		}
	}
}

func tryChange(rng *rand.Rand, s *objectSet, conns []netpol.Connection) (change, bool) {
	upd := func(name string, old, new runtime.Object) (change, bool) {
		return change{name: name, op: netpol.Update, old: old, new: new}, true
	}
	switch rng.IntN(16) {
	case 0:
		p := pick[*networkingv1.NetworkPolicy](rng, s)
		if p == nil {
			return change{}, false // none left of this kind
		}
		n := p.DeepCopy()
		switch {
		case len(n.Spec.Ingress) > 0 && rng.IntN(2) == 0:
			n.Spec.Ingress = slices.Delete(n.Spec.Ingress, 0, 1)
		default:
			n.Spec.PodSelector = metav1.LabelSelector{MatchLabels: map[string]string{"app": randomApp(rng)}}
		}
		return upd("update KNP "+p.Namespace+"/"+p.Name, p, n)
	case 1:
		p := pick[*networkingv1.NetworkPolicy](rng, s)
		if p == nil {
			return change{}, false // none left of this kind
		}
		n := p.DeepCopy()
		n.Spec.Ingress = append(n.Spec.Ingress, networkingv1.NetworkPolicyIngressRule{From: []networkingv1.NetworkPolicyPeer{
			{IPBlock: &networkingv1.IPBlock{CIDR: "0.0.0.0/0", Except: []string{randomNet(rng)}}}}})
		if rng.IntN(2) == 0 {
			n.Name = fmt.Sprintf("new-%d", rng.IntN(1000))
			return change{name: "create KNP " + n.Namespace + "/" + n.Name + " with an ipBlock", op: netpol.Create, new: n}, true
		}
		return upd("add an ipBlock rule to KNP "+p.Namespace+"/"+p.Name, p, n)
	case 2:
		var pols []runtime.Object
		for _, o := range s.objs {
			switch o.(type) {
			case *networkingv1.NetworkPolicy, *calicov3.NetworkPolicy, *calicov3.GlobalNetworkPolicy, *calicov3.StagedNetworkPolicy,
				*calicov3.StagedKubernetesNetworkPolicy:
				pols = append(pols, o)
			}
		}
		if len(pols) == 0 {
			return change{}, false
		}
		p := pols[rng.IntN(len(pols))]
		return change{name: "delete " + objectKey(p), op: netpol.Delete, old: p}, true
	case 3:
		p := pick[*calicov3.NetworkPolicy](rng, s)
		if p == nil {
			return change{}, false // none left of this kind
		}
		n := p.DeepCopy()
		n.Spec.Order = ptr.To(float64(rng.IntN(1200)))
		if len(n.Spec.Ingress) > 0 && rng.IntN(2) == 0 {
			n.Spec.Ingress[0].Action = calicov3.Deny
		}
		return upd("reorder Calico NP "+p.Namespace+"/"+p.Name, p, n)
	case 4:
		p := pick[*calicov3.NetworkPolicy](rng, s)
		if p == nil {
			return change{}, false // none left of this kind
		}
		n := p.DeepCopy()
		n.Spec.Egress = append([]calicov3.Rule{{Action: calicov3.Deny, Destination: calicov3.EntityRule{Nets: []string{randomNet(rng)}}}}, n.Spec.Egress...)
		return upd("deny nets in Calico NP "+p.Namespace+"/"+p.Name, p, n)
	case 5:
		p := pick[*calicov3.GlobalNetworkPolicy](rng, s)
		if p == nil {
			return change{}, false // none left of this kind
		}
		n := p.DeepCopy()
		if rng.IntN(2) == 0 {
			n.Spec.Selector = "app == '" + randomApp(rng) + "'"
		} else {
			n.Spec.Order = ptr.To(float64(rng.IntN(500)))
		}
		return upd("update GNP "+p.Name, p, n)
	case 6:
		p := pick[*calicov3.Tier](rng, s)
		if p == nil {
			return change{}, false // none left of this kind
		}
		n := p.DeepCopy()
		n.Spec.Order = ptr.To([]float64{50, 100, 2e6}[rng.IntN(3)])
		n.Spec.DefaultAction = ptr.To([]calicov3.Action{calicov3.Pass, calicov3.Deny}[rng.IntN(2)])
		return upd("update tier "+p.Name, p, n)
	case 7:
		p := pick[*calicov3.GlobalNetworkSet](rng, s)
		if p == nil {
			return change{}, false // none left of this kind
		}
		n := p.DeepCopy()
		n.Spec.Nets = []string{randomNet(rng)}
		if rng.IntN(3) == 0 {
			return change{name: "delete GlobalNetworkSet " + p.Name, op: netpol.Delete, old: p}, true
		}
		return upd("renet GlobalNetworkSet "+p.Name, p, n)
	case 8:
		ns := pick[*corev1.Namespace](rng, s)
		if ns == nil {
			return change{}, false // none left of this kind
		}
		n := &calicov3.NetworkSet{TypeMeta: metav1.TypeMeta{APIVersion: "projectcalico.org/v3", Kind: "NetworkSet"},
			ObjectMeta: metav1.ObjectMeta{Namespace: ns.Name, Name: "clients", Labels: map[string]string{"app": randomApp(rng)}},
			Spec:       calicov3.NetworkSetSpec{Nets: []string{randomNet(rng)}}}
		return change{name: "create NetworkSet " + ns.Name + "/clients", op: netpol.Create, new: n}, true
	case 9:
		p := pick[*corev1.Namespace](rng, s)
		if p == nil {
			return change{}, false // none left of this kind
		}
		n := p.DeepCopy()
		if n.Labels == nil {
			n.Labels = map[string]string{}
		}
		n.Labels["team"] = fmt.Sprintf("team-%03d", rng.IntN(5))
		if rng.IntN(4) == 0 {
			return change{name: "delete Namespace " + p.Name, op: netpol.Delete, old: p}, true
		}
		return upd("relabel Namespace "+p.Name, p, n)
	case 10:
		p := pick[*appsv1.Deployment](rng, s)
		if p == nil {
			return change{}, false // none left of this kind
		}
		n := p.DeepCopy()
		n.Spec.Template.Labels["tier"] = []string{"frontend", "data", "edge"}[rng.IntN(3)]
		if rng.IntN(4) == 0 {
			return change{name: "delete Deployment " + p.Namespace + "/" + p.Name, op: netpol.Delete, old: p}, true
		}
		return upd("relabel Deployment "+p.Namespace+"/"+p.Name, p, n)
	case 11:
		p := pick[*corev1.Pod](rng, s)
		if p == nil {
			return change{}, false // none left of this kind
		}
		n := p.DeepCopy()
		switch rng.IntN(4) {
		case 0:
			n.Labels["app"] = randomApp(rng)
			return upd("relabel Pod "+p.Namespace+"/"+p.Name, p, n)
		case 2:
			// Share another pod's address, as a stale pod object may.
			n.Status = pick[*corev1.Pod](rng, s).Status
			return upd("readdress Pod "+p.Namespace+"/"+p.Name+" to "+n.Status.PodIP, p, n)
		case 1:
			// Take an address flows saw from outside.
			for _, c := range conns[rng.IntN(len(conns)):] {
				if c.Src.Kind == netpol.EndpointExternal && len(c.Src.IPs) == 1 {
					n.Status.PodIP, n.Status.PodIPs = c.Src.IPs[0].String(), []corev1.PodIP{{IP: c.Src.IPs[0].String()}}
					return upd("readdress Pod "+p.Namespace+"/"+p.Name+" to "+n.Status.PodIP, p, n)
				}
			}
			return change{}, false
		}
		return change{name: "delete Pod " + p.Namespace + "/" + p.Name, op: netpol.Delete, old: p}, true
	case 12:
		p := pick[*calicov3.NetworkPolicy](rng, s)
		if p == nil {
			return change{}, false // none left of this kind
		}
		st := &calicov3.StagedNetworkPolicy{TypeMeta: metav1.TypeMeta{APIVersion: "projectcalico.org/v3", Kind: "StagedNetworkPolicy"},
			ObjectMeta: metav1.ObjectMeta{Namespace: p.Namespace, Name: p.Name}}
		convert(&p.Spec, &st.Spec)
		st.Spec.StagedAction = []calicov3.StagedAction{calicov3.StagedActionSet, calicov3.StagedActionDelete}[rng.IntN(2)]
		if len(st.Spec.Ingress) > 0 {
			st.Spec.Ingress = st.Spec.Ingress[1:]
		}
		return change{name: "stage " + string(st.Spec.StagedAction) + " of Calico NP " + p.Namespace + "/" + p.Name, op: netpol.Create, new: st}, true
	case 13:
		p := pick[*networkingv1.NetworkPolicy](rng, s)
		if p == nil {
			return change{}, false // none left of this kind
		}
		st := &calicov3.StagedKubernetesNetworkPolicy{TypeMeta: metav1.TypeMeta{APIVersion: "projectcalico.org/v3", Kind: "StagedKubernetesNetworkPolicy"},
			ObjectMeta: metav1.ObjectMeta{Namespace: p.Namespace, Name: p.Name}}
		convert(&p.Spec, &st.Spec)
		st.Spec.StagedAction = []calicov3.StagedAction{calicov3.StagedActionSet, calicov3.StagedActionDelete, calicov3.StagedActionIgnore}[rng.IntN(3)]
		st.Spec.Ingress = nil
		return change{name: "stage " + string(st.Spec.StagedAction) + " of KNP " + p.Namespace + "/" + p.Name, op: netpol.Create, new: st}, true
	case 14:
		tcp := numorstring.ProtocolFromString("TCP")
		h := &calicov3.HostEndpoint{TypeMeta: metav1.TypeMeta{APIVersion: "projectcalico.org/v3", Kind: "HostEndpoint"},
			ObjectMeta: metav1.ObjectMeta{Name: "node-a", Labels: map[string]string{"tier": "data"}},
			Spec: calicov3.HostEndpointSpec{Node: "node-a", ExpectedIPs: []string{"203.0.113.7"},
				Ports: []calicov3.EndpointPort{{Name: "http", Protocol: tcp, Port: 8001}}}}
		return change{name: "create HostEndpoint node-a", op: netpol.Create, new: h}, true
	default:
		ns := pick[*corev1.Namespace](rng, s)
		if ns == nil {
			return change{}, false // none left of this kind
		}
		if rng.IntN(2) == 0 {
			sa := &corev1.ServiceAccount{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "ServiceAccount"},
				ObjectMeta: metav1.ObjectMeta{Namespace: ns.Name, Name: randomApp(rng), Labels: map[string]string{"role": "x"}}}
			return change{name: "create ServiceAccount " + ns.Name + "/" + sa.Name, op: netpol.Create, new: sa}, true
		}
		svc := &corev1.Service{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Service"},
			ObjectMeta: metav1.ObjectMeta{Namespace: ns.Name, Name: "web"},
			Spec: corev1.ServiceSpec{Selector: map[string]string{"app": randomApp(rng)},
				Ports: []corev1.ServicePort{{Port: 80, Protocol: corev1.ProtocolTCP}}}}
		return change{name: "create Service " + ns.Name + "/web", op: netpol.Create, new: svc}, true
	}
}

// convert copies one policy spec into another of the same shape (a staged twin's).
func convert(from, to any) {
	b, err := json.Marshal(from)
	if err != nil {
		panic(err)
	}
	if err := json.Unmarshal(b, to); err != nil {
		panic(err)
	}
}
