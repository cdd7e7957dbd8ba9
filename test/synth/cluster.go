package synth

import (
	"fmt"
	"math/rand/v2"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	k8stypes "k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
)

// Config sizes a synthetic cluster.
type Config struct {
	Seed int64
	// Namespaces and WorkloadsPerNamespace give the number of Deployments.
	Namespaces, WorkloadsPerNamespace int
	// Replicas is the number of pods per Deployment.
	Replicas int
	// Pods emits Pod and ReplicaSet objects (with owner references and addresses) besides the
	// Deployments; without it pods exist only as replicas counts and in flows.
	Pods bool
	// DefaultDeny adds a Kubernetes default deny (Ingress and Egress) to every namespace.
	DefaultDeny bool
	// KubernetesPolicyWorkloads is how many workloads per namespace (the first ones) get a
	// Kubernetes NetworkPolicy of their own.
	KubernetesPolicyWorkloads int
	// CalicoNamespaces is how many namespaces (the first ones) get one Calico NetworkPolicy
	// governing their remaining workloads.
	CalicoNamespaces int
	// GlobalPolicies is how many GlobalNetworkPolicies tier "security" holds (0 to 4); any
	// adds the tier and a GlobalNetworkSet.
	GlobalPolicies int
	// AdminPolicies adds an AdminNetworkPolicy, the BaselineAdminNetworkPolicy and a
	// ClusterNetworkPolicy.
	AdminPolicies bool
}

// VerdictScale is the cluster of the verdict and impact benchmarks: 10,000 pods in 500
// namespaces (2,000 Deployments of 5 replicas) and exactly 2,000 policies (500 default
// denies, 1,000 per-workload Kubernetes policies, 496 Calico NetworkPolicies and 4
// GlobalNetworkPolicies).
func VerdictScale() Config {
	return Config{Seed: 1, Namespaces: 500, WorkloadsPerNamespace: 4, Replicas: 5, DefaultDeny: true,
		KubernetesPolicyWorkloads: 2, CalicoNamespaces: 496, GlobalPolicies: 4}
}

// ConnectivityScale is the cluster of the connectivity benchmark, the largest one
// netpol-analyzer was measured on: 1,000 Deployments in 20 namespaces with 1,020 Kubernetes
// policies (a default deny per namespace and one policy per Deployment).
func ConnectivityScale() Config {
	return Config{Seed: 1, Namespaces: 20, WorkloadsPerNamespace: 50, Replicas: 1, DefaultDeny: true,
		KubernetesPolicyWorkloads: 50}
}

// Workload is one generated Deployment.
type Workload struct {
	Namespace, Name string
	// Index is the workload's position in its namespace; NS the namespace's.
	Index, NS int
	// Hash is the pod-template hash in pod names ("<name>-<hash>-<suffix>").
	Hash     string
	Labels   map[string]string
	HTTPPort uint16
	// Governed says which policy admits its traffic: "knp", "np" or "" (only the default
	// deny, so nothing reaches it).
	Governed string
}

// Cluster is a generated cluster.
type Cluster struct {
	Config    Config
	Objects   []runtime.Object
	Workloads []Workload
	// Policies counts the policy objects among Objects.
	Policies int
	byKey    map[[2]int]*Workload
}

// Generate builds the cluster cfg describes.
func Generate(cfg Config) *Cluster {
	rng := rand.New(rand.NewPCG(uint64(cfg.Seed), 0x5eed))
	c := &Cluster{Config: cfg, byKey: map[[2]int]*Workload{}}
	c.addKubeDNS()
	for k := range cfg.Namespaces {
		ns := nsName(k)
		c.Objects = append(c.Objects, &corev1.Namespace{
			TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Namespace"},
			ObjectMeta: metav1.ObjectMeta{Name: ns, Labels: map[string]string{"team": ns, "env": []string{"prod", "dev"}[k%2]}},
		})
		for i := range cfg.WorkloadsPerNamespace {
			w := Workload{
				Namespace: ns, Name: wlName(i), Index: i, NS: k, Hash: hash(rng),
				Labels:   map[string]string{"app": wlName(i), "tier": []string{"frontend", "backend", "data"}[i%3]},
				HTTPPort: uint16(8000 + i),
			}
			switch {
			case i < cfg.KubernetesPolicyWorkloads:
				w.Governed = "knp"
			case k < cfg.CalicoNamespaces:
				w.Governed = "np"
			case !cfg.DefaultDeny:
				w.Governed = "open"
			}
			c.Workloads = append(c.Workloads, w)
			c.Objects = append(c.Objects, c.deployment(&w)...)
		}
		c.addNamespacePolicies(k)
	}
	for i := range c.Workloads {
		w := &c.Workloads[i]
		c.byKey[[2]int{w.NS, w.Index}] = w
	}
	c.addGlobalPolicies()
	c.addAdminPolicies()
	return c
}

func nsName(k int) string { return fmt.Sprintf("team-%03d", k) }
func wlName(i int) string { return fmt.Sprintf("svc-%02d", i) }

// hash is a pod-template hash: ten characters of Kubernetes' safe alphabet.
func hash(rng *rand.Rand) string {
	const alphabet = "bcdfghjklmnpqrstvwxz2456789"
	b := make([]byte, 10)
	for i := range b {
		b[i] = alphabet[rng.IntN(len(alphabet))]
	}
	return string(b)
}

func (c *Cluster) deployment(w *Workload) []runtime.Object {
	podLabels := map[string]string{}
	for k, v := range w.Labels {
		podLabels[k] = v
	}
	spec := corev1.PodSpec{
		ServiceAccountName: w.Name,
		Containers: []corev1.Container{{
			Name: "app", Image: "registry.example/" + w.Name,
			Ports: []corev1.ContainerPort{
				{Name: "http", ContainerPort: int32(w.HTTPPort), Protocol: corev1.ProtocolTCP},
				{Name: "metrics", ContainerPort: 9090, Protocol: corev1.ProtocolTCP},
			},
		}},
	}
	d := &appsv1.Deployment{
		TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
		ObjectMeta: metav1.ObjectMeta{Name: w.Name, Namespace: w.Namespace, UID: uid("deploy", w)},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To(int32(c.Config.Replicas)),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": w.Name}},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: podLabels}, Spec: spec},
		},
	}
	out := []runtime.Object{d}
	if !c.Config.Pods {
		return out
	}
	rsName := w.Name + "-" + w.Hash
	rsLabels := map[string]string{"pod-template-hash": w.Hash}
	for k, v := range w.Labels {
		rsLabels[k] = v
	}
	rs := &appsv1.ReplicaSet{
		TypeMeta: metav1.TypeMeta{APIVersion: "apps/v1", Kind: "ReplicaSet"},
		ObjectMeta: metav1.ObjectMeta{Name: rsName, Namespace: w.Namespace, UID: uid("rs", w),
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "Deployment", Name: w.Name, UID: d.UID, Controller: ptr.To(true)}}},
		Spec: appsv1.ReplicaSetSpec{
			Replicas: ptr.To(int32(c.Config.Replicas)),
			Selector: &metav1.LabelSelector{MatchLabels: rsLabels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: rsLabels}, Spec: spec},
		},
	}
	out = append(out, rs)
	for r := range c.Config.Replicas {
		ip := podIP(w, r, c.Config.WorkloadsPerNamespace, c.Config.Replicas)
		out = append(out, &corev1.Pod{
			TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("%s-%05d", rsName, r), Namespace: w.Namespace, Labels: rsLabels,
				GenerateName:    rsName + "-",
				OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: rsName, UID: rs.UID, Controller: ptr.To(true)}}},
			Spec:   spec,
			Status: corev1.PodStatus{PodIP: ip, PodIPs: []corev1.PodIP{{IP: ip}}},
		})
	}
	return out
}

func uid(kind string, w *Workload) k8stypes.UID {
	return k8stypes.UID(fmt.Sprintf("%s-%03d-%02d", kind, w.NS, w.Index))
}

// podIP places pods in 10.244.0.0/14 by a global pod index.
func podIP(w *Workload, replica, perNS, replicas int) string {
	n := (w.NS*perNS+w.Index)*replicas + replica + 1
	return fmt.Sprintf("10.%d.%d.%d", 244+(n>>16), (n>>8)&0xff, n&0xff)
}

func (c *Cluster) addKubeDNS() {
	c.Objects = append(c.Objects,
		&corev1.Namespace{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Namespace"}, ObjectMeta: metav1.ObjectMeta{Name: "kube-system"}},
		&appsv1.Deployment{
			TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
			ObjectMeta: metav1.ObjectMeta{Name: "coredns", Namespace: "kube-system"},
			Spec: appsv1.DeploymentSpec{
				Replicas: ptr.To(int32(2)),
				Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"k8s-app": "kube-dns"}},
				Template: corev1.PodTemplateSpec{
					ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"k8s-app": "kube-dns"}},
					Spec: corev1.PodSpec{ServiceAccountName: "coredns", Containers: []corev1.Container{{
						Name: "coredns", Image: "registry.k8s.io/coredns/coredns",
						Ports: []corev1.ContainerPort{{Name: "dns", ContainerPort: 53, Protocol: corev1.ProtocolUDP}},
					}}},
				},
			},
		})
}
