package recommend

import (
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/flowguard/flowguard/flows"
)

func statefulSet(ns, name string, labels ...string) *appsv1.StatefulSet {
	l := labelMap(labels...)
	return &appsv1.StatefulSet{
		TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "StatefulSet"},
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: appsv1.StatefulSetSpec{
			Selector: &metav1.LabelSelector{MatchLabels: l},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: l}},
		},
	}
}

func cronJob(ns, name string, labels ...string) *batchv1.CronJob {
	return &batchv1.CronJob{
		TypeMeta:   metav1.TypeMeta{APIVersion: "batch/v1", Kind: "CronJob"},
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: batchv1.CronJobSpec{Schedule: "0 3 * * *", JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labelMap(labels...)}},
		}}},
	}
}

func pod(ns, name string, labels ...string) *corev1.Pod {
	return &corev1.Pod{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: labelMap(labels...)},
	}
}

func TestResolveEndpoints(t *testing.T) {
	objs := append(shop(),
		statefulSet("shop", "cache", "app=cache"),
		cronJob("shop", "report", "app=report"),
		// A Deployment and a StatefulSet share a name; their labels tell them apart.
		deployment("shop", "search", withLabels("app=search", "role=query")),
		statefulSet("shop", "search", "app=search", "role=index"),
		// Two Deployments no stable label tells apart.
		deployment("shop", "worker-a", withLabels("app=worker", "pod-template-hash=abc")),
		deployment("shop", "worker-b", withLabels("app=worker")),
		pod("shop", "debug", "pod-template-hash=x"),
		deployment("shop", "node-agent", withLabels("app=node-agent"), withHostNetwork()),
		networkSet("shop", "partners", map[string]string{"role": "partners"}, "203.0.113.0/24"),
	)
	c := newCluster(t, objs...)
	o := Options{}.withDefaults()
	r := newResolver(newInventory(c, newVolatility(nil)), o.DNS)

	cases := map[string]struct {
		ep         flows.Endpoint
		wantPeer   string // peer.String() when resolved
		wantReason Reason
		wantDNS    bool
	}{
		"Deployment by aggregated name (generateName with the ReplicaSet hash)": {
			ep: wep("shop", "api-5f6b7c8d9-*"), wantPeer: "shop/api[Deployment]",
		},
		"Deployment by its own name": {
			ep: wep("shop", "api"), wantPeer: "shop/api[Deployment]",
		},
		"StatefulSet by aggregated name": {
			ep: wep("shop", "cache-*"), wantPeer: "shop/cache[StatefulSet]",
		},
		"StatefulSet pod by ordinal": {
			ep: wep("shop", "cache-2"), wantPeer: "shop/cache[StatefulSet]",
		},
		"CronJob pod by aggregated name with the schedule index": {
			ep: wep("shop", "report-28934-*"), wantPeer: "shop/report[CronJob]",
		},
		"name shared by two kinds: the flow's labels decide": {
			ep: wep("shop", "search-*", "app=search", "role=index"), wantPeer: "shop/search[StatefulSet]",
		},
		"name shared by two kinds and no labels: ambiguous, not guessed": {
			ep: wep("shop", "search-*"), wantReason: ReasonAmbiguous,
		},
		"name aggregated away: the labels alone decide": {
			ep: wep("shop", "-", "app=db", "tier=backend", "pod-template-hash=1"), wantPeer: "shop/db[Deployment]",
		},
		"name aggregated away and no labels": {
			ep: wep("shop", "-"), wantReason: ReasonNameAggregated,
		},
		"unknown workload": {
			ep: wep("shop", "ghost-5f6b7c8d9-*"), wantReason: ReasonNoWorkload,
		},
		"unknown namespace": {
			ep: wep("payments", "ledger-1-*"), wantReason: ReasonUnknownNamespace,
		},
		"workloads with the same stable labels share a policy": {
			ep: wep("shop", "worker-b-77-*"), wantPeer: "shop/worker-a[Deployment] (+1 with the same labels)",
		},
		"a pod without stable labels cannot be selected alone": {
			ep: wep("shop", "debug"), wantReason: ReasonNoStableLabels,
		},
		"host-network pods are outside NetworkPolicy": {
			ep: wep("shop", "node-agent-*"), wantReason: ReasonHostNetwork,
		},
		"cluster DNS by labels, resolved to its Deployment": {
			ep: wep("kube-system", "coredns-5d78c9869d-*", "k8s-app=kube-dns"), wantPeer: "kube-system/coredns[Deployment]", wantDNS: true,
		},
		"cluster DNS by labels even when the model lacks its pods": {
			ep: wep("kube-system", "kube-dns-1-*", "k8s-app=kube-dns"), wantReason: ReasonNoWorkload, wantDNS: true,
		},
		"network set of the model": {
			ep: netSet("shop", "partners"), wantPeer: "networkset:shop/partners",
		},
		"network set the model lacks": {
			ep: netSet("", "blocklist"), wantReason: ReasonUnknownNetworkSet,
		},
		"public network without an address": {
			ep: pub(), wantPeer: "net:pub",
		},
		"private network without an address": {
			ep: pvt(), wantPeer: "net:pvt",
		},
		"an address outside the cluster": {
			ep: addr("52.1.2.3"), wantPeer: "net:52.1.2.3/32",
		},
		"an IPv6 address outside the cluster": {
			ep: addr("2001:db8::7"), wantPeer: "net:2001:db8::7/128",
		},
		"host endpoints are not recommended for": {
			ep: hep("node-1"), wantReason: ReasonHostEndpoint,
		},
	}
	id := flows.IdentityID(0)
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			id++
			res := r.of(id, &tc.ep)
			switch {
			case tc.wantReason != "" && res.reason != tc.wantReason:
				t.Errorf("reason = %q (%s), want %q", res.reason, res.detail, tc.wantReason)
			case tc.wantReason == "" && !res.ok():
				t.Errorf("unresolved: %s: %s", res.reason, res.detail)
			case tc.wantReason == "" && res.peer.String() != tc.wantPeer:
				t.Errorf("peer = %s, want %s", res.peer, tc.wantPeer)
			}
			if tc.wantReason != "" && res.detail == "" {
				t.Errorf("reason %q without a detail", res.reason)
			}
			if res.dns != tc.wantDNS {
				t.Errorf("dns = %v, want %v", res.dns, tc.wantDNS)
			}
		})
	}
}
