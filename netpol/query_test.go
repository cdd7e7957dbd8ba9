package netpol

import (
	"slices"
	"testing"

	"github.com/flowguard/flowguard/flows"
)

func TestQueries(t *testing.T) {
	c := mustCluster(t, world, knp("deny", "  podSelector: {}\n  policyTypes: [Ingress]\n"),
		gnp("g", "  selector: app == 'web'\n  types: [Ingress, Egress]\n"),
		np("p", "  selector: app == 'web'\n  ingress: [{action: Allow, source: {selector: app == 'x'}}]\n"))
	e := NewEngine(c)
	web := WorkloadEndpoint(WorkloadRef{Kind: "Deployment", Namespace: "prod", Name: "web"})
	var names []string
	for _, p := range e.Policies(web, Ingress) {
		names = append(names, p.Ref.Name)
	}
	if !slices.Equal(names, []string{"deny", "g", "p"}) {
		t.Errorf("ingress policies of web = %v, want deny (order 1000), then g and p (no order: last, by name)", names)
	}
	if got := e.Policies(web, Egress); len(got) != 1 || got[0].Ref.Name != "g" {
		t.Errorf("egress policies of web = %v", got)
	}
	agg := FlowEndpoint(flowsEndpoint("prod", "web-5d8f7c9b6-*"))
	if w := e.Resolve(agg); w == nil || w.WorkloadRef != (WorkloadRef{"Deployment", "prod", "web"}) {
		t.Errorf("aggregated name resolved to %v", w)
	}
	if !e.Selects(c.Policy(PolicyRef{KindGlobalNetworkPolicy, "", "g"}), agg) {
		t.Error("g does not select the flow's endpoint")
	}
	scope, ns := c.Policy(PolicyRef{KindNetworkPolicy, "prod", "p"}).Rules[Ingress][0].Src.Scope()
	if scope != "own" || ns != "prod" {
		t.Errorf("scope = %s %s, want own prod", scope, ns)
	}
}

func flowsEndpoint(ns, name string) flows.Endpoint {
	return flows.Endpoint{Type: flows.TypeWorkload, Namespace: ns, Name: name}
}

// Flow names resolve to the workloads they aggregate.
func TestResolveFlowNames(t *testing.T) {
	c := mustCluster(t, world,
		"apiVersion: v1\nkind: Pod\nmetadata: {name: worker-7c9d5-abcde, generateName: worker-7c9d5-, namespace: prod, labels: {app: worker}}\nspec: {containers: [{name: c, image: c}]}\n",
		"apiVersion: batch/v1\nkind: CronJob\nmetadata: {name: report, namespace: prod}\nspec:\n  schedule: '@daily'\n  jobTemplate:\n    spec:\n      template:\n        metadata: {labels: {app: report}}\n        spec: {restartPolicy: Never, containers: [{name: c, image: c}]}\n")
	e := NewEngine(c)
	tests := map[string]struct {
		ns, name string
		want     string
	}{
		"a Deployment's pods by ReplicaSet hash":               {ns: "prod", name: "web-5d8f7c9b6-*", want: "prod/web[Deployment]"},
		"a StatefulSet pod by ordinal":                         {ns: "prod", name: "db-0", want: "prod/db[StatefulSet]"},
		"a DaemonSet's pods":                                   {ns: "ops", name: "agent-*", want: "ops/agent[DaemonSet]"},
		"a CronJob's pods by job index":                        {ns: "prod", name: "report-28765432-*", want: "prod/report[CronJob]"},
		"a pod found by its generateName":                      {ns: "prod", name: "worker-7c9d5-*", want: "prod/worker-7c9d5-abcde[Pod]"},
		"a standalone pod by name":                             {ns: "prod", name: "client", want: "prod/client[Pod]"},
		"an unknown name resolves to nothing":                  {ns: "prod", name: "ghost-6b7c8d9e-*", want: "<nil>"},
		"a namespace without the workload resolves to nothing": {ns: "dev", name: "web-5d8f7c9b6-*", want: "<nil>"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got := "<nil>"
			if w := e.Resolve(FlowEndpoint(flowsEndpoint(tc.ns, tc.name))); w != nil {
				got = w.String()
			}
			if got != tc.want {
				t.Errorf("resolved to %s, want %s", got, tc.want)
			}
		})
	}
}
