package flows

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParsePolicyHit(t *testing.T) {
	tests := map[string]struct {
		in        string
		want      PolicyHit
		shortName string
		staged    bool
	}{
		"older: Calico NetworkPolicy in a tier, named <ns>/<tier>.<name>": {
			in:   "0|tier1|ns1/tier1.policy1|pass|3",
			want: PolicyHit{Index: 0, Tier: "tier1", Kind: "np", Namespace: "ns1", Name: "tier1.policy1", Action: "pass", RuleIndex: 3}, shortName: "policy1",
		},
		"older: GlobalNetworkPolicy, named <tier>.<name>": {
			in:   "1|default|default.allow-dns|allow|0",
			want: PolicyHit{Index: 1, Tier: "default", Kind: "gnp", Name: "default.allow-dns", Action: "allow"}, shortName: "allow-dns",
		},
		"older: Kubernetes NetworkPolicy, named <ns>/knp.default.<name>": {
			in:   "2|default|shop/knp.default.api-ingress|deny|-1",
			want: PolicyHit{Index: 2, Tier: "default", Kind: "knp", Namespace: "shop", Name: "api-ingress", Action: "deny", RuleIndex: -1}, shortName: "api-ingress",
		},
		"older: staged Kubernetes NetworkPolicy": {
			in:   "0|default|shop/staged:knp.default.lock|deny|0",
			want: PolicyHit{Tier: "default", Kind: "sknp", Namespace: "shop", Name: "lock", Action: "deny"}, shortName: "lock", staged: true,
		},
		"older: staged Calico NetworkPolicy, named <ns>/<tier>.staged:<name>": {
			in:   "1|tier1|ns1/tier1.staged:quarantine|deny|2",
			want: PolicyHit{Index: 1, Tier: "tier1", Kind: "snp", Namespace: "ns1", Name: "quarantine", Action: "deny", RuleIndex: 2}, shortName: "quarantine", staged: true,
		},
		"older: staged GlobalNetworkPolicy, named <tier>.staged:<name>": {
			in:   "1|tier1|tier1.staged:lockdown|deny|0",
			want: PolicyHit{Index: 1, Tier: "tier1", Kind: "sgnp", Name: "lockdown", Action: "deny"}, shortName: "lockdown", staged: true,
		},
		"older: profile of a namespace": {
			in:   "1|__PROFILE__|__PROFILE__.kns.curl-ns|allow|0",
			want: PolicyHit{Index: 1, Tier: "__PROFILE__", Kind: "pro", Name: "kns.curl-ns", Action: "allow"}, shortName: "kns.curl-ns",
		},
		"older: AdminNetworkPolicy": {
			in:   "0|adminnetworkpolicy|kanp.adminnetworkpolicy.block-egress|deny|1",
			want: PolicyHit{Tier: "adminnetworkpolicy", Kind: "kanp", Name: "block-egress", Action: "deny", RuleIndex: 1}, shortName: "block-egress",
		},
		"newer: namespaced Calico policy": {
			in:   "0|tier|np:namespace/name|allow|1",
			want: PolicyHit{Tier: "tier", Kind: "np", Namespace: "namespace", Name: "name", Action: "allow", RuleIndex: 1}, shortName: "name",
		},
		"newer: a name that still carries its tier prefix": {
			in:   "0|tier1|np:default/tier1.np1-1|pass|0",
			want: PolicyHit{Tier: "tier1", Kind: "np", Namespace: "default", Name: "tier1.np1-1", Action: "pass"}, shortName: "np1-1",
		},
		"newer: global policy with dots in its name": {
			in:   "1|tier|sgnp:name.with.dots|deny|2",
			want: PolicyHit{Index: 1, Tier: "tier", Kind: "sgnp", Name: "name.with.dots", Action: "deny", RuleIndex: 2}, shortName: "name.with.dots", staged: true,
		},
		"newer: ClusterNetworkPolicy in the admin tier": {
			in:   "3|kube-admin|kcnp:name|pass|4",
			want: PolicyHit{Index: 3, Tier: "kube-admin", Kind: "kcnp", Name: "name", Action: "pass", RuleIndex: 4}, shortName: "name",
		},
		"newer: Kubernetes policy": {
			in:   "0|default|knp:namespace/name|allow|2",
			want: PolicyHit{Tier: "default", Kind: "knp", Namespace: "namespace", Name: "name", Action: "allow", RuleIndex: 2}, shortName: "name",
		},
		"newer: staged Kubernetes policy": {
			in:   "1|default|sknp:namespace/name.with.dots|deny|3",
			want: PolicyHit{Index: 1, Tier: "default", Kind: "sknp", Namespace: "namespace", Name: "name.with.dots", Action: "deny", RuleIndex: 3}, shortName: "name.with.dots", staged: true,
		},
		"newer: profile of a service account": {
			in:   "1|__PROFILE__|pro:ksa.svcacct|allow|0",
			want: PolicyHit{Index: 1, Tier: "__PROFILE__", Kind: "pro", Name: "ksa.svcacct", Action: "allow"}, shortName: "ksa.svcacct",
		},
		"newer: end of tier names the policy that selected the endpoint": {
			in:   "0|tier2|snp:default/np2-1|deny|-1",
			want: PolicyHit{Tier: "tier2", Kind: "snp", Namespace: "default", Name: "np2-1", Action: "deny", RuleIndex: -1}, shortName: "np2-1", staged: true,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := ParsePolicyHit(tc.in)
			if err != nil {
				t.Fatalf("ParsePolicyHit(%q): %v", tc.in, err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			if got.ShortName() != tc.shortName {
				t.Errorf("ShortName() = %q, want %q", got.ShortName(), tc.shortName)
			}
			if got.Staged() != tc.staged {
				t.Errorf("Staged() = %v, want %v", got.Staged(), tc.staged)
			}
			// The newer naming is a fixed point: printing and parsing again gives the same hit.
			again, err := ParsePolicyHit(got.String())
			if err != nil || !cmp.Equal(again, got) {
				t.Errorf("round trip through %q: got %+v, %v", got.String(), again, err)
			}
		})
	}
}

func TestParsePolicyHitRefuses(t *testing.T) {
	tests := map[string]string{
		"rule index is not an integer":   "1|tier|sgnp:name|deny|notInt",
		"policy index is not an integer": "notint|kube-baseline|kcnp:name|deny|2",
		"an extra field":                 "0|tier|gnp:tier.name|allow|0|extra",
		"too few fields":                 "0|tier|gnp:name|allow",
		"unknown action":                 "0|kube-admin|kcnp:name|badaction|1",
		"empty tier":                     "0||np:namespace/name|allow|1",
		"empty name":                     "0|tier1|np:namespace/|pass|0",
		"rule index below -2":            "0|tier1|np:ns/p|pass|-3",
		"negative policy index":          "-1|tier1|np:ns/p|pass|0",
	}
	for name, in := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := ParsePolicyHit(in)
			if err == nil {
				t.Fatalf("ParsePolicyHit(%q) succeeded, want an error", in)
			}
			if reasonOf(err) != ReasonValue {
				t.Errorf("reason = %s, want %s", reasonOf(err), ReasonValue)
			}
		})
	}
}
