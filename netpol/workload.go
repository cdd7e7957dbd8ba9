package netpol

import (
	"net/netip"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/flowguard/flowguard/flows"
	"github.com/flowguard/flowguard/netpol/selector"
)

// WorkloadRef names a workload: a pod-template controller or a standalone Pod.
type WorkloadRef struct {
	Kind      string // Deployment, StatefulSet, DaemonSet, ReplicaSet, ReplicationController, Job, CronJob or Pod
	Namespace string
	Name      string
}

// String returns namespace/name[Kind], the form connectivity maps use.
func (r WorkloadRef) String() string { return r.Namespace + "/" + r.Name + "[" + r.Kind + "]" }

// NamedPort is a container port with a name, which policies may refer to.
type NamedPort struct {
	Name  string
	Proto flows.Protocol
	Port  uint16
}

// Workload is a pod-template workload, or a Pod no workload owns, with the pods folded into it.
type Workload struct {
	WorkloadRef
	// Labels are the pod template's labels (a standalone pod's own).
	Labels         map[string]string
	ServiceAccount string
	Ports          []NamedPort
	// IPs are the addresses of the pods folded into the workload, where their status says.
	IPs         []netip.Addr
	HostNetwork bool
	// Pods are the names of the pods folded into the workload.
	Pods []string

	selector *selector.Selector // the controller's pod selector; nil for a Pod
	owner    *metav1.OwnerReference
}

// podTemplateOf returns the pod template of a workload kind, or nil.
func podTemplateOf(obj runtime.Object) *corev1.PodTemplateSpec {
	switch o := obj.(type) {
	case *appsv1.Deployment:
		return &o.Spec.Template
	case *appsv1.StatefulSet:
		return &o.Spec.Template
	case *appsv1.DaemonSet:
		return &o.Spec.Template
	case *appsv1.ReplicaSet:
		return &o.Spec.Template
	case *corev1.ReplicationController:
		return o.Spec.Template
	case *batchv1.Job:
		return &o.Spec.Template
	case *batchv1.CronJob:
		return &o.Spec.JobTemplate.Spec.Template
	}
	return nil
}

// podSelectorOf returns a workload's pod selector (nil when it has none).
func podSelectorOf(obj runtime.Object) *metav1.LabelSelector {
	switch o := obj.(type) {
	case *appsv1.Deployment:
		return o.Spec.Selector
	case *appsv1.StatefulSet:
		return o.Spec.Selector
	case *appsv1.DaemonSet:
		return o.Spec.Selector
	case *appsv1.ReplicaSet:
		return o.Spec.Selector
	case *corev1.ReplicationController:
		if o.Spec.Selector == nil {
			return nil
		}
		return &metav1.LabelSelector{MatchLabels: o.Spec.Selector}
	case *batchv1.Job:
		return o.Spec.Selector
	}
	return nil
}

// newWorkload builds the Workload of a pod-template kind or of a Pod.
func newWorkload(obj runtime.Object) *Workload {
	kind, ns, name := describe(obj)
	w := &Workload{WorkloadRef: WorkloadRef{Kind: kind, Namespace: ns, Name: name}}
	var spec *corev1.PodSpec
	var m metav1.Object
	if pod, ok := obj.(*corev1.Pod); ok {
		spec, m = &pod.Spec, pod
		w.Labels = pod.Labels
		for _, ip := range pod.Status.PodIPs {
			if a, err := netip.ParseAddr(ip.IP); err == nil {
				w.IPs = append(w.IPs, a)
			}
		}
		if len(w.IPs) == 0 && pod.Status.PodIP != "" {
			if a, err := netip.ParseAddr(pod.Status.PodIP); err == nil {
				w.IPs = append(w.IPs, a)
			}
		}
		w.Pods = []string{name}
	} else if t := podTemplateOf(obj); t != nil {
		spec = &t.Spec
		w.Labels = t.Labels
		mo, _ := obj.(metav1.Object)
		m = mo
		if ls := podSelectorOf(obj); ls != nil {
			w.selector, _ = selector.FromLabelSelector(ls)
		} else if len(t.Labels) > 0 {
			// Jobs and CronJobs select their pods by the template's labels.
			w.selector, _ = selector.FromLabelSelector(&metav1.LabelSelector{MatchLabels: t.Labels})
		}
	}
	if spec != nil {
		w.ServiceAccount = spec.ServiceAccountName
		w.HostNetwork = spec.HostNetwork
		w.Ports = namedPorts(spec)
	}
	if m != nil {
		w.owner = metav1.GetControllerOfNoCopy(m)
	}
	return w
}

// namedPorts lists the named container ports of the pod's containers and sidecars.
func namedPorts(spec *corev1.PodSpec) []NamedPort {
	var out []NamedPort
	add := func(cs []corev1.Container, sidecarsOnly bool) {
		for _, c := range cs {
			if sidecarsOnly && (c.RestartPolicy == nil || *c.RestartPolicy != corev1.ContainerRestartPolicyAlways) {
				continue
			}
			for _, p := range c.Ports {
				if p.Name == "" {
					continue
				}
				proto, _ := k8sProtocolNumber(p.Protocol)
				if p.Protocol == "" {
					proto = 6
				}
				out = append(out, NamedPort{Name: p.Name, Proto: flows.Protocol(proto), Port: uint16(p.ContainerPort)})
			}
		}
	}
	add(spec.Containers, false)
	add(spec.InitContainers, true)
	return out
}

// workloadKinds lists the controller kinds in the order a pod's owner is preferred when the
// pod is matched by selector rather than by owner reference.
var workloadKinds = []string{"Deployment", "StatefulSet", "DaemonSet", "CronJob", "Job", "ReplicaSet", "ReplicationController"}

// aggregatedBase strips what Calico adds to a pod's generateName in name_aggr ("*") and the
// trailing hyphen of the generateName.
func aggregatedBase(name string) (string, bool) {
	if !strings.HasSuffix(name, "*") {
		return name, false
	}
	return strings.TrimSuffix(strings.TrimSuffix(name, "*"), "-"), true
}

// cutLastSegment returns name without its last "-segment", and the segment.
func cutLastSegment(name string) (string, string, bool) {
	i := strings.LastIndexByte(name, '-')
	if i <= 0 || i == len(name)-1 {
		return "", "", false
	}
	return name[:i], name[i+1:], true
}

func isDigits(s string) bool {
	return s != "" && strings.IndexFunc(s, func(r rune) bool { return r < '0' || r > '9' }) < 0
}
