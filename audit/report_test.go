package audit

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/flowguard/flowguard/api/v1alpha1"
)

var evaluatedAt = time.Date(2026, 3, 1, 3, 0, 0, 0, time.UTC)

func withFlows(n int) func(*Finding) {
	return func(f *Finding) {
		for i := range n {
			f.Evidence.Flows = append(f.Evidence.Flows, Flow{Source: "shop/frontend", Destination: "shop/api",
				Protocol: "TCP", Port: 8000 + i, Action: "allow", Count: uint64(i + 1), LastSeen: evaluatedAt})
		}
		f.Evidence.FlowsTotal = n
	}
}

func TestBuildReports(t *testing.T) {
	shopFindings := []Finding{
		finding("allow-all", "high", "NetworkPolicy", "shop", "open"),
		finding("unused-rule", "low", "NetworkPolicy", "shop", "open"),
		finding("missing-default-deny", "medium", "Namespace", "", "shop"),
	}
	global := finding("shadowed-rule", "medium", "GlobalNetworkPolicy", "", "deny-all",
		func(f *Finding) { f.Resource.APIVersion = "projectcalico.org/v3" })
	type want struct {
		ClusterListed, ClusterOmitted int32
		ClusterTotal                  int32
		NamespaceCount                int32
		Namespaces                    []string            // namespaces listed in the cluster summary
		Reports                       map[string][2]int32 // listed, omitted per namespace
	}
	tests := map[string]struct {
		result Result
		opts   ReportOptions
		want   want
	}{
		"one report per audited namespace, clean ones included; the cluster report lists cluster-scoped violations": {
			result: Result{Namespaces: []string{"clean", "shop"}, Findings: append(shopFindings, global)},
			want: want{ClusterListed: 1, ClusterTotal: 4, NamespaceCount: 2, Namespaces: []string{"shop"},
				Reports: map[string][2]int32{"clean": {0, 0}, "shop": {3, 0}}},
		},
		"the count cap lists the most severe and counts the rest": {
			result: Result{Namespaces: []string{"shop"}, Findings: shopFindings},
			opts:   ReportOptions{MaxViolations: 2},
			want: want{ClusterTotal: 3, NamespaceCount: 1, Namespaces: []string{"shop"},
				Reports: map[string][2]int32{"shop": {2, 1}}},
		},
		"a negative cap lists nothing but still counts": {
			result: Result{Namespaces: []string{"shop"}, Findings: append(shopFindings, global)},
			opts:   ReportOptions{MaxViolations: -1},
			want: want{ClusterOmitted: 1, ClusterTotal: 4, NamespaceCount: 1, Namespaces: []string{"shop"},
				Reports: map[string][2]int32{"shop": {0, 3}}},
		},
		"the byte budget stops the listing before the count cap does": {
			result: Result{Namespaces: []string{"shop"}, Findings: []Finding{
				finding("denied-traffic", "high", "Pod", "shop", "a", withFlows(10)),
				finding("denied-traffic", "high", "Pod", "shop", "b", withFlows(10)),
				finding("denied-traffic", "high", "Pod", "shop", "c", withFlows(10)),
			}},
			opts: ReportOptions{ViolationByteBudget: 1500}, // one violation with ten flows is about 1 KiB
			want: want{ClusterTotal: 3, NamespaceCount: 1, Namespaces: []string{"shop"},
				Reports: map[string][2]int32{"shop": {1, 2}}},
		},
		"the namespace list of the cluster report has a byte budget too": {
			result: Result{Namespaces: []string{"a", "b", "c"}, Findings: []Finding{
				finding("allow-all", "high", "NetworkPolicy", "a", "x"),
				finding("allow-all", "high", "NetworkPolicy", "b", "x"),
				finding("unused-rule", "low", "NetworkPolicy", "b", "y"),
				finding("allow-all", "high", "NetworkPolicy", "c", "x"),
			}},
			opts: ReportOptions{NamespaceByteBudget: 250}, // a namespace line is about 100 bytes
			want: want{ClusterTotal: 4, NamespaceCount: 3, Namespaces: []string{"b", "a"},
				Reports: map[string][2]int32{"a": {1, 0}, "b": {2, 0}, "c": {1, 0}}},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			tc.opts.RunName, tc.opts.Schedule = "nightly-202603010300", "nightly"
			tc.result.EvaluatedAt = evaluatedAt
			SortFindings(tc.result.Findings)
			reps := BuildReports(tc.result, tc.opts)

			c := reps.Cluster
			if c.Name != tc.opts.RunName || c.Labels[v1alpha1.RunLabel] != tc.opts.RunName || c.Labels[v1alpha1.ScheduleLabel] != "nightly" {
				t.Errorf("cluster report name/labels = %s %v", c.Name, c.Labels)
			}
			s := c.Summary
			got := want{ClusterListed: s.Listed, ClusterOmitted: s.Omitted, ClusterTotal: s.Total,
				NamespaceCount: s.NamespaceCount, Reports: map[string][2]int32{}}
			for _, ns := range s.Namespaces {
				got.Namespaces = append(got.Namespaces, ns.Namespace)
			}
			if int(s.Listed) != len(c.Violations) {
				t.Errorf("cluster listed = %d, but %d violations", s.Listed, len(c.Violations))
			}
			for _, r := range reps.Namespaced {
				got.Reports[r.Namespace] = [2]int32{r.Summary.Listed, r.Summary.Omitted}
				if r.Name != tc.opts.RunName {
					t.Errorf("report in %s is named %s, want the run name", r.Namespace, r.Name)
				}
				if int(r.Summary.Listed) != len(r.Violations) || r.Summary.Listed+r.Summary.Omitted != r.Summary.Total {
					t.Errorf("report %s: listed %d + omitted %d != total %d (violations %d)", r.Namespace,
						r.Summary.Listed, r.Summary.Omitted, r.Summary.Total, len(r.Violations))
				}
				if (r.Summary.Omitted > 0) != strings.Contains(r.Summary.OmittedNote, "--namespace "+r.Namespace) {
					t.Errorf("report %s: omitted %d but note %q", r.Namespace, r.Summary.Omitted, r.Summary.OmittedNote)
				}
			}
			if int(s.NamespaceCount)-len(s.Namespaces) < int(s.NamespacesOmitted) {
				t.Errorf("namespaces omitted %d exceeds what is missing", s.NamespacesOmitted)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("reports mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// TestBuildReportsTenThousandFindings shows that a run with ten thousand findings in one
// namespace and ten thousand cluster-scoped ones yields objects far below etcd's 1.5 MiB limit,
// with every count exact.
func TestBuildReportsTenThousandFindings(t *testing.T) {
	var fs []Finding
	for i := range 10_000 {
		sev := severities[i%len(severities)]
		fs = append(fs,
			finding("denied-traffic", sev, "Pod", "busy", fmt.Sprintf("pod-%05d", i), withFlows(30),
				func(f *Finding) { f.Message = strings.Repeat("long message ", 300) }),
			finding("shadowed-rule", sev, "GlobalNetworkPolicy", "", fmt.Sprintf("gnp-%05d", i)))
	}
	SortFindings(fs)
	reps := BuildReports(Result{EvaluatedAt: evaluatedAt, Namespaces: []string{"busy"}, Findings: fs},
		ReportOptions{RunName: "r", MaxViolations: MaxViolationsLimit})
	const limit = 1 << 20 // a margin of half a MiB below etcd's 1.5 MiB
	wantCounts := counts(4000, 4000, 4000, 4000, 4000)
	if got := reps.Cluster.Summary.BySeverity; got != wantCounts || reps.Cluster.Summary.Total != 20_000 {
		t.Errorf("cluster counts = %+v total %d, want %+v total 20000", got, reps.Cluster.Summary.Total, wantCounts)
	}
	objs := []any{reps.Cluster}
	for _, r := range reps.Namespaced {
		objs = append(objs, r)
		if got := r.Summary.BySeverity; got != counts(2000, 2000, 2000, 2000, 2000) || r.Summary.Total != 10_000 {
			t.Errorf("namespace counts = %+v total %d", got, r.Summary.Total)
		}
		if r.Summary.Listed+r.Summary.Omitted != 10_000 || r.Summary.Omitted == 0 {
			t.Errorf("listed %d + omitted %d, want 10000 with some omitted", r.Summary.Listed, r.Summary.Omitted)
		}
		if r.Violations[0].Severity != "critical" {
			t.Errorf("first listed violation is %s, want the most severe", r.Violations[0].Severity)
		}
	}
	for _, o := range objs {
		b, err := json.Marshal(o)
		if err != nil {
			t.Fatal(err)
		}
		if len(b) > limit {
			t.Errorf("%T is %d bytes, over %d", o, len(b), limit)
		}
	}
}
