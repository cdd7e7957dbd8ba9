package recommend

import (
	"maps"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestStableLabels(t *testing.T) {
	cases := map[string]struct {
		labels, want map[string]string
		extra        []string
	}{
		"Deployment pods keep their app label, never the ReplicaSet hash": {
			labels: labelMap("app=api", "pod-template-hash=5f6b7c8d9"),
			want:   labelMap("app=api"),
		},
		"StatefulSet revision, pod name and ordinal are dropped": {
			labels: labelMap("app=db", "controller-revision-hash=db-7c9", "statefulset.kubernetes.io/pod-name=db-0", "apps.kubernetes.io/pod-index=0"),
			want:   labelMap("app=db"),
		},
		"Job and CronJob run labels, old and batch.kubernetes.io forms, are dropped": {
			labels: labelMap("app=report", "job-name=report-28934", "controller-uid=3f2a", "batch.kubernetes.io/job-name=report-28934", "batch.kubernetes.io/controller-uid=3f2a"),
			want:   labelMap("app=report"),
		},
		"chart and application versions change on upgrade": {
			labels: labelMap("app.kubernetes.io/name=cart", "app.kubernetes.io/instance=shop", "app.kubernetes.io/version=1.4.2", "helm.sh/chart=cart-0.3.1"),
			want:   labelMap("app.kubernetes.io/name=cart", "app.kubernetes.io/instance=shop"),
		},
		"Calico's automatic labels never select pods": {
			labels: labelMap("app=api", "projectcalico.org/namespace=shop", "projectcalico.org/orchestrator=k8s"),
			want:   labelMap("app=api"),
		},
		"extra volatile keys and prefixes from the options": {
			labels: labelMap("app=api", "rollout-id=42", "deploy.example.com/sha=abc"),
			extra:  []string{"rollout-id", "deploy.example.com/"},
			want:   labelMap("app=api"),
		},
		"a pod with only volatile labels has no stable label": {
			labels: labelMap("pod-template-hash=5f6b7c8d9"),
			want:   map[string]string{},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got := newVolatility(tc.extra).stable(tc.labels)
			if !maps.Equal(got, tc.want) {
				t.Errorf("stable(%v) = %v, want %v", tc.labels, got, tc.want)
			}
		})
	}
}

func TestDistinguish(t *testing.T) {
	cases := map[string]struct {
		stable     map[string]string
		others     []map[string]string
		wantK8s    string
		wantCalico string
	}{
		"a lone workload is selected by its name label": {
			stable:     labelMap("app=api", "tier=backend", "team=payments"),
			wantCalico: "app == 'api'",
		},
		"the well-known name label is preferred over others": {
			stable:     labelMap("team=payments", "app.kubernetes.io/name=cart", "app.kubernetes.io/instance=shop"),
			wantCalico: "app.kubernetes.io/name == 'cart'",
		},
		"a second label is added only when the first does not tell workloads apart": {
			stable:     labelMap("app.kubernetes.io/name=cart", "app.kubernetes.io/instance=blue"),
			others:     []map[string]string{labelMap("app.kubernetes.io/name=cart", "app.kubernetes.io/instance=green")},
			wantCalico: "app.kubernetes.io/instance == 'blue' && app.kubernetes.io/name == 'cart'",
		},
		"a workload whose labels are a subset of another's excludes it by a key it lacks": {
			stable:     labelMap("app=web"),
			others:     []map[string]string{labelMap("app=web", "track=canary")},
			wantCalico: "app == 'web' && !has(track)",
			wantK8s:    "app=web,!track",
		},
		"the superset workload needs no exclusion": {
			stable:     labelMap("app=web", "track=canary"),
			others:     []map[string]string{labelMap("app=web")},
			wantCalico: "app == 'web' && track == 'canary'",
		},
		"the key eliminating most others is taken first": {
			stable: labelMap("app=web", "tier=frontend", "zone=a"),
			others: []map[string]string{
				labelMap("app=web", "tier=frontend", "zone=b"),
				labelMap("app=web", "tier=backend", "zone=b"),
			},
			wantCalico: "app == 'web' && zone == 'a'",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			sel := distinguish(tc.stable, tc.others)
			if got := sel.calico(); got != tc.wantCalico {
				t.Errorf("calico selector = %q, want %q", got, tc.wantCalico)
			}
			if tc.wantK8s != "" {
				ls := sel.kubernetes()
				if got := metav1.FormatLabelSelector(&ls); got != tc.wantK8s {
					t.Errorf("podSelector = %q, want %q", got, tc.wantK8s)
				}
			}
			// Whatever the selector, it picks this workload's pods and none of the others'.
			if !sel.matches(tc.stable) {
				t.Errorf("selector %q does not select its own workload %v", sel.calico(), tc.stable)
			}
			for _, o := range tc.others {
				if sel.matches(o) {
					t.Errorf("selector %q also selects %v", sel.calico(), o)
				}
			}
		})
	}
}
