package flows

import (
	"bytes"
	"strconv"
	"strings"
)

// Policy kinds, as the newer hit naming spells them (goldmane/proto/methods.go).
const (
	KindNetworkPolicy                 = "np"
	KindGlobalNetworkPolicy           = "gnp"
	KindStagedNetworkPolicy           = "snp"
	KindStagedGlobalNetworkPolicy     = "sgnp"
	KindStagedKubernetesNetworkPolicy = "sknp"
	KindKubernetesNetworkPolicy       = "knp"
	KindClusterNetworkPolicy          = "kcnp"
	KindAdminNetworkPolicy            = "kanp"
	KindBaselineAdminNetworkPolicy    = "kbanp"
	KindProfile                       = "pro"
)

// Policy-hit actions.
const (
	HitAllow = "allow"
	HitDeny  = "deny"
	HitPass  = "pass"
)

// ProfileTier is the pseudo-tier Calico reports profile hits in.
const ProfileTier = "__PROFILE__"

// Staged reports whether the hit comes from a staged policy (one that is simulated, not enforced).
func (h PolicyHit) Staged() bool {
	switch h.Kind {
	case KindStagedNetworkPolicy, KindStagedGlobalNetworkPolicy, KindStagedKubernetesNetworkPolicy:
		return true
	}
	return false
}

// EndOfTier reports whether the hit is the tier's default action, taken because no rule of any
// policy in the tier matched; the policy named is one that selected the endpoint.
func (h PolicyHit) EndOfTier() bool { return h.RuleIndex == -1 }

// ShortName returns the policy name without a "<tier>." prefix. Older Calico versions wrote
// tiered policy names as "<tier>.<name>" and the old hit naming always carries the prefix, so
// comparing ShortNames matches a hit to its policy across both namings.
func (h PolicyHit) ShortName() string {
	if h.Tier != "" && len(h.Name) > len(h.Tier)+1 && h.Name[len(h.Tier)] == '.' && strings.HasPrefix(h.Name, h.Tier) {
		return h.Name[len(h.Tier)+1:]
	}
	return h.Name
}

// String writes the hit in the newer naming: `<idx>|<tier>|<kind>:[<ns>/]<name>|<action>|<rule>`.
func (h PolicyHit) String() string {
	var b strings.Builder
	b.WriteString(strconv.Itoa(h.Index))
	b.WriteByte('|')
	b.WriteString(h.Tier)
	b.WriteByte('|')
	b.WriteString(h.Kind)
	b.WriteByte(':')
	if h.Namespace != "" {
		b.WriteString(h.Namespace)
		b.WriteByte('/')
	}
	b.WriteString(h.Name)
	b.WriteByte('|')
	b.WriteString(h.Action)
	b.WriteByte('|')
	b.WriteString(strconv.Itoa(h.RuleIndex))
	return b.String()
}

// ParsePolicyHit reads one policy-hit string in either naming:
//
//	older: 0|tier1|ns1/tier1.policy1|pass|3        (namespaced), 1|default|default.allow-dns|allow|0 (global)
//	       0|default|ns1/knp.default.web|allow|0   (Kubernetes), 2|tier1|ns1/tier1.staged:p|deny|1 (staged)
//	       1|__PROFILE__|__PROFILE__.kns.ns1|allow|0 (profile)
//	newer: 0|tier1|np:ns1/policy1|pass|3, 1|default|gnp:allow-dns|allow|0, 0|default|knp:ns1/web|allow|0
//	       2|tier1|snp:ns1/p|deny|1, 1|__PROFILE__|pro:kns.ns1|allow|0
func ParsePolicyHit(s string) (PolicyHit, error) {
	return parseHit([]byte(s), nil)
}

func parseHit(b []byte, in *interner) (PolicyHit, error) {
	var parts [5][]byte
	rest := b
	for i := 0; i < 4; i++ {
		j := bytes.IndexByte(rest, '|')
		if j < 0 {
			return PolicyHit{}, hitError(b, "want 5 fields separated by '|'")
		}
		parts[i], rest = rest[:j], rest[j+1:]
	}
	if bytes.IndexByte(rest, '|') >= 0 {
		return PolicyHit{}, hitError(b, "want 5 fields separated by '|'")
	}
	parts[4] = rest
	idx, ok := parseInt(parts[0])
	if !ok || idx < 0 || idx > 1<<20 {
		return PolicyHit{}, hitError(b, "policy index is not a non-negative integer")
	}
	rule, ok := parseInt(parts[4])
	if !ok || rule < -2 || rule > 1<<20 {
		return PolicyHit{}, hitError(b, "rule index is not an integer >= -2")
	}
	h := PolicyHit{Index: int(idx), RuleIndex: int(rule)}
	switch string(parts[3]) {
	case "allow", "Allow":
		h.Action = HitAllow
	case "deny", "Deny":
		h.Action = HitDeny
	case "pass", "Pass":
		h.Action = HitPass
	default:
		return PolicyHit{}, hitError(b, "action is not allow, deny or pass")
	}
	if len(parts[1]) == 0 {
		return PolicyHit{}, hitError(b, "tier is empty")
	}
	h.Tier = internOrCopy(in, parts[1])
	kind, ns, name := splitHitName(parts[2])
	if len(name) == 0 {
		return PolicyHit{}, hitError(b, "policy name is empty")
	}
	h.Kind, h.Namespace, h.Name = kind, internOrCopy(in, ns), internOrCopy(in, name)
	return h, nil
}

func hitError(b []byte, msg string) error {
	return &ParseError{Reason: ReasonValue, Msg: strconv.Quote(string(b)) + ": " + msg}
}

func internOrCopy(in *interner, b []byte) string {
	if in == nil {
		return string(b)
	}
	return in.str(b)
}

// newerKinds are the kind prefixes of the newer naming; namespaced ones carry "<ns>/".
var newerKinds = map[string]bool{
	KindNetworkPolicy: true, KindStagedNetworkPolicy: true, KindStagedKubernetesNetworkPolicy: true,
	KindKubernetesNetworkPolicy: true, KindGlobalNetworkPolicy: false, KindStagedGlobalNetworkPolicy: false,
	KindClusterNetworkPolicy: false, KindProfile: false, KindAdminNetworkPolicy: false, KindBaselineAdminNetworkPolicy: false,
}

// splitHitName splits the name part of a hit into kind, namespace and name.
func splitHitName(n []byte) (kind string, ns, name []byte) {
	if c := bytes.IndexByte(n, ':'); c > 0 {
		if namespaced, ok := newerKinds[string(n[:c])]; ok {
			kind, rest := kindConst(n[:c]), n[c+1:]
			if namespaced {
				if s := bytes.IndexByte(rest, '/'); s >= 0 {
					return kind, rest[:s], rest[s+1:]
				}
			}
			return kind, nil, rest
		}
	}
	// Older naming: the kind is implied by the shape of the name.
	if s := bytes.IndexByte(n, '/'); s >= 0 {
		ns, name = n[:s], n[s+1:]
		switch {
		case bytes.HasPrefix(name, []byte("staged:knp.default.")):
			return KindStagedKubernetesNetworkPolicy, ns, name[len("staged:knp.default."):]
		case bytes.HasPrefix(name, []byte("knp.default.")):
			return KindKubernetesNetworkPolicy, ns, name[len("knp.default."):]
		case bytes.Contains(name, []byte("staged:")):
			return KindStagedNetworkPolicy, ns, name[bytes.Index(name, []byte("staged:"))+len("staged:"):]
		}
		return KindNetworkPolicy, ns, name
	}
	switch {
	case bytes.HasPrefix(n, []byte("__PROFILE__.")):
		return KindProfile, nil, n[len("__PROFILE__."):]
	case bytes.HasPrefix(n, []byte("kanp.adminnetworkpolicy.")):
		return KindAdminNetworkPolicy, nil, n[len("kanp.adminnetworkpolicy."):]
	case bytes.HasPrefix(n, []byte("kbanp.baselineadminnetworkpolicy.")):
		return KindBaselineAdminNetworkPolicy, nil, n[len("kbanp.baselineadminnetworkpolicy."):]
	case bytes.Contains(n, []byte("staged:")):
		return KindStagedGlobalNetworkPolicy, nil, n[bytes.Index(n, []byte("staged:"))+len("staged:"):]
	}
	return KindGlobalNetworkPolicy, nil, n
}

func kindConst(b []byte) string {
	switch string(b) {
	case KindNetworkPolicy:
		return KindNetworkPolicy
	case KindGlobalNetworkPolicy:
		return KindGlobalNetworkPolicy
	case KindStagedNetworkPolicy:
		return KindStagedNetworkPolicy
	case KindStagedGlobalNetworkPolicy:
		return KindStagedGlobalNetworkPolicy
	case KindStagedKubernetesNetworkPolicy:
		return KindStagedKubernetesNetworkPolicy
	case KindKubernetesNetworkPolicy:
		return KindKubernetesNetworkPolicy
	case KindClusterNetworkPolicy:
		return KindClusterNetworkPolicy
	case KindAdminNetworkPolicy:
		return KindAdminNetworkPolicy
	case KindBaselineAdminNetworkPolicy:
		return KindBaselineAdminNetworkPolicy
	case KindProfile:
		return KindProfile
	}
	return string(b)
}

// sortHits orders hits by their index: Calico stores them in no particular order.
func sortHits(h []PolicyHit) {
	// Traces are short; insertion sort avoids sort.Slice's allocation.
	for i := 1; i < len(h); i++ {
		for j := i; j > 0 && h[j].Index < h[j-1].Index; j-- {
			h[j], h[j-1] = h[j-1], h[j]
		}
	}
}
