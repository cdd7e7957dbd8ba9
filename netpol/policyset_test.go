package netpol

import (
	"fmt"
	"maps"
	"slices"
	"testing"

	"k8s.io/apimachinery/pkg/runtime"
)

// A derived engine's policy sets are what buildPolicySet makes of its cluster (same order,
// same index buckets), obtained by sharing the parent's set, deriving it with one policy
// replaced, or rebuilding it, as the change requires.
func TestDerivedPolicySets(t *testing.T) {
	const (
		same    = "shared with the parent"
		derived = "derived from the parent's"
		rebuilt = "rebuilt"
	)
	start := []string{
		knp("deny", "  podSelector: {}\n  policyTypes: [Ingress]\n"),
		knp("web", "  podSelector: {matchLabels: {app: web}}\n  ingress: [{}]\n"),
		np("early", "  order: 10\n  selector: app == 'api'\n  ingress: [{action: Allow}]\n"),
		np("late", "  order: 2000\n  selector: all()\n  egress: [{action: Deny}]\n"),
		gnp("everyone", "  order: 5\n  selector: all()\n  ingress: [{action: Pass}]\n"),
		tier("security", "  order: 100\n"),
		gnp("security.first", "  tier: security\n  order: 1\n  selector: tier == 'backend'\n  ingress: [{action: Deny}]\n"),
	}
	staged := func(action string) string {
		return "apiVersion: projectcalico.org/v3\nkind: StagedNetworkPolicy\nmetadata: {name: early, namespace: prod}\n" +
			"spec:\n  stagedAction: " + action + "\n  order: 3000\n  selector: app == 'web'\n  ingress: [{action: Deny}]\n"
	}
	tests := map[string]struct {
		op       Operation
		old, new string
		// enforced and pending say how each view's set is obtained.
		enforced, pending string
	}{
		"create a policy that sorts between others": {op: Create,
			new: np("middle", "  order: 500\n  selector: app == 'web'\n  ingress: [{action: Allow}]\n"), enforced: derived, pending: derived},
		"create a policy indexed by the same requirement as another": {op: Create,
			new: knp("web2", "  podSelector: {matchLabels: {app: web}}\n  egress: [{}]\n"), enforced: derived, pending: derived},
		"delete the policy evaluated first": {op: Delete,
			old:      gnp("security.first", "  tier: security\n  order: 1\n  selector: tier == 'backend'\n  ingress: [{action: Deny}]\n"),
			enforced: derived, pending: derived},
		"delete the only policy of a namespace scope bucket": {op: Delete, old: knp("deny", "  podSelector: {}\n  policyTypes: [Ingress]\n"),
			enforced: derived, pending: derived},
		"reorder a policy past the others": {op: Update, old: start[2],
			new: np("early", "  order: 9000\n  selector: app == 'api'\n  ingress: [{action: Allow}]\n"), enforced: derived, pending: derived},
		"create a policy in a tier no policy used": {op: Create,
			new: gnp("audit.watch", "  tier: audit\n  selector: all()\n  ingress: [{action: Log}]\n"), enforced: derived, pending: derived},
		"stage a replacement: the pending view only": {op: Create, new: staged("Set"), enforced: same, pending: derived},
		"stage a deletion: the pending view only":    {op: Create, new: staged("Delete"), enforced: same, pending: derived},
		"stage an ignored policy: neither view":      {op: Create, new: staged("Ignore"), enforced: same, pending: same},
		"relabel a namespace: policies untouched": {op: Update,
			new: "apiVersion: v1\nkind: Namespace\nmetadata: {name: prod, labels: {env: staging}}\n", enforced: same, pending: same},
		"reorder a tier: whole tiers move": {op: Update, old: start[5], new: tier("security", "  order: 3000000\n"),
			enforced: rebuilt, pending: rebuilt},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			parent := NewEngine(mustCluster(t, append([]string{world}, start...)...))
			child, err := parent.WithChange(tc.op, decodeOrNil(t, tc.old), decodeOrNil(t, tc.new))
			if err != nil {
				t.Fatal(err)
			}
			for v, want := range map[view]string{viewEnforced: tc.enforced, viewPending: tc.pending} {
				ps, pps := child.policies(v), parent.policies(v)
				got := rebuilt
				switch {
				case ps == pps:
					got = same
				case ps.from == pps:
					got = derived
				}
				if got != want {
					t.Errorf("view %d: the set is %s, want %s", v, got, want)
				}
				full := buildPolicySet(child.cluster, v)
				if a, b := refsOf(ps.sorted()), refsOf(full.sorted()); !slices.Equal(a, b) {
					t.Errorf("view %d: policies %v, a rebuilt set's %v", v, a, b)
				}
				if a, b := bucketsOf(ps), bucketsOf(full); !maps.Equal(a, b) {
					t.Errorf("view %d: index %v, a rebuilt set's %v", v, a, b)
				}
			}
		})
	}
}

func decodeOrNil(t *testing.T, doc string) runtime.Object {
	if doc == "" {
		return nil
	}
	return decodeAny(t, doc)
}

// sorted lists the set's policies in evaluation order.
func (ps *policySet) sorted() []*Policy {
	var out []*Policy
	for _, sc := range ps.scopes.all() {
		out = append(out, sc.rest...)
		for _, list := range sc.byReq {
			out = append(out, list...)
		}
	}
	slices.SortFunc(out, ps.compare)
	return out
}

func refsOf(ps []*Policy) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.Ref.String()
	}
	return out
}

// bucketsOf renders a set's index: per scope and requirement, the policies in it, sorted.
func bucketsOf(ps *policySet) map[string]string {
	out := map[string]string{}
	for ns, sc := range ps.scopes.all() {
		if len(sc.rest) > 0 {
			out[ns+" rest"] = sortedRefs(sc.rest)
		}
		for r, list := range sc.byReq {
			out[ns+" "+r.Key+"="+r.Value] = sortedRefs(list)
		}
	}
	return out
}

func sortedRefs(ps []*Policy) string {
	refs := refsOf(ps)
	slices.Sort(refs)
	return fmt.Sprint(refs)
}
