package netpol

import (
	"slices"
	"strings"
)

// Evaluation order, as Felix v3.31 sorts it (felix/calc/policy_sorter.go: TierLess and
// PolKVLess): tiers by order ascending, a tier without an order last, equal orders by tier
// name; within a tier, policies by order ascending, a policy without an order last (Felix
// maps it to +Inf), equal orders by the policy's backend key name compared as a string. That
// key is not the object's name: libcalico-go's update processors
// (libcalico-go/lib/backend/syncersv1/updateprocessors/*networkpolicyprocessor.go) key a
// GlobalNetworkPolicy by its tiered name (names.TieredPolicyName: "default.<name>" for a
// name without a tier prefix), a NetworkPolicy by "<namespace>/<tiered name>", a Kubernetes
// NetworkPolicy by "<namespace>/knp.default.<name>" (conversion.go), and staged kinds insert
// "staged:" before the name. So a GlobalNetworkPolicy "b-all" ("default.b-all") and a
// NetworkPolicy "a/c" ("a/default.c") at the same order run a/c first, while "zz"
// ("default.zz") runs before "default/x" ("default/default.x") because '.' sorts before '/'.
// (Calico v3.32 keys policies by name, namespace and kind instead; flowguard follows v3.31,
// the version whose flow formats it reads.)

// ComparePolicies orders two policies as Felix evaluates them for an endpoint both select:
// negative when a runs first. Policies that compare equal are the same policy (refs break
// every remaining tie).
func (c *Cluster) ComparePolicies(a, b *Policy) int {
	return comparePolicies(c.tier(a.Tier), c.tier(b.Tier), a, b)
}

// EvaluationOrder returns the enforced policies (staged ones excluded) in the order Felix
// evaluates them, each tier's policies together.
func (c *Cluster) EvaluationOrder() []*Policy {
	var out []*Policy
	for _, p := range c.policies.all() {
		if !p.Ref.Kind.Staged() {
			out = append(out, p)
		}
	}
	slices.SortFunc(out, c.ComparePolicies)
	return out
}

// FelixName is the key Felix sorts the policy by within its tier, and the name its flow logs
// write after the tier in a policy hit.
func (p *Policy) FelixName() string { return p.felixName }

func comparePolicies(ta, tb *Tier, a, b *Policy) int {
	if a.Tier != b.Tier {
		return compareTiers(ta, tb)
	}
	if c := compareOrder(a.Order, a.HasOrder, b.Order, b.HasOrder, a.felixName, b.felixName); c != 0 {
		return c
	}
	return compareRefs(a.Ref, b.Ref)
}

// felixName is the backend key libcalico-go gives a policy of this ref (see the comment at
// the top of this file).
func felixName(ref PolicyRef) string {
	var name string
	switch ref.Kind {
	case KindKubernetesNetworkPolicy, KindStagedKubernetesNetworkPolicy:
		name = "knp.default." + ref.Name
	case KindAdminNetworkPolicy:
		name = "kanp.adminnetworkpolicy." + ref.Name // names.K8sAdminNetworkPolicyNamePrefix
	case KindBaselineAdminNetworkPolicy:
		name = "kbanp.baselineadminnetworkpolicy." + ref.Name
	case KindClusterNetworkPolicy:
		name = ref.Name // v3.32 keys by name, then namespace and kind
	default:
		name = tieredName(ref.Name)
	}
	if ref.Kind.Staged() {
		name = "staged:" + name
	}
	if ref.Namespace != "" {
		name = ref.Namespace + "/" + name
	}
	return name
}

// tieredName is names.TieredPolicyName: a name without a tier prefix is in tier default.
func tieredName(name string) string {
	if strings.Contains(name, ".") {
		return name
	}
	return DefaultTier + "." + name
}
