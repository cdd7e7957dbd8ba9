package netpol

import (
	"slices"
	"testing"
)

// TestEvaluationOrderTies holds policies of equal order to Felix's tie-break: the backend key
// names compared as strings (order.go), not the object names.
func TestEvaluationOrderTies(t *testing.T) {
	cases := map[string]struct {
		objects string
		want    []string // FelixName in evaluation order
	}{
		"GlobalNetworkPolicy b-all and NetworkPolicy a/c at order 1000: a/c first (a/default.c < default.b-all)": {
			objects: docs(
				"apiVersion: v1\nkind: Namespace\nmetadata: {name: a}",
				"apiVersion: projectcalico.org/v3\nkind: NetworkPolicy\nmetadata: {name: c, namespace: a}\nspec:\n  order: 1000\n  selector: all()\n  ingress: [{action: Allow}]\n",
				gnp("b-all", "  order: 1000\n  selector: all()\n  ingress: [{action: Deny}]\n")),
			want: []string{"a/default.c", "default.b-all"},
		},
		"GlobalNetworkPolicy zz before NetworkPolicy default/x ('.' sorts before '/')": {
			objects: docs(
				"apiVersion: projectcalico.org/v3\nkind: NetworkPolicy\nmetadata: {name: x, namespace: default}\nspec:\n  order: 5\n  selector: all()\n  ingress: [{action: Allow}]\n",
				gnp("zz", "  order: 5\n  selector: all()\n  ingress: [{action: Deny}]\n")),
			want: []string{"default.zz", "default/default.x"},
		},
		"a Kubernetes NetworkPolicy sorts by knp.default.<name> in its namespace": {
			objects: docs(
				"apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: a, namespace: prod}\nspec: {podSelector: {}}\n",
				np("z", "  order: 1000\n  selector: all()\n  ingress: [{action: Allow}]\n")),
			want: []string{"prod/default.z", "prod/knp.default.a"},
		},
		"tiers before orders, unordered policies last": {
			objects: docs(tier("security", "  order: 100\n"),
				gnp("security.late", "  tier: security\n  selector: all()\n  ingress: [{action: Pass}]\n"),
				gnp("security.early", "  tier: security\n  order: 1\n  selector: all()\n  ingress: [{action: Pass}]\n"),
				gnp("first-in-default", "  order: 0\n  selector: all()\n  ingress: [{action: Allow}]\n")),
			want: []string{"security.early", "security.late", "default.first-in-default"},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			c := mustCluster(t, tc.objects)
			var got []string
			for _, p := range c.EvaluationOrder() {
				got = append(got, p.FelixName())
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("evaluation order = %q, want %q", got, tc.want)
			}
		})
	}
}

// TestShadowedFollowsEvaluationOrder: the shadowing analysis and the verdicts read one order.
func TestShadowedFollowsEvaluationOrder(t *testing.T) {
	c := mustCluster(t, world,
		"apiVersion: projectcalico.org/v3\nkind: NetworkPolicy\nmetadata: {name: c, namespace: prod}\nspec:\n  order: 1000\n  selector: all()\n  ingress: [{action: Allow}]\n",
		gnp("b-all", "  order: 1000\n  selector: all()\n  ingress: [{action: Deny}]\n"),
		gnp("a-all", "  order: 1000\n  selector: all()\n  ingress: [{action: Deny}]\n"))
	byName := func(ref PolicyRef) *Policy {
		p := c.Policy(ref)
		if p == nil {
			t.Fatalf("no policy %v", ref)
		}
		return p
	}
	npC := byName(PolicyRef{Kind: KindNetworkPolicy, Namespace: "prod", Name: "c"})
	bAll := byName(PolicyRef{Kind: KindGlobalNetworkPolicy, Name: "b-all"})

	// "default.a-all" < "prod/default.c": a-all decides first for pods in prod.
	if got := c.Shadowed(npC); len(got) != 1 || got[0].By.Name != "a-all" || got[0].Cause != ShadowedByPolicy {
		t.Errorf("Shadowed(prod/c) = %+v, want one rule shadowed by a-all", got)
	}
	if got := c.Shadowed(bAll); len(got) != 1 || got[0].By.Name != "a-all" {
		t.Errorf("Shadowed(b-all) = %+v, want one rule shadowed by a-all", got)
	}
	e := NewEngine(c)
	src, _ := c.ParsePeer("prod/api")
	dst, _ := c.ParsePeer("prod/web")
	pkt, err := e.ParsePort("8080", dst)
	if err != nil {
		t.Fatal(err)
	}
	if v := e.Explain(src, dst, pkt); summary(v.Ingress.Hit) != "gnp a-all#0 Deny" {
		t.Errorf("ingress decided by %q, want gnp a-all#0 Deny", summary(v.Ingress.Hit))
	}
}

// TestShadowedTie is the case that once gave a false finding: GlobalNetworkPolicy b-all and
// NetworkPolicy a/c both at order 1000. Felix evaluates a/c first, so c is not shadowed and
// c's Allow decides for pods in a.
func TestShadowedTie(t *testing.T) {
	c := mustCluster(t,
		"apiVersion: v1\nkind: Namespace\nmetadata: {name: a}",
		"apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: a, labels: {app: p}}\nspec: {containers: [{name: c, image: c}]}",
		"apiVersion: v1\nkind: Pod\nmetadata: {name: q, namespace: a, labels: {app: q}}\nspec: {containers: [{name: c, image: c}]}",
		"apiVersion: projectcalico.org/v3\nkind: NetworkPolicy\nmetadata: {name: c, namespace: a}\nspec:\n  order: 1000\n  selector: all()\n  ingress: [{action: Allow}]\n",
		gnp("b-all", "  order: 1000\n  selector: all()\n  ingress: [{action: Deny}]\n"))
	npC := c.Policy(PolicyRef{Kind: KindNetworkPolicy, Namespace: "a", Name: "c"})
	if got := c.Shadowed(npC); len(got) != 0 {
		t.Errorf("Shadowed(a/c) = %+v, want none: a/c runs before b-all", got)
	}
	e := NewEngine(c)
	src, _ := c.ParsePeer("a/q")
	dst, _ := c.ParsePeer("a/p")
	if v := e.Explain(src, dst, PacketOf(6, 80)); !v.Allowed || summary(v.Ingress.Hit) != "np a/c#0 Allow" {
		t.Errorf("verdict %v by %q, want allowed by np a/c#0 Allow", v.Allowed, summary(v.Ingress.Hit))
	}
}
