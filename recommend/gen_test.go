package recommend

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/flowguard/flowguard/flows"
)

// scenario is a generated cluster with the traffic observed in it, and the ground truth the
// property test checks recommendations against.
type scenario struct {
	objs []runtime.Object
	recs []flows.Record
	// workloads are the generated workloads, as flows name them.
	workloads []flows.Endpoint
	// allowed are the connections observed as allowed that a recommendation can tie to
	// workloads, sets or networks.
	allowed []flowConn
	// open are the workload pairs and protocols on which the flow source aggregated the port
	// away, so every port of the protocol is (knowingly) allowed.
	open map[genConn]bool
	// observed holds every connection in allowed.
	observed map[genConn]bool
	// blocked are connections between workloads whose last record was a deny.
	blocked []flowConn
}

type flowConn struct {
	src, dst flows.Endpoint
	proto    flows.Protocol
	port     uint16
}

// genConn is a connection by its endpoints' names.
type genConn struct {
	src, dst string
	proto    flows.Protocol
	port     uint16
}

func connOf(src, dst flows.Endpoint, proto flows.Protocol, port uint16) genConn {
	return genConn{src: src.String(), dst: dst.String(), proto: proto, port: port}
}

// genScenario builds a cluster of 2 to 4 namespaces of 2 to 6 Deployments and StatefulSets
// whose labels overlap (a workload may carry another's app label plus its own track label),
// with named TCP and UDP ports, namespaced, global and unlabelled network sets, and traffic
// between workloads, to and from public, private and exact addresses and sets, DNS queries,
// ICMP, ports aggregated away, flows from workloads the model lacks, denied connections and
// connections denied after they were allowed.
func genScenario(seed uint64) *scenario {
	rng := rand.New(rand.NewPCG(seed, 0x7ec0))
	s := &scenario{open: map[genConn]bool{}, observed: map[genConn]bool{}}
	s.objs = append(s.objs, namespace("kube-system"), deployment("kube-system", "coredns", withLabels("k8s-app=kube-dns")))
	dns := wep("kube-system", "coredns-5d78c9869d-*", "k8s-app=kube-dns", "pod-template-hash=5d78c9869d")
	type gw struct {
		ep    flows.Endpoint
		ports []corev1.ContainerPort
	}
	var wls []gw
	nsCount := 2 + rng.IntN(3)
	for k := range nsCount {
		ns := fmt.Sprintf("ns-%d", k)
		s.objs = append(s.objs, namespace(ns),
			networkSet(ns, "partners", map[string]string{"role": "partners-" + ns}, fmt.Sprintf("203.0.113.%d/28", 16*k)))
		prevApp := ""
		for i := range 2 + rng.IntN(5) {
			name := fmt.Sprintf("w%d", i)
			labels := []string{"app=" + name}
			if prevApp != "" && rng.IntN(3) == 0 {
				// Shares the previous workload's app label: only track tells them apart.
				labels = []string{"app=" + prevApp, fmt.Sprintf("track=t%d", i)}
			}
			prevApp = labels[0][len("app="):]
			if rng.IntN(2) == 0 {
				labels = append(labels, "app.kubernetes.io/version=1."+fmt.Sprint(i), "helm.sh/chart=c-0.1")
			}
			var ports []corev1.ContainerPort
			if rng.IntN(2) == 0 {
				ports = append(ports, corev1.ContainerPort{Name: "http", ContainerPort: int32(8000 + i), Protocol: corev1.ProtocolTCP})
			}
			if rng.IntN(4) == 0 {
				ports = append(ports, corev1.ContainerPort{Name: "syslog", ContainerPort: 514, Protocol: corev1.ProtocolUDP})
			}
			mods := []workloadMod{withLabels(labels...), func(d *appsv1.Deployment) {
				d.Spec.Template.Spec.Containers[0].Ports = ports
			}}
			d := deployment(ns, name, mods...)
			aggr := name + "-" + fmt.Sprintf("%x", rng.Uint32()) + "-*"
			var obj runtime.Object = d
			if rng.IntN(3) == 0 {
				st := statefulSet(ns, name, labels...)
				st.Spec.Template.Spec = d.Spec.Template.Spec
				obj, aggr = st, name+"-*"
			}
			s.objs = append(s.objs, obj)
			flowLabels := append(labels, "pod-template-hash=h", "projectcalico.org/namespace="+ns)
			wls = append(wls, gw{ep: wep(ns, aggr, flowLabels...), ports: ports})
		}
	}
	s.objs = append(s.objs,
		networkSet("", "saas", map[string]string{"kind": "saas"}, "198.51.100.0/24"),
		networkSet("ns-0", "legacy", nil, "192.0.2.0/25", "192.0.2.128/25"))
	for _, w := range wls {
		s.workloads = append(s.workloads, w.ep)
	}

	when := func() time.Duration { return time.Duration(rng.IntN(48*60)) * time.Minute }
	emit := func(src, dst flows.Endpoint, proto flows.Protocol, port uint16, mods ...recordMod) {
		mods = append(mods, at(when()))
		s.recs = append(s.recs, flow(src, dst, proto, port, mods...))
		// Both sides report traffic between workloads; only the source traffic to outside.
		if dst.Type == flows.TypeWorkload && src.Type == flows.TypeWorkload {
			s.recs = append(s.recs, flow(src, dst, proto, port, append(mods, reportedBySrc)...))
		}
	}
	// A connection is either allowed throughout or denied at some point, never both, so that
	// the ground truth does not depend on record times.
	deniedKeys := map[genConn]bool{}
	allow := func(src, dst flows.Endpoint, proto flows.Protocol, port uint16) {
		c := connOf(src, dst, proto, port)
		if deniedKeys[c] {
			return
		}
		emit(src, dst, proto, port)
		s.allowed = append(s.allowed, flowConn{src, dst, proto, port})
		s.observed[c] = true
		if port == 0 && proto.HasPorts() {
			s.open[genConn{src: c.src, dst: c.dst, proto: proto}] = true
		}
	}
	pick := func() gw { return wls[rng.IntN(len(wls))] }
	portOf := func(w gw) (flows.Protocol, uint16) {
		if len(w.ports) > 0 && rng.IntN(3) > 0 {
			p := w.ports[rng.IntN(len(w.ports))]
			if p.Protocol == corev1.ProtocolUDP {
				return flows.ProtoUDP, uint16(p.ContainerPort)
			}
			return flows.ProtoTCP, uint16(p.ContainerPort)
		}
		return flows.ProtoTCP, []uint16{80, 443, 5432, 6379, 9090}[rng.IntN(5)]
	}
	outside := func() flows.Endpoint {
		switch rng.IntN(6) {
		case 0:
			return pub()
		case 1:
			return pvt()
		case 2:
			return addr(fmt.Sprintf("52.%d.%d.%d", rng.IntN(256), rng.IntN(256), 1+rng.IntN(254)))
		case 3:
			return netSet(fmt.Sprintf("ns-%d", rng.IntN(nsCount)), "partners")
		case 4:
			return netSet("", "saas")
		}
		return netSet("ns-0", "legacy")
	}
	for range 20 + rng.IntN(40) {
		src, dst := pick(), pick()
		switch r := rng.IntN(100); {
		case r < 50:
			proto, port := portOf(dst)
			allow(src.ep, dst.ep, proto, port)
		case r < 62:
			allow(src.ep, outside(), flows.ProtoTCP, 443)
		case r < 70:
			o := outside()
			if o.Type == flows.TypeNetworkSet {
				o = addr(fmt.Sprintf("203.0.%d.%d", 200+rng.IntN(50), 1+rng.IntN(254)))
			}
			proto, port := portOf(dst)
			allow(o, dst.ep, proto, port)
		case r < 78:
			allow(src.ep, dns, flows.ProtoUDP, 53)
		case r < 82:
			allow(src.ep, dst.ep, flows.ProtoICMP, 0)
		case r < 85:
			allow(src.ep, dst.ep, flows.ProtoTCP, 0)
		case r < 90:
			// A workload the model lacks: listed as unresolved, never allowed.
			emit(wep(dst.ep.Namespace, "ghost-7f-*", "app=ghost"), dst.ep, flows.ProtoTCP, 80)
		case r < 95:
			proto, port := portOf(dst)
			if c := connOf(src.ep, dst.ep, proto, port); !s.observed[c] {
				deniedKeys[c] = true
				emit(src.ep, dst.ep, proto, port, denied)
				s.blocked = append(s.blocked, flowConn{src.ep, dst.ep, proto, port})
			}
		default:
			// Allowed, then denied an hour later: some policy blocks it now.
			proto, port := portOf(dst)
			c := connOf(src.ep, dst.ep, proto, port)
			if s.observed[c] {
				continue
			}
			deniedKeys[c] = true
			s.blocked = append(s.blocked, flowConn{src.ep, dst.ep, proto, port})
			first := when()
			s.recs = append(s.recs, flow(src.ep, dst.ep, proto, port, at(first)),
				flow(src.ep, dst.ep, proto, port, at(first+time.Hour), denied))
		}
	}
	return s
}

// pieces splits an endpoint that stands for a range of addresses (pub, pvt, a set of several
// nets) into one endpoint per prefix. netpol never guesses an unknown address into a peer,
// so it allows a range only when one ipBlock holds all of it; a real flow has one address,
// which lies in one of the prefixes.
func pieces(nets []netip.Prefix) [][]netip.Prefix {
	out := make([][]netip.Prefix, len(nets))
	for i, n := range nets {
		out[i] = []netip.Prefix{n}
	}
	return out
}
