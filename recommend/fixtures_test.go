package recommend

import (
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	calicov3 "github.com/projectcalico/api/pkg/apis/projectcalico/v3"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/flowguard/flowguard/flows"
	"github.com/flowguard/flowguard/netpol"
)

// t0 is the start of the observed traffic in fixtures.
var t0 = time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)

// workloadMod modifies a generated workload.
type workloadMod func(*appsv1.Deployment)

// deployment builds a Deployment whose pods carry labels (k=v strings).
func deployment(ns, name string, mods ...workloadMod) *appsv1.Deployment {
	d := &appsv1.Deployment{
		TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: appsv1.DeploymentSpec{
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": name}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "main", Image: "registry.example/" + name}}},
			},
		},
	}
	for _, m := range mods {
		m(d)
	}
	return d
}

// withLabels replaces the pod template's labels.
func withLabels(kv ...string) workloadMod {
	return func(d *appsv1.Deployment) {
		d.Spec.Template.Labels = labelMap(kv...)
	}
}

// withPort declares a named container port.
func withPort(name string, port int32, proto corev1.Protocol) workloadMod {
	return func(d *appsv1.Deployment) {
		c := &d.Spec.Template.Spec.Containers[0]
		c.Ports = append(c.Ports, corev1.ContainerPort{Name: name, ContainerPort: port, Protocol: proto})
	}
}

func withHostNetwork() workloadMod {
	return func(d *appsv1.Deployment) { d.Spec.Template.Spec.HostNetwork = true }
}

func namespace(name string) *corev1.Namespace {
	return &corev1.Namespace{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Namespace"}, ObjectMeta: metav1.ObjectMeta{Name: name}}
}

func networkSet(ns, name string, labels map[string]string, nets ...string) runtime.Object {
	if ns == "" {
		return &calicov3.GlobalNetworkSet{
			TypeMeta:   metav1.TypeMeta{APIVersion: calicov3.GroupVersionCurrent, Kind: "GlobalNetworkSet"},
			ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels},
			Spec:       calicov3.GlobalNetworkSetSpec{Nets: nets},
		}
	}
	return &calicov3.NetworkSet{
		TypeMeta:   metav1.TypeMeta{APIVersion: calicov3.GroupVersionCurrent, Kind: "NetworkSet"},
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: labels},
		Spec:       calicov3.NetworkSetSpec{Nets: nets},
	}
}

func labelMap(kv ...string) map[string]string {
	m := map[string]string{}
	for _, s := range kv {
		k, v, _ := strings.Cut(s, "=")
		m[k] = v
	}
	return m
}

// newCluster adds objects to a cluster model, failing the test on any refusal.
func newCluster(t testing.TB, objs ...runtime.Object) *netpol.Cluster {
	t.Helper()
	c := netpol.NewCluster()
	for _, o := range objs {
		if err := c.Add(o); err != nil {
			t.Fatalf("add %T: %v", o, err)
		}
	}
	return c
}

// shop is a small cluster: frontend -> api -> db in namespace shop, DNS in kube-system.
func shop() []runtime.Object {
	return []runtime.Object{
		namespace("shop"), namespace("kube-system"),
		deployment("shop", "frontend", withLabels("app=frontend", "app.kubernetes.io/version=1.4.2")),
		deployment("shop", "api", withLabels("app=api", "tier=backend"), withPort("http", 8080, corev1.ProtocolTCP)),
		deployment("shop", "db", withLabels("app=db", "tier=backend"), withPort("pg", 5432, corev1.ProtocolTCP)),
		deployment("kube-system", "coredns", withLabels("k8s-app=kube-dns")),
	}
}

// Endpoints of flow records.
func wep(ns, aggr string, labels ...string) flows.Endpoint {
	return flows.Endpoint{Type: flows.TypeWorkload, Namespace: ns, Name: aggr, Labels: flowLabels(labels...)}
}
func pub() flows.Endpoint { return flows.Endpoint{Type: flows.TypeNetwork, Name: "pub"} }
func pvt() flows.Endpoint { return flows.Endpoint{Type: flows.TypeNetwork, Name: "pvt"} }
func addr(ip string) flows.Endpoint {
	a := netip.MustParseAddr(ip)
	name := "pub"
	if a.IsPrivate() {
		name = "pvt"
	}
	return flows.Endpoint{Type: flows.TypeNetwork, Name: name, IP: a}
}
func netSet(ns, name string) flows.Endpoint {
	return flows.Endpoint{Type: flows.TypeNetworkSet, Namespace: ns, Name: name}
}
func hep(name string) flows.Endpoint { return flows.Endpoint{Type: flows.TypeHost, Name: name} }

func flowLabels(kv ...string) flows.Labels {
	var l flows.Labels
	for _, s := range kv {
		k, v, _ := strings.Cut(s, "=")
		l = append(l, flows.Label{Key: k, Value: v})
	}
	slices.SortFunc(l, func(a, b flows.Label) int { return strings.Compare(a.Key, b.Key) })
	return l
}

// recordMod modifies a flow record.
type recordMod func(*flows.Record)

// flow is an allowed record reported by the destination, seen in the first hour.
func flow(src, dst flows.Endpoint, proto flows.Protocol, port uint16, mods ...recordMod) flows.Record {
	r := flows.Record{
		Src: src, Dst: dst, Proto: proto, DstPort: port, Action: flows.ActionAllow, Reporter: flows.ReporterDst,
		Start: t0, End: t0.Add(5 * time.Minute), Flows: 1,
	}
	for _, m := range mods {
		m(&r)
	}
	return r
}

func denied(r *flows.Record)        { r.Action = flows.ActionDeny }
func reportedBySrc(r *flows.Record) { r.Reporter = flows.ReporterSrc }

// at places the record's window at t0+d.
func at(d time.Duration) recordMod {
	return func(r *flows.Record) { r.Start, r.End = t0.Add(d), t0.Add(d+5*time.Minute) }
}

// newGraph aggregates records into a graph that keeps everything.
func newGraph(t testing.TB, recs ...flows.Record) *flows.Graph {
	t.Helper()
	g, err := flows.NewGraph(flows.GraphOptions{Retention: -1, MaxEdges: -1})
	if err != nil {
		t.Fatal(err)
	}
	if n := g.AddBatch(recs); n != len(recs) {
		t.Fatalf("graph kept %d of %d records", n, len(recs))
	}
	return g
}
