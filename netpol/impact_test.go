package netpol

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/yaml"
)

// decodeAny reads one YAML object into a typed object.
func decodeAny(t *testing.T, doc string) runtime.Object {
	t.Helper()
	ds, err := SplitDocuments(strings.NewReader(doc))
	if err != nil || len(ds) != 1 {
		t.Fatalf("want one document: %v", err)
	}
	js, err := yaml.YAMLToJSON(ds[0].Data)
	if err != nil {
		t.Fatal(err)
	}
	out := decodeDocument(js, Source{File: "change.yaml"}, nil)
	if len(out) != 1 || out[0].err != nil {
		t.Fatalf("decode: %+v", out)
	}
	return out[0].obj
}

// TestImpact: a change's impact is the connections whose verdict it changes, each with the
// verdicts before and after.
func TestImpact(t *testing.T) {
	conns := func(c *Cluster) []Connection {
		peers := []string{"prod/web", "prod/api", "prod/db", "prod/client", "dev/client", "ops/agent", "8.8.8.8"}
		var out []Connection
		for _, s := range peers {
			for _, d := range peers {
				if s == d {
					continue
				}
				src, _ := c.ParsePeer(s)
				dst, _ := c.ParsePeer(d)
				out = append(out, Connection{Src: src, Dst: dst, Packet: TCP(8080)})
			}
		}
		return out
	}
	tests := map[string]struct {
		before string
		op     Operation
		old    string
		new    string
		// want lists the changed connections as "src -> dst: before -> after".
		want []string
	}{
		"creating an ingress deny cuts every connection into the pods it selects": {
			op:  Create,
			new: knp("deny", "  podSelector: {matchLabels: {app: web}}\n  policyTypes: [Ingress]\n"),
			want: []string{
				"8.8.8.8 -> prod/web: allowed -> denied", "dev/client -> prod/web: allowed -> denied",
				"ops/agent -> prod/web: allowed -> denied", "prod/api -> prod/web: allowed -> denied",
				"prod/client -> prod/web: allowed -> denied", "prod/db -> prod/web: allowed -> denied",
			},
		},
		"creating an AdminNetworkPolicy Deny cuts what it matches, even past a Kubernetes allow": {
			before: knp("open", knpAllowAll),
			op:     Create,
			new:    anpDoc("no-dev", "  priority: 10\n"+subjectProd+"  ingress:\n  - action: Deny\n"+fromDev),
			want:   []string{"dev/client -> prod/api: allowed -> denied", "dev/client -> prod/client: allowed -> denied", "dev/client -> prod/db: allowed -> denied", "dev/client -> prod/web: allowed -> denied"},
		},
		"deleting the BaselineAdminNetworkPolicy opens what it denied": {
			before: banpDoc(subjectProdWeb + "  ingress:\n  - action: Deny\n" + fromDev),
			op:     Delete,
			old:    banpDoc(subjectProdWeb + "  ingress:\n  - action: Deny\n" + fromDev),
			// The others stay allowed, by the profile before (the BANP's tier ended in Pass) and
			// by no policy after: a change of what decides is an impact too.
			want: []string{"8.8.8.8 -> prod/web: allowed -> allowed", "dev/client -> prod/web: denied -> allowed",
				"ops/agent -> prod/web: allowed -> allowed", "prod/api -> prod/web: allowed -> allowed",
				"prod/client -> prod/web: allowed -> allowed", "prod/db -> prod/web: allowed -> allowed"},
		},
		"updating a ClusterNetworkPolicy from Baseline to Admin puts it before a Kubernetes allow": {
			before: docs(knp("open", knpAllowAll), cnpDoc("c", "  tier: Baseline\n  priority: 1\n"+subjectProdWeb+"  ingress:\n  - action: Deny\n"+fromDev)),
			op:     Update,
			old:    cnpDoc("c", "  tier: Baseline\n  priority: 1\n"+subjectProdWeb+"  ingress:\n  - action: Deny\n"+fromDev),
			new:    cnpDoc("c", "  tier: Admin\n  priority: 1\n"+subjectProdWeb+"  ingress:\n  - action: Deny\n"+fromDev),
			want:   []string{"dev/client -> prod/web: allowed -> denied"},
		},
		"deleting the policy that allowed a peer cuts that peer only": {
			before: docs(knp("deny", "  podSelector: {matchLabels: {app: web}}\n  policyTypes: [Ingress]\n"),
				knp("allow-api", "  podSelector: {matchLabels: {app: web}}\n  ingress: [{from: [{podSelector: {matchLabels: {app: api}}}]}]\n")),
			op:   Delete,
			old:  knp("allow-api", "  podSelector: {matchLabels: {app: web}}\n  ingress: [{from: [{podSelector: {matchLabels: {app: api}}}]}]\n"),
			want: []string{"prod/api -> prod/web: allowed -> denied"},
		},
		"updating a rule's port changes only the flows on that port": {
			before: knp("p", "  podSelector: {matchLabels: {app: web}}\n  ingress: [{ports: [{port: 8080}]}]\n"),
			op:     Update,
			old:    knp("p", "  podSelector: {matchLabels: {app: web}}\n  ingress: [{ports: [{port: 8080}]}]\n"),
			new:    knp("p", "  podSelector: {matchLabels: {app: web}}\n  ingress: [{ports: [{port: 8443}]}]\n"),
			want: []string{
				"8.8.8.8 -> prod/web: allowed -> denied", "dev/client -> prod/web: allowed -> denied",
				"ops/agent -> prod/web: allowed -> denied", "prod/api -> prod/web: allowed -> denied",
				"prod/client -> prod/web: allowed -> denied", "prod/db -> prod/web: allowed -> denied",
			},
		},
		"relabelling a namespace changes what namespaceSelectors admit": {
			before: knp("p", "  podSelector: {matchLabels: {app: web}}\n  ingress: [{from: [{namespaceSelector: {matchLabels: {env: dev}}}]}]\n"),
			op:     Update,
			old:    "apiVersion: v1\nkind: Namespace\nmetadata: {name: dev, labels: {env: dev}}\n",
			new:    "apiVersion: v1\nkind: Namespace\nmetadata: {name: dev, labels: {env: test}}\n",
			want:   []string{"dev/client -> prod/web: allowed -> denied"},
		},
		"relabelling a workload changes which policies select it": {
			before: knp("p", "  podSelector: {matchLabels: {tier: frontend}}\n  policyTypes: [Ingress]\n"),
			op:     Update,
			new: "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: api, namespace: prod}\nspec:\n  selector: {matchLabels: {app: api}}\n" +
				"  template:\n    metadata: {labels: {app: api, tier: frontend}}\n    spec: {serviceAccountName: api, containers: [{name: api, image: api, ports: [{name: http, containerPort: 9090}]}]}\n",
			want: []string{
				"8.8.8.8 -> prod/api: allowed -> denied", "dev/client -> prod/api: allowed -> denied",
				"ops/agent -> prod/api: allowed -> denied", "prod/client -> prod/api: allowed -> denied",
				"prod/db -> prod/api: allowed -> denied", "prod/web -> prod/api: allowed -> denied",
			},
		},
		"a tier's order decides between its Deny and a later Allow": {
			before: docs(tier("a", "  order: 10\n"), tier("b", "  order: 20\n"),
				gnp("deny", "  tier: b\n  selector: app == 'web'\n  ingress: [{action: Deny, source: {selector: app == 'api'}}]\n"),
				gnp("allow", "  tier: a\n  selector: app == 'web'\n  ingress: [{action: Allow, source: {selector: app == 'api'}}, {action: Pass}]\n")),
			op:   Update,
			old:  tier("b", "  order: 20\n"),
			new:  tier("b", "  order: 5\n"),
			want: []string{"prod/api -> prod/web: allowed -> denied"},
		},
		"creating a staged policy changes no enforced verdict": {
			op:  Create,
			new: stagedNP("deny", "  selector: all()\n  ingress: [{action: Deny}]\n"),
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			c := mustCluster(t, world, tc.before)
			before := NewEngine(c)
			var oldObj, newObj runtime.Object
			if tc.old != "" {
				oldObj = decodeAny(t, tc.old)
			}
			if tc.new != "" {
				newObj = decodeAny(t, tc.new)
			}
			after, err := before.WithChange(tc.op, oldObj, newObj)
			if err != nil {
				t.Fatal(err)
			}
			cs := conns(c)
			got := describeImpact(impactOf(t, before, after, cs))
			if !slices.Equal(got, tc.want) {
				t.Errorf("impact =\n  %v\nwant\n  %v", got, tc.want)
			}
			// The incremental answer equals evaluating every connection on unrelated engines.
			full := describeImpact(impactOf(t, NewEngine(c), NewEngine(after.Cluster()), cs))
			if !slices.Equal(got, full) {
				t.Errorf("incremental impact %v differs from full evaluation %v", got, full)
			}
		})
	}
}

func describeImpact(ics []ImpactedConnection) []string {
	word := func(v Verdict) string {
		if v.Allowed {
			return "allowed"
		}
		return "denied"
	}
	var out []string
	for _, ic := range ics {
		short := func(ep *Endpoint) string {
			if ep.Namespace == "" {
				return ep.Name
			}
			return ep.Namespace + "/" + ep.Name
		}
		out = append(out, fmt.Sprintf("%s -> %s: %s -> %s", short(ic.Src), short(ic.Dst), word(ic.Before), word(ic.After)))
	}
	slices.Sort(out)
	return out
}

// TestPendingImpact: a staged policy's impact shows in the pending verdicts.
func TestPendingImpact(t *testing.T) {
	c := mustCluster(t, world)
	before := NewEngine(c)
	after, err := before.WithChange(Create, nil, decodeAny(t, stagedNP("deny", "  selector: app == 'web'\n  ingress: [{action: Deny}]\n")))
	if err != nil {
		t.Fatal(err)
	}
	src, _ := c.ParsePeer("prod/api")
	dst, _ := c.ParsePeer("prod/web")
	got, err := PendingImpact(context.Background(), before, after, []Connection{{Src: src, Dst: dst, Packet: TCP(8080)}, {Src: dst, Dst: src, Packet: TCP(9090)}})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Index != 0 || got[0].After.Allowed || summary(got[0].After.Ingress.Hit) != "snp prod/deny#0 Deny" {
		t.Errorf("pending impact = %+v, want only prod/api -> prod/web denied by the staged policy", got)
	}
}

// impactOf is Impact under a context that never ends.
func impactOf(t testing.TB, before, after *Engine, conns []Connection) []ImpactedConnection {
	t.Helper()
	ics, err := Impact(context.Background(), before, after, conns)
	if err != nil {
		t.Fatal(err)
	}
	return ics
}

// TestImpactStopsWhenItsContextEnds checks that an abandoned impact stops within checkEvery
// connections of its context ending, rather than evaluating every one.
func TestImpactStopsWhenItsContextEnds(t *testing.T) {
	c := mustCluster(t, world)
	src, _ := c.ParsePeer("prod/api")
	dst, _ := c.ParsePeer("prod/web")
	conns := make([]Connection, 10*checkEvery)
	for i := range conns {
		conns[i] = Connection{Src: src, Dst: dst, Packet: TCP(uint16(1 + i%60000))}
	}
	// Engines built apart share no lineage, so Impact evaluates every connection.
	before, after := NewEngine(c), NewEngine(c)

	tests := map[string]struct {
		// cancelAfter is how many looks at the context succeed before it reports an end.
		cancelAfter int
		wantVisited int
	}{
		"a context already done stops before the first connection": {cancelAfter: 0, wantVisited: 0},
		"a context ending midway stops at the next look":           {cancelAfter: 3, wantVisited: 3 * checkEvery},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			ctx := &endingContext{Context: context.Background(), left: tc.cancelAfter}
			ics, err := Impact(ctx, before, after, conns)
			var stopped *ImpactStopped
			if !errors.As(err, &stopped) || !errors.Is(err, context.Canceled) {
				t.Fatalf("Impact = %d connections, %v; want it stopped by the context", len(ics), err)
			}
			if stopped.Visited != tc.wantVisited || stopped.Total != len(conns) {
				t.Errorf("visited %d of %d connections, want %d of %d", stopped.Visited, stopped.Total, tc.wantVisited, len(conns))
			}
		})
	}
}

// endingContext reports itself cancelled once Err has been asked left times: a deadline that
// passes while the work runs, reached by counting the work's looks rather than by the clock.
type endingContext struct {
	context.Context
	left int
}

func (c *endingContext) Err() error {
	if c.left == 0 {
		return context.Canceled
	}
	c.left--
	return nil
}
