package webhook

import (
	"testing"

	admissionv1 "k8s.io/api/admission/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// TestRoute documents which operations on which kinds can change traffic.
func TestRoute(t *testing.T) {
	const c, u, d = "C", "U", "D"
	tests := map[string]struct {
		gk   schema.GroupKind
		want string // operations checked; "" means not handled
		name string
	}{
		"Kubernetes NetworkPolicy: all three":          {gk: schema.GroupKind{Group: "networking.k8s.io", Kind: "NetworkPolicy"}, want: c + u + d, name: "NetworkPolicy"},
		"Calico NetworkPolicy: all three":              {gk: schema.GroupKind{Group: "projectcalico.org", Kind: "NetworkPolicy"}, want: c + u + d, name: "projectcalico.org/NetworkPolicy"},
		"Calico GlobalNetworkPolicy":                   {gk: schema.GroupKind{Group: "projectcalico.org", Kind: "GlobalNetworkPolicy"}, want: c + u + d, name: "projectcalico.org/GlobalNetworkPolicy"},
		"Calico StagedNetworkPolicy":                   {gk: schema.GroupKind{Group: "projectcalico.org", Kind: "StagedNetworkPolicy"}, want: c + u + d, name: "projectcalico.org/StagedNetworkPolicy"},
		"Calico StagedGlobalNetworkPolicy":             {gk: schema.GroupKind{Group: "projectcalico.org", Kind: "StagedGlobalNetworkPolicy"}, want: c + u + d, name: "projectcalico.org/StagedGlobalNetworkPolicy"},
		"Calico StagedKubernetesNetworkPolicy":         {gk: schema.GroupKind{Group: "projectcalico.org", Kind: "StagedKubernetesNetworkPolicy"}, want: c + u + d, name: "projectcalico.org/StagedKubernetesNetworkPolicy"},
		"Calico NetworkSet":                            {gk: schema.GroupKind{Group: "projectcalico.org", Kind: "NetworkSet"}, want: c + u + d, name: "projectcalico.org/NetworkSet"},
		"Calico GlobalNetworkSet":                      {gk: schema.GroupKind{Group: "projectcalico.org", Kind: "GlobalNetworkSet"}, want: c + u + d, name: "projectcalico.org/GlobalNetworkSet"},
		"Calico Tier":                                  {gk: schema.GroupKind{Group: "projectcalico.org", Kind: "Tier"}, want: c + u + d, name: "projectcalico.org/Tier"},
		"Namespace: only label updates":                {gk: schema.GroupKind{Kind: "Namespace"}, want: u, name: "Namespace"},
		"Pod: create and label updates":                {gk: schema.GroupKind{Kind: "Pod"}, want: c + u, name: "Pod"},
		"Deployment":                                   {gk: schema.GroupKind{Group: "apps", Kind: "Deployment"}, want: c + u, name: "Deployment"},
		"StatefulSet":                                  {gk: schema.GroupKind{Group: "apps", Kind: "StatefulSet"}, want: c + u, name: "StatefulSet"},
		"DaemonSet":                                    {gk: schema.GroupKind{Group: "apps", Kind: "DaemonSet"}, want: c + u, name: "DaemonSet"},
		"ReplicaSet":                                   {gk: schema.GroupKind{Group: "apps", Kind: "ReplicaSet"}, want: c + u, name: "ReplicaSet"},
		"ReplicationController":                        {gk: schema.GroupKind{Kind: "ReplicationController"}, want: c + u, name: "ReplicationController"},
		"Job":                                          {gk: schema.GroupKind{Group: "batch", Kind: "Job"}, want: c + u, name: "Job"},
		"CronJob":                                      {gk: schema.GroupKind{Group: "batch", Kind: "CronJob"}, want: c + u, name: "CronJob"},
		"RegoRule: compile on create and update":       {gk: schema.GroupKind{Group: "flowguard.dev", Kind: "RegoRule"}, want: c + u, name: "flowguard.dev/RegoRule"},
		"crd.projectcalico.org is Calico's storage":    {gk: schema.GroupKind{Group: "crd.projectcalico.org", Kind: "NetworkPolicy"}},
		"a Service moves no selector":                  {gk: schema.GroupKind{Kind: "Service"}},
		"a NetworkPolicy of another group is not ours": {gk: schema.GroupKind{Group: "example.com", Kind: "NetworkPolicy"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			k, ok := route(tc.gk)
			got := ""
			for _, op := range []struct {
				op admissionv1.Operation
				s  string
			}{{admissionv1.Create, c}, {admissionv1.Update, u}, {admissionv1.Delete, d}} {
				if ok && k.wants(op.op) {
					got += op.s
				}
			}
			if got != tc.want || k.name != tc.name {
				t.Errorf("route(%v) = %q %q, want %q %q", tc.gk, k.name, got, tc.name, tc.want)
			}
			if ok && k.wants(admissionv1.Connect) {
				t.Error("CONNECT is never checked")
			}
		})
	}
}
