package webhook

import (
	"context"
	"strings"
	"testing"

	admissionv1 "k8s.io/api/admission/v1"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"
)

// calicoPolicy wraps rules into a namespaced Calico NetworkPolicy.
func calicoPolicy(spec string) string {
	return `
apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata: {name: api, namespace: shop}
spec:
` + spec
}

func TestValidateCalico(t *testing.T) {
	tests := map[string]struct {
		kind string
		obj  string
		want []string // every field error, in order
	}{
		"a well-formed policy passes": {
			kind: "NetworkPolicy",
			obj: calicoPolicy(`
  selector: app == 'api'
  ingress:
  - action: Allow
    protocol: TCP
    source: {selector: app == 'frontend', namespaceSelector: global()}
    destination: {ports: [8080, "9000:9100", http]}
  egress:
  - action: Pass
  - action: Log
  - action: Deny
    protocol: ICMP
    icmp: {type: 8}`),
		},
		"a selector that does not parse names its field and position": {
			kind: "NetworkPolicy",
			obj: calicoPolicy(`
  ingress:
  - action: Allow
    source: {selector: "app == 'a' &&"}`),
			want: []string{`spec.ingress[0].source.selector: Invalid value: "app == 'a' &&": position 13: expected a label, has(), all(), global(), '!' or '('`},
		},
		"ports without a protocol": {
			kind: "NetworkPolicy",
			obj: calicoPolicy(`
  ingress:
  - action: Allow
    destination: {ports: [8080]}`),
			want: []string{`spec.ingress[0].destination.ports: Invalid value: "8080": rules that specify ports must set protocol to TCP, UDP or SCTP; protocol is not set`},
		},
		"ports with a protocol that has none": {
			kind: "NetworkPolicy",
			obj: calicoPolicy(`
  egress:
  - action: Allow
    protocol: ICMP
    source: {notPorts: ["1000:2000"]}`),
			want: []string{`spec.egress[0].source.notPorts: Invalid value: "1000:2000": rules that specify ports must set protocol to TCP, UDP or SCTP; protocol ICMP has no ports`},
		},
		"ports with a protocol number that has them": {
			kind: "NetworkPolicy",
			obj: calicoPolicy(`
  egress:
  - action: Allow
    protocol: 132
    destination: {ports: [9]}`),
		},
		"global() in the policy's own selector": {
			kind: "NetworkPolicy",
			obj:  calicoPolicy(`  selector: global()`),
			want: []string{`spec.selector: Invalid value: "global()": global() can only be used in a rule's namespaceSelector`},
		},
		"global() in a rule's endpoint selector": {
			kind: "NetworkPolicy",
			obj: calicoPolicy(`
  ingress:
  - action: Allow
    source: {selector: "global() && app == 'x'"}`),
			want: []string{`spec.ingress[0].source.selector: Invalid value: "global() && app == 'x'": global() can only be used in a rule's namespaceSelector`},
		},
		"global() combined with other terms in a namespaceSelector": {
			kind: "NetworkPolicy",
			obj: calicoPolicy(`
  ingress:
  - action: Allow
    source: {namespaceSelector: "global() || env == 'prod'"}`),
			want: []string{`spec.ingress[0].source.namespaceSelector: Invalid value: "global() || env == 'prod'": global() cannot be combined with other selectors`},
		},
		"global() in a global policy's namespaceSelector": {
			kind: "GlobalNetworkPolicy",
			obj: `
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: g}
spec: {namespaceSelector: global()}`,
			want: []string{`spec.namespaceSelector: Invalid value: "global()": global() can only be used in a rule's namespaceSelector`},
		},
		"an unknown rule action": {
			kind: "NetworkPolicy",
			obj: calicoPolicy(`
  ingress:
  - action: Accept`),
			want: []string{`spec.ingress[0].action: Unsupported value: "Accept": supported values: "Allow", "Deny", "Log", "Pass"`},
		},
		"an unknown protocol": {
			kind: "NetworkPolicy",
			obj: calicoPolicy(`
  ingress:
  - action: Allow
    protocol: HTTP`),
			want: []string{`spec.ingress[0].protocol: Unsupported value: "HTTP": supported values: "TCP", "UDP", "ICMP", "ICMPv6", "SCTP", "UDPLite", "1-255"`},
		},
		"icmp matches without an ICMP protocol": {
			kind: "NetworkPolicy",
			obj: calicoPolicy(`
  ingress:
  - action: Allow
    protocol: TCP
    icmp: {type: 8}`),
			want: []string{`spec.ingress[0].icmp: Invalid value: "": icmp matches need protocol ICMP or ICMPv6`},
		},
		"services on the wrong side of a rule": {
			kind: "NetworkPolicy",
			obj: calicoPolicy(`
  ingress:
  - action: Allow
    destination: {services: {name: api}}
  egress:
  - action: Allow
    source: {services: {name: api}, selector: "app == 'x'"}`),
			want: []string{
				`spec.ingress[0].destination.services: Forbidden: services are not allowed in an ingress rule's destination`,
				`spec.egress[0].source.services: Forbidden: services cannot be combined with selector, notSelector, namespaceSelector or serviceAccounts`,
				`spec.egress[0].source.services: Forbidden: services are not allowed in an egress rule's source`,
			},
		},
		"an unknown policy type": {
			kind: "NetworkPolicy",
			obj:  calicoPolicy(`  types: [Ingress, Sideways]`),
			want: []string{`spec.types[1]: Unsupported value: "Sideways": supported values: "Ingress", "Egress"`},
		},
		"a bad CIDR in a rule": {
			kind: "NetworkPolicy",
			obj: calicoPolicy(`
  egress:
  - action: Allow
    destination: {nets: [10.0.0.0/8, 10.0.0.0/33, 192.168.1.1]}`),
			want: []string{`spec.egress[0].destination.nets[1]: Invalid value: "10.0.0.0/33": not a CIDR or IP address`},
		},
		"every problem is reported at once": {
			kind: "NetworkPolicy",
			obj: calicoPolicy(`
  selector: "app =="
  serviceAccountSelector: "role in {'a'"
  ingress:
  - action: allow
    destination: {ports: [80]}`),
			want: []string{
				`spec.selector: Invalid value: "app ==": position 6: expected a quoted string`,
				`spec.serviceAccountSelector: Invalid value: "role in {'a'": position 12: expected a quoted string or '}' to close the set`,
				`spec.ingress[0].action: Unsupported value: "allow": supported values: "Allow", "Deny", "Log", "Pass"`,
				`spec.ingress[0].destination.ports: Invalid value: "80": rules that specify ports must set protocol to TCP, UDP or SCTP; protocol is not set`,
			},
		},
		"a staged policy with an unknown staged action": {
			kind: "StagedNetworkPolicy",
			obj: `
apiVersion: projectcalico.org/v3
kind: StagedNetworkPolicy
metadata: {name: s, namespace: shop}
spec: {stagedAction: Apply, selector: "a =="}`,
			want: []string{
				`spec.stagedAction: Unsupported value: "Apply": supported values: "Set", "Delete", "Learn", "Ignore"`,
				`spec.selector: Invalid value: "a ==": position 4: expected a quoted string`,
			},
		},
		"a staged global policy is checked like a global one": {
			kind: "StagedGlobalNetworkPolicy",
			obj: `
apiVersion: projectcalico.org/v3
kind: StagedGlobalNetworkPolicy
metadata: {name: s}
spec:
  stagedAction: Delete
  egress: [{action: Deny, destination: {notSelector: "global()"}}]`,
			want: []string{`spec.egress[0].destination.notSelector: Invalid value: "global()": global() can only be used in a rule's namespaceSelector`},
		},
		"a staged Kubernetes policy with a bad selector and ipBlock": {
			kind: "StagedKubernetesNetworkPolicy",
			obj: `
apiVersion: projectcalico.org/v3
kind: StagedKubernetesNetworkPolicy
metadata: {name: s, namespace: shop}
spec:
  podSelector: {matchExpressions: [{key: app, operator: Within, values: [a]}]}
  ingress: [{from: [{ipBlock: {cidr: 10.0.0.0, except: [10.1.0.0/16, nope]}}]}]`,
			want: []string{
				`spec.podSelector.matchExpressions[0].operator: Invalid value: "Within": not a valid selector operator`,
				`spec.ingress[0].from[0].ipBlock.cidr: Invalid value: "10.0.0.0": not a CIDR`,
				`spec.ingress[0].from[0].ipBlock.except[1]: Invalid value: "nope": not a CIDR or IP address`,
			},
		},
		"a network set with a bad net": {
			kind: "NetworkSet",
			obj: `
apiVersion: projectcalico.org/v3
kind: NetworkSet
metadata: {name: partners, namespace: shop}
spec: {nets: [198.51.100.0/24, "2001:db8::/129"]}`,
			want: []string{`spec.nets[1]: Invalid value: "2001:db8::/129": not a CIDR or IP address`},
		},
		"a global network set with good nets": {
			kind: "GlobalNetworkSet",
			obj: `
apiVersion: projectcalico.org/v3
kind: GlobalNetworkSet
metadata: {name: partners}
spec: {nets: [198.51.100.0/24, "2001:db8::/64", 203.0.113.7]}`,
		},
		"a tier whose default action is not Deny or Pass": {
			kind: "Tier",
			obj: `
apiVersion: projectcalico.org/v3
kind: Tier
metadata: {name: security}
spec: {order: 100, defaultAction: Allow}`,
			want: []string{`spec.defaultAction: Unsupported value: "Allow": supported values: "Deny", "Pass"`},
		},
		"what the policy model refuses is refused too": {
			kind: "NetworkPolicy",
			obj: calicoPolicy(`
  egress:
  - action: Allow
    protocol: ICMP
    icmp: {code: 0}`),
			want: []string{`spec.egress[0].icmp.type: Required value: must be set when code is`},
		},
		"a port range that does not parse": {
			kind: "NetworkPolicy",
			obj: calicoPolicy(`
  ingress:
  - action: Allow
    protocol: TCP
    destination: {ports: ["90:80:70"]}`),
			want: []string{`spec: Invalid value: "": cannot decode NetworkPolicy:`},
		},
	}
	scheme, err := NewScheme()
	if err != nil {
		t.Fatal(err)
	}
	dec := admission.NewDecoder(scheme)
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			errs := validateCalicoObject(dec, tc.kind, rawYAML(t, tc.obj))
			if len(errs) != len(tc.want) {
				t.Fatalf("got %d errors, want %d:\n%s", len(errs), len(tc.want), errs.ToAggregate())
			}
			for i, want := range tc.want {
				if got := errs[i].Error(); !strings.HasPrefix(got, want) {
					t.Errorf("error %d:\n got %s\nwant %s", i, got, want)
				}
			}
		})
	}
}

// Through the handler, structural errors refuse with 422 Invalid and the rules never run.
func TestHandlerRefusesInvalidCalicoObjects(t *testing.T) {
	d := &ruleDecider{rules: testRules(), graphLoaded: true}
	h, _ := newTestHandler(t, d, DefaultConfig("flowguard-system"))
	bad := calicoPolicy(`
  ingress:
  - action: Allow
    source: {selector: "app == 'a' && tier = 'x'"}`)

	resp := h.Handle(context.Background(), newRequest(t, gvkCalicoPolicy, admissionv1.Create, bad, ""))
	want := `NetworkPolicy.projectcalico.org "api" is invalid: spec.ingress[0].source.selector: Invalid value: "app == 'a' && tier = 'x'": position 19:`
	assertResponse(t, resp, false, 422, []string{want}, nil)
	if len(d.called()) != 0 {
		t.Error("rules ran over a structurally invalid object")
	}
	if resp.Result.Details == nil || len(resp.Result.Details.Causes) != 1 || resp.Result.Details.Causes[0].Field != "spec.ingress[0].source.selector" {
		t.Errorf("causes = %+v, want one naming spec.ingress[0].source.selector", resp.Result.Details)
	}

	// Deleting a malformed object is not refused for its form.
	h, _ = newTestHandler(t, &ruleDecider{graphLoaded: true}, DefaultConfig("flowguard-system"))
	resp = h.Handle(context.Background(), newRequest(t, gvkCalicoPolicy, admissionv1.Delete, "", bad))
	assertResponse(t, resp, true, 200, nil, nil)
}
