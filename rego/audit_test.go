package rego

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/flowguard/flowguard/flows"
	"github.com/flowguard/flowguard/netpol"
)

// shopState loads the shop fixture: the cluster of testdata/shop/cluster and its flow log, with
// the window ending at the newest record.
func shopState(t *testing.T) State {
	t.Helper()
	cluster, err := netpol.Load("testdata/shop/cluster")
	if err != nil {
		t.Fatal(err)
	}
	g, err := flows.NewGraph(flows.GraphOptions{Retention: -1})
	if err != nil {
		t.Fatal(err)
	}
	var newest time.Time
	app := g.NewAppender(0)
	err = flows.NewReader(&flows.Tally{}).ReadPaths(context.Background(), []string{"testdata/shop/flows.jsonl"}, func(r *flows.Record) error {
		if r.End.After(newest) {
			newest = r.End
		}
		return app.Add(r)
	})
	app.Flush()
	if err != nil {
		t.Fatal(err)
	}
	return NewStaticState(cluster, g, newest)
}

func TestAuditFindsWhatTheShopHides(t *testing.T) {
	e, err := NewEngine(shopState(t), Options{})
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string]struct {
		scope AuditScope
		want  []string // "rule kind ns/name"
	}{
		"the whole cluster": {want: []string{
			"allow-all NetworkPolicy shop/frontend-open",
			"denied-traffic Namespace /shop",
			"missing-default-deny Namespace /monitoring",
			"missing-default-deny Namespace /payments",
			"unprotected-workload Deployment payments/gateway",
			"wider-than-observed NetworkPolicy shop/frontend-open",
		}},
		"one namespace": {scope: AuditScope{Namespaces: []string{"payments"}}, want: []string{
			"missing-default-deny Namespace /payments",
			"unprotected-workload Deployment payments/gateway",
		}},
		"some rules": {scope: AuditScope{Rules: []string{"allow-all", "denied-traffic"}}, want: []string{
			"allow-all NetworkPolicy shop/frontend-open",
			"denied-traffic Namespace /shop",
		}},
		"one object": {scope: AuditScope{Objects: []ResourceRef{{APIVersion: "networking.k8s.io/v1", Kind: "NetworkPolicy", Namespace: "shop", Name: "frontend-open"}}}, want: []string{
			"allow-all NetworkPolicy shop/frontend-open",
			"wider-than-observed NetworkPolicy shop/frontend-open",
		}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			res, err := e.Audit(context.Background(), tc.scope)
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Errors) > 0 || len(res.Skipped) > 0 {
				t.Fatalf("errors %v, skipped %v", res.Errors, res.Skipped)
			}
			var got []string
			for _, v := range res.Violations {
				got = append(got, v.Rule.ID+" "+v.Resource.Kind+" "+v.Resource.Namespace+"/"+v.Resource.Name)
			}
			slices.Sort(got)
			if !slices.Equal(got, tc.want) {
				t.Errorf("findings:\n%q\nwant:\n%q", got, tc.want)
			}
		})
	}
}

func TestAuditWithoutTrafficSkipsTheRulesThatNeedIt(t *testing.T) {
	cluster, err := netpol.Load("testdata/shop/cluster")
	if err != nil {
		t.Fatal(err)
	}
	e, err := NewEngine(NewStaticState(cluster, nil, time.Time{}), Options{})
	if err != nil {
		t.Fatal(err)
	}
	res, err := e.Audit(context.Background(), AuditScope{})
	if err != nil {
		t.Fatal(err)
	}
	var skipped []string
	for _, r := range res.Skipped {
		skipped = append(skipped, r.ID)
	}
	slices.Sort(skipped)
	want := []string{"denied-traffic", "staged-would-break", "unused-rule", "wider-than-observed"}
	if !slices.Equal(skipped, want) {
		t.Errorf("skipped = %q, want %q", skipped, want)
	}
	for _, v := range res.Violations {
		if v.Rule.NeedsFlows {
			t.Errorf("rule %s ran without traffic", v.Rule.ID)
		}
	}
}

// TestShadowedRuleReadsNetpolsOrder: a GlobalNetworkPolicy b-all and a NetworkPolicy a/c at
// order 1000. Felix runs a/c first ("a/default.c" < "default.b-all"), so c is not shadowed;
// b-all's second rule is shadowed by its own catch-all first rule.
func TestShadowedRuleReadsNetpolsOrder(t *testing.T) {
	cluster := netpol.NewCluster()
	err := cluster.LoadReader(strings.NewReader(`
apiVersion: v1
kind: Namespace
metadata: {name: a}
---
apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata: {name: c, namespace: a}
spec: {order: 1000, selector: all(), ingress: [{action: Allow}]}
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: b-all}
spec: {order: 1000, selector: all(), ingress: [{action: Deny}, {action: Allow, protocol: TCP}]}
`), "tie.yaml")
	if err != nil {
		t.Fatal(err)
	}
	e, err := NewEngine(NewStaticState(cluster, nil, time.Time{}), Options{})
	if err != nil {
		t.Fatal(err)
	}
	res, err := e.Audit(context.Background(), AuditScope{Rules: []string{"shadowed-rule"}})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, v := range res.Violations {
		got = append(got, v.Resource.Kind+" "+v.Resource.Namespace+"/"+v.Resource.Name+" "+v.Msg)
	}
	want := []string{"GlobalNetworkPolicy /b-all GlobalNetworkPolicy b-all: ingress rule spec.ingress[1] can never decide: " +
		"spec.ingress[0] (Deny) matches every packet, so evaluation never reaches it. If it is meant to take effect, " +
		"place it before GlobalNetworkPolicy b-all spec.ingress[0]; otherwise remove it."}
	if !slices.Equal(got, want) {
		t.Errorf("findings:\n%q\nwant:\n%q", got, want)
	}
}
