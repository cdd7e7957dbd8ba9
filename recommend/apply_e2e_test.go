//go:build e2e

package recommend

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/flowguard/flowguard/test/cluster"
)

// TestRecommendationAppliesWithKubectl applies recommendations, in both styles and both
// output formats, with the real kubectl to a real API server (Calico's CRDs installed), so
// the server's own validation of NetworkPolicy, Tier and StagedNetworkPolicy judges them.
func TestRecommendationAppliesWithKubectl(t *testing.T) {
	c := cluster.StartForTest(t, cluster.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	s := genScenario(3)
	for _, o := range s.objs {
		if ns, ok := o.(*corev1.Namespace); ok && ns.Name != "kube-system" {
			if _, err := c.Kubectl(ctx, "create", "namespace", ns.Name); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, style := range Styles {
		r, err := Recommend(ctx, newCluster(t, s.objs...), newGraph(t, s.recs...), Options{Style: style})
		if err != nil {
			t.Fatal(err)
		}
		for _, format := range []string{"yaml", "json"} {
			t.Run(string(style)+"/"+format, func(t *testing.T) {
				var buf bytes.Buffer
				if format == "json" {
					err = WriteJSON(&buf, r.Objects())
				} else {
					err = WriteYAML(&buf, r.Objects(), []string{"recommended by flowguard"})
				}
				if err != nil {
					t.Fatal(err)
				}
				out, err := c.KubectlStdin(ctx, buf.String(), "apply", "--server-side", "--field-manager", "flowguard", "-f", "-")
				if err != nil {
					t.Fatalf("%v\n%s", err, buf.String())
				}
				if n := strings.Count(out, "serverside-applied"); n != len(r.Objects()) {
					t.Errorf("kubectl applied %d objects, want %d:\n%s", n, len(r.Objects()), out)
				}
			})
		}
	}
}
