package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// RegoRuleConditionCompiled is the condition type that says whether a RegoRule's module compiled
// and is in force.
const RegoRuleConditionCompiled = "Compiled"

// RegoRule is a user rule: one Rego v1 module, in the form of the built-in library (a package
// with a METADATA annotation and a `violation` set), evaluated by the webhook and the auditor
// beside the built-in rules. It is compiled when it is applied: a module that does not compile,
// or calls a builtin outside flowguard's sandbox, is refused at admission with the compiler's
// line and message. Rules reload without a restart. It is cluster-scoped because a rule judges
// objects in every namespace.
//
// +kubebuilder:object:root=true
// +kubebuilder:resource:scope=Cluster,shortName=rr,categories=flowguard
// +kubebuilder:subresource:status
// +kubebuilder:printcolumn:name="Rule",type=string,JSONPath=`.status.id`
// +kubebuilder:printcolumn:name="Action",type=string,JSONPath=`.status.action`
// +kubebuilder:printcolumn:name="Severity",type=string,JSONPath=`.status.severity`
// +kubebuilder:printcolumn:name="Compiled",type=string,JSONPath=`.status.conditions[?(@.type=="Compiled")].status`
// +kubebuilder:printcolumn:name="Targets",type=string,JSONPath=`.status.targets`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type RegoRule struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   RegoRuleSpec   `json:"spec"`
	Status RegoRuleStatus `json:"status,omitempty"`
}

// RegoRuleSpec is a rule's source and the settings that override its METADATA.
type RegoRuleSpec struct {
	// Module is the Rego v1 source: a package (outside `flowguard.`) with a METADATA annotation
	// naming custom.id, custom.severity, custom.action and custom.targets, and a `violation` set
	// of {"msg": string, "details": object}. See docs/rego.md.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=262144
	Module string `json:"module"`

	// EnforcementAction overrides custom.action: deny refuses the request, warn admits it with
	// a warning, dryrun admits it and only records the violation.
	// +optional
	// +kubebuilder:validation:Enum=deny;warn;dryrun
	EnforcementAction string `json:"enforcementAction,omitempty"`

	// Severity overrides custom.severity.
	// +optional
	// +kubebuilder:validation:Enum=critical;high;medium;low;info
	Severity string `json:"severity,omitempty"`

	// Targets override custom.targets: admission kinds ("NetworkPolicy",
	// "projectcalico.org/GlobalNetworkPolicy", "Namespace", "Pod", "Deployment", ...) and
	// "audit" to run in audits.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=64
	Targets []string `json:"targets,omitempty"`

	// Parameters are merged over custom.parameters; the rule reads them as
	// data.flowguard.parameters[<rule id>].
	// +optional
	// +kubebuilder:pruning:PreserveUnknownFields
	Parameters *runtime.RawExtension `json:"parameters,omitempty"`
}

// RegoRuleStatus is what flowguard made of a RegoRule: its effective metadata and whether it is
// in force.
type RegoRuleStatus struct {
	// ObservedGeneration is the generation of the spec last compiled.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// ID is the rule id from custom.id, as it appears in violations and reports.
	// +optional
	ID string `json:"id,omitempty"`

	// Action, Severity and Targets are the effective values: the spec's overrides, or METADATA.
	// +optional
	Action string `json:"action,omitempty"`
	// +optional
	Severity string `json:"severity,omitempty"`
	// +optional
	// +listType=atomic
	Targets []string `json:"targets,omitempty"`

	// Conditions: "Compiled" is true when the module compiled and the rule is in force; its
	// message carries the compiler's errors (file:line: code: message) otherwise.
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// RegoRuleList is a list of RegoRules.
//
// +kubebuilder:object:root=true
type RegoRuleList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []RegoRule `json:"items"`
}
