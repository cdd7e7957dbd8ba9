package netpol

import (
	"fmt"
	"net/netip"

	"k8s.io/apimachinery/pkg/runtime"

	"github.com/flowguard/flowguard/netpol/selector"
)

// Action is what a rule, a tier default or a profile does with a packet.
type Action uint8

const (
	ActionAllow Action = iota + 1
	ActionDeny
	// ActionPass skips the rest of the tier and continues with the next one.
	ActionPass
	// ActionLog records the packet and continues with the next rule.
	ActionLog
)

// String returns the action as the Calico API spells it.
func (a Action) String() string {
	switch a {
	case ActionAllow:
		return "Allow"
	case ActionDeny:
		return "Deny"
	case ActionPass:
		return "Pass"
	case ActionLog:
		return "Log"
	}
	return "Unknown"
}

// Direction is the side a policy rule is evaluated on: ingress at the destination, egress at
// the source.
type Direction uint8

const (
	Ingress Direction = iota
	Egress
)

// String returns "Ingress" or "Egress".
func (d Direction) String() string {
	if d == Egress {
		return "Egress"
	}
	return "Ingress"
}

// PolicyKind names the API kind a policy came from.
type PolicyKind uint8

const (
	// KindKubernetesNetworkPolicy is networking.k8s.io/v1 NetworkPolicy.
	KindKubernetesNetworkPolicy PolicyKind = iota + 1
	// KindNetworkPolicy is projectcalico.org/v3 NetworkPolicy.
	KindNetworkPolicy
	KindGlobalNetworkPolicy
	KindStagedNetworkPolicy
	KindStagedGlobalNetworkPolicy
	KindStagedKubernetesNetworkPolicy
	// KindAdminNetworkPolicy and KindBaselineAdminNetworkPolicy are
	// policy.networking.k8s.io/v1alpha1; KindClusterNetworkPolicy is v1alpha2.
	KindAdminNetworkPolicy
	KindBaselineAdminNetworkPolicy
	KindClusterNetworkPolicy
)

// String returns the API kind, prefixed for Kubernetes' NetworkPolicy so the two kinds named
// NetworkPolicy never read alike.
func (k PolicyKind) String() string {
	switch k {
	case KindKubernetesNetworkPolicy:
		return "KubernetesNetworkPolicy"
	case KindNetworkPolicy:
		return "NetworkPolicy"
	case KindGlobalNetworkPolicy:
		return "GlobalNetworkPolicy"
	case KindStagedNetworkPolicy:
		return "StagedNetworkPolicy"
	case KindStagedGlobalNetworkPolicy:
		return "StagedGlobalNetworkPolicy"
	case KindStagedKubernetesNetworkPolicy:
		return "StagedKubernetesNetworkPolicy"
	case KindAdminNetworkPolicy:
		return "AdminNetworkPolicy"
	case KindBaselineAdminNetworkPolicy:
		return "BaselineAdminNetworkPolicy"
	case KindClusterNetworkPolicy:
		return "ClusterNetworkPolicy"
	}
	return "UnknownPolicyKind"
}

// Short returns the kind abbreviation Calico uses in flow-log policy names (np, gnp, knp,
// snp, sgnp, sknp).
func (k PolicyKind) Short() string {
	switch k {
	case KindKubernetesNetworkPolicy:
		return "knp"
	case KindNetworkPolicy:
		return "np"
	case KindGlobalNetworkPolicy:
		return "gnp"
	case KindStagedNetworkPolicy:
		return "snp"
	case KindStagedGlobalNetworkPolicy:
		return "sgnp"
	case KindStagedKubernetesNetworkPolicy:
		return "sknp"
	case KindAdminNetworkPolicy:
		return "kanp"
	case KindBaselineAdminNetworkPolicy:
		return "kbanp"
	case KindClusterNetworkPolicy:
		return "kcnp"
	}
	return "?"
}

// Staged reports whether the kind is one of the staged kinds, which never change the enforced
// verdict.
func (k PolicyKind) Staged() bool {
	return k == KindStagedNetworkPolicy || k == KindStagedGlobalNetworkPolicy || k == KindStagedKubernetesNetworkPolicy
}

// Global reports whether policies of this kind are cluster-scoped.
func (k PolicyKind) Global() bool {
	return k == KindGlobalNetworkPolicy || k == KindStagedGlobalNetworkPolicy || k.Admin()
}

// Admin reports whether the kind is one of the Kubernetes admin policy kinds (ANP, BANP, CNP).
func (k PolicyKind) Admin() bool {
	return k == KindAdminNetworkPolicy || k == KindBaselineAdminNetworkPolicy || k == KindClusterNetworkPolicy
}

// Enforced returns the enforced kind a staged kind stands in for (its "twin"); enforced kinds
// return themselves.
func (k PolicyKind) Enforced() PolicyKind {
	switch k {
	case KindStagedNetworkPolicy:
		return KindNetworkPolicy
	case KindStagedGlobalNetworkPolicy:
		return KindGlobalNetworkPolicy
	case KindStagedKubernetesNetworkPolicy:
		return KindKubernetesNetworkPolicy
	}
	return k
}

// stagedTwin returns the staged kind standing in for an enforced kind; staged kinds return
// themselves.
func (k PolicyKind) stagedTwin() PolicyKind {
	switch k {
	case KindNetworkPolicy:
		return KindStagedNetworkPolicy
	case KindGlobalNetworkPolicy:
		return KindStagedGlobalNetworkPolicy
	case KindKubernetesNetworkPolicy:
		return KindStagedKubernetesNetworkPolicy
	}
	return k
}

// PolicyRef identifies one policy object.
type PolicyRef struct {
	Kind      PolicyKind
	Namespace string // empty for global kinds
	Name      string
}

// String returns kind/namespace/name (kind/name for global kinds).
func (r PolicyRef) String() string {
	if r.Namespace == "" {
		return r.Kind.String() + "/" + r.Name
	}
	return r.Kind.String() + "/" + r.Namespace + "/" + r.Name
}

// StagedAction is what a staged policy simulates.
type StagedAction uint8

const (
	// StagedSet simulates creating or replacing the enforced twin (the default).
	StagedSet StagedAction = iota
	// StagedDelete simulates deleting the enforced twin.
	StagedDelete
	// StagedLearn is a recommendation still being learned; simulated like Set.
	StagedLearn
	// StagedIgnore is a dismissed recommendation; it takes no part in the pending verdict.
	StagedIgnore
)

// KubernetesPolicyOrder is where Calico places Kubernetes NetworkPolicies in tier default.
const KubernetesPolicyOrder = 1000

// DefaultTier is the tier of policies that name none, and of every Kubernetes NetworkPolicy.
const DefaultTier = "default"

// Policy is one compiled policy of any kind: what it applies to and its rules per direction.
// It is immutable once compiled and shared between engines.
type Policy struct {
	Ref  PolicyRef
	Tier string
	// Order is the policy's order within its tier; HasOrder false sorts it after all ordered
	// policies (Calico's "nil is infinite").
	Order    float64
	HasOrder bool
	// Types says which directions the policy applies to, after defaulting and inference.
	Types        [2]bool
	Rules        [2][]Rule
	StagedAction StagedAction
	// Kubernetes is true for Kubernetes-shaped policies (KNP and SKNP): they select pods only.
	Kubernetes bool
	// Object is the defaulted source object.
	Object runtime.Object

	// applies-to: an endpoint is selected when it is in namespace (namespaced kinds) or its
	// namespace matches nsSel (global kinds, when set), its labels match sel, and its service
	// account's labels match saSel (when set).
	namespace string
	sel       *selector.Selector
	nsSel     *selector.Selector
	saSel     *selector.Selector
	// hostOnly policies (doNotTrack, preDNAT) apply to host endpoints only.
	hostOnly bool
	// felixName orders policies with equal order, as Felix does (order.go).
	felixName string
}

// Applies reports whether the policy has the given direction in its types.
func (p *Policy) Applies(d Direction) bool { return p.Types[d] }

// Selector returns the policy's endpoint selector (all() when it selects every endpoint in its
// scope).
func (p *Policy) Selector() *selector.Selector { return p.sel }

// Rule is one rule of a policy, in the order written. Kubernetes rules are Allow rules whose
// peers and ports carry Kubernetes semantics; Calico rules carry Calico's.
type Rule struct {
	// Index is the rule's position in spec.ingress or spec.egress.
	Index  int
	Action Action
	// Protocol, when set, is the only protocol the rule matches; NotProtocol excludes one.
	Protocol, NotProtocol protoMatch
	ICMP, NotICMP         *ICMPMatch
	// IPVersion, when 4 or 6, limits the rule to that address family.
	IPVersion int
	// HTTP is true when the rule has an HTTP match, which needs an application layer policy
	// engine; such rules never match here (documented in Explain output).
	HTTP bool
	// Src and Dst constrain the packet's source and destination.
	Src, Dst Entity
}

// protoMatch is an optional IANA protocol number.
type protoMatch struct {
	set bool
	num uint8
}

// ICMPMatch constrains the ICMP type and, optionally, the code.
type ICMPMatch struct {
	Type, Code int // -1 when not set
}

// Entity is one side of a rule. Every constraint that is set must hold.
type Entity struct {
	// Peers (Kubernetes rules only) must match one of them; nil means any peer.
	Peers []Peer
	// Nets: the address must be in one of them; NotNets: in none.
	Nets, NotNets []netip.Prefix
	// Calico selectors. Sel matches endpoint (or network set) labels within the namespaces in
	// scope; NotSel excludes endpoints and addresses whose labels match (and so also matches
	// addresses no label covers).
	Sel, NotSel *selector.Selector
	// scope is where Sel (and SA) look: own namespace, every endpoint, or namespaces matching
	// NSSel. It is scopeAny when no selector field is set.
	scope    nsScope
	NSSel    *selector.Selector
	ns       string // own namespace for scopeOwn
	SA       *SAMatch
	Services *ServiceRef
	// Ports and NotPorts; the port is the destination port for Dst and the source port for
	// Src. For Kubernetes rules each port carries its own protocol.
	Ports, NotPorts []PortMatch
}

// nsScope says which endpoints an entity's selector fields may match.
type nsScope uint8

const (
	scopeAny      nsScope = iota // no selector field: any address, in or out of the cluster
	scopeOwn                     // endpoints of the policy's own namespace
	scopeAll                     // every endpoint (global policy without a namespaceSelector)
	scopeSelected                // endpoints whose namespace matches NSSel
)

// Peer is one element of a Kubernetes rule's from/to list.
type Peer struct {
	// Pods, when set, selects pods by labels; NS selects their namespaces. A peer with Pods
	// but no NS means the policy's namespace; NS without Pods means every pod there.
	Pods, NS *selector.Selector
	// ns is the policy's namespace, used when NS is nil.
	ns string
	// IPBlock, when set, is the whole peer.
	IPBlock *IPBlock
}

// IPBlock is a Kubernetes ipBlock: addresses in CIDR but not in Except.
type IPBlock struct {
	CIDR   netip.Prefix
	Except []netip.Prefix
}

// SAMatch selects endpoints by service account: name in Names (when set) and account labels
// matching Sel (when set).
type SAMatch struct {
	Names []string
	Sel   *selector.Selector
}

// ServiceRef names a Kubernetes Service a Calico rule matches.
type ServiceRef struct{ Namespace, Name string }

// PortMatch is a port, a range, or a named port. Proto is 0 when the rule's protocol applies
// (Calico) and the port's own protocol otherwise (Kubernetes).
type PortMatch struct {
	Proto  uint8
	Lo, Hi uint16
	Name   string
	// Any is true for a Kubernetes port with a protocol and no port: every port of Proto.
	Any bool
}

// String renders the port as written: 80, 80:90, or a name.
func (p PortMatch) String() string {
	switch {
	case p.Any:
		return "*"
	case p.Name != "":
		return p.Name
	case p.Lo == p.Hi:
		return fmt.Sprint(p.Lo)
	}
	return fmt.Sprintf("%d:%d", p.Lo, p.Hi)
}

// Tier is a compiled Calico tier.
type Tier struct {
	Name     string
	Order    float64
	HasOrder bool
	// DefaultAction applies when a policy of the tier selected the endpoint and no rule
	// matched: ActionDeny or ActionPass.
	DefaultAction Action
}

// defaultTier is tier "default" as Calico creates it.
func defaultTier() *Tier {
	return &Tier{Name: DefaultTier, Order: 1_000_000, HasOrder: true, DefaultAction: ActionDeny}
}
