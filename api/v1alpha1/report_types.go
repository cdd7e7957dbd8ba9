package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Two report kinds, named as Kubernetes names scope pairs (Role/ClusterRole,
// PolicyReport/ClusterPolicyReport): one audit run writes one ClusterAuditReport, with the
// summary across namespaces and the violations of cluster-scoped objects, and one AuditReport in
// every audited namespace, with that namespace's violations. Namespace owners are granted read on
// AuditReports in their namespace and see nothing of their neighbours. All reports of one run
// share a name (the run name) and the flowguard.dev/run label, so writing them again after a
// leader change overwrites rather than duplicates.
//
// Field names are chosen for `kubectl describe`, which prints an object's fields sorted by name
// and list items without separators: `summary` sorts before `violations`, and every violation
// starts with its `message`, then `resource`, `rule` and `severity`, before the longer
// `suggestedFix` and `supportingEvidence` blocks.
//
// Counts in a summary are exact. Violations are written out in full only up to a count and a
// byte budget, most severe first, so that an object stays far below etcd's 1.5 MiB request
// limit; the summary says how many were left out and where to read them.

// ClusterAuditReport is the cluster-wide result of one audit run.
//
// +kubebuilder:object:root=true
// +kubebuilder:resource:scope=Cluster,shortName=car,categories=flowguard
// +kubebuilder:printcolumn:name="Schedule",type=string,JSONPath=`.summary.schedule`
// +kubebuilder:printcolumn:name="Score",type=integer,JSONPath=`.summary.score`
// +kubebuilder:printcolumn:name="Critical",type=integer,JSONPath=`.summary.bySeverity.critical`
// +kubebuilder:printcolumn:name="High",type=integer,JSONPath=`.summary.bySeverity.high`
// +kubebuilder:printcolumn:name="Medium",type=integer,JSONPath=`.summary.bySeverity.medium`
// +kubebuilder:printcolumn:name="Low",type=integer,JSONPath=`.summary.bySeverity.low`
// +kubebuilder:printcolumn:name="Info",type=integer,JSONPath=`.summary.bySeverity.info`
// +kubebuilder:printcolumn:name="Namespaces",type=integer,JSONPath=`.summary.namespaceCount`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type ClusterAuditReport struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Summary ClusterReportSummary `json:"summary"`

	// Violations of cluster-scoped objects (GlobalNetworkPolicies, GlobalNetworkSets, Tiers,
	// host endpoints); namespaced violations are in each namespace's AuditReport.
	// +optional
	// +kubebuilder:validation:MaxItems=1000
	Violations []Violation `json:"violations,omitempty"`
}

// AuditReport is one namespace's result of one audit run.
//
// +kubebuilder:object:root=true
// +kubebuilder:resource:scope=Namespaced,shortName=ar,categories=flowguard
// +kubebuilder:printcolumn:name="Schedule",type=string,JSONPath=`.summary.schedule`
// +kubebuilder:printcolumn:name="Score",type=integer,JSONPath=`.summary.score`
// +kubebuilder:printcolumn:name="Critical",type=integer,JSONPath=`.summary.bySeverity.critical`
// +kubebuilder:printcolumn:name="High",type=integer,JSONPath=`.summary.bySeverity.high`
// +kubebuilder:printcolumn:name="Medium",type=integer,JSONPath=`.summary.bySeverity.medium`
// +kubebuilder:printcolumn:name="Low",type=integer,JSONPath=`.summary.bySeverity.low`
// +kubebuilder:printcolumn:name="Info",type=integer,JSONPath=`.summary.bySeverity.info`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type AuditReport struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Recommendation is the least-privilege policy recommendation for this namespace, when the
	// schedule asks for recommendations.
	// +optional
	Recommendation *NamespaceRecommendation `json:"recommendation,omitempty"`

	Summary ReportSummary `json:"summary"`

	// Violations in this namespace, most severe first, capped (see summary.omitted).
	// +optional
	// +kubebuilder:validation:MaxItems=1000
	Violations []Violation `json:"violations,omitempty"`
}

// ReportSummary is what one report found, in numbers.
type ReportSummary struct {
	// Schedule is the AuditSchedule that ran; empty for a one-off run.
	// +optional
	Schedule string `json:"schedule,omitempty"`

	// EvaluatedAt is the time the cluster snapshot was taken.
	EvaluatedAt metav1.Time `json:"evaluatedAt"`

	// Window is the span of observed traffic the rules judged by.
	// +optional
	Window *TimeWindow `json:"window,omitempty"`

	// Score is 100 minus a penalty per violation (critical 25, high 10, medium 3, low 1, info 0),
	// floored at 0; 100 means nothing was found.
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=100
	Score int32 `json:"score"`

	// Total is the exact number of violations.
	Total int32 `json:"total"`

	// BySeverity is the exact number of violations per severity.
	BySeverity SeverityCounts `json:"bySeverity"`

	// ByRule is the exact number of violations per rule, for rules that found any.
	// +optional
	// +listType=map
	// +listMapKey=rule
	ByRule []RuleCount `json:"byRule,omitempty"`

	// Listed is how many violations this object lists in full.
	Listed int32 `json:"listed"`

	// Omitted is how many violations were left out of this object to keep it small.
	// +optional
	Omitted int32 `json:"omitted,omitempty"`

	// OmittedNote says where to read the violations that were left out.
	// +optional
	OmittedNote string `json:"omittedNote,omitempty"`

	// RulesSkipped are rules that did not run, with why (e.g. no traffic loaded yet).
	// +optional
	RulesSkipped []string `json:"rulesSkipped,omitempty"`
}

// ClusterReportSummary adds the per-namespace breakdown to a report summary.
type ClusterReportSummary struct {
	ReportSummary `json:",inline"`

	// NamespaceCount is how many namespaces were audited.
	NamespaceCount int32 `json:"namespaceCount"`

	// Namespaces are the audited namespaces with violations, lowest score first, capped like
	// violations are (see namespacesOmitted); namespaces without violations are counted only.
	// +optional
	Namespaces []NamespaceSummary `json:"namespaces,omitempty"`

	// NamespacesOmitted is how many namespaces with violations were left out of namespaces.
	// +optional
	NamespacesOmitted int32 `json:"namespacesOmitted,omitempty"`

	// Recommendations counts the namespaces' recommendations by status, when the schedule asks
	// for recommendations.
	// +optional
	Recommendations *RecommendationsSummary `json:"recommendations,omitempty"`
}

// RecommendationStatus is the lifecycle state of a recommendation: learning (less than the
// minimum observation window of traffic seen), stabilizing (a connection it allows is newer than
// the stabilization period) or stable.
// +kubebuilder:validation:Enum=learning;stabilizing;stable
type RecommendationStatus string

// NamespaceRecommendation is one namespace's recommended policies.
type NamespaceRecommendation struct {
	// Listed is how many of the policies are written out in policies.
	Listed int32 `json:"listed"`

	// Omitted is how many policies were left out of policies to keep this object small.
	// +optional
	Omitted int32 `json:"omitted,omitempty"`

	// OmittedNote says how much was left out and where to read all of it.
	// +optional
	OmittedNote string `json:"omittedNote,omitempty"`

	// Policies are the recommended objects as one multi-document YAML stream, one line per
	// item, so that kubectl describe prints them as an indented block. Join the lines with
	// newlines to apply them.
	// +optional
	// +kubebuilder:validation:MaxItems=20000
	Policies []string `json:"policies,omitempty"`

	// PolicyCount is the exact number of policies recommended for the namespace.
	PolicyCount int32 `json:"policyCount"`

	// Staged says whether the auditor applied the namespace's StagedNetworkPolicy in this run.
	// +optional
	Staged bool `json:"staged,omitempty"`

	Status RecommendationStatus `json:"status"`

	// Style is the kind of policies: k8s or calico-staged.
	Style RecommendationStyle `json:"style"`
}

// RecommendationsSummary counts a run's namespace recommendations.
type RecommendationsSummary struct {
	// Error says why no recommendation was computed (e.g. no traffic loaded yet).
	// +optional
	Error string `json:"error,omitempty"`

	// Learning, Stabilizing and Stable count the namespaces with a recommendation per status.
	Learning    int32 `json:"learning"`
	Stabilizing int32 `json:"stabilizing"`
	Stable      int32 `json:"stable"`

	// Policies is the exact number of policies recommended across the namespaces.
	Policies int32 `json:"policies"`

	// StagedWritten is how many StagedNetworkPolicies the auditor applied in this run.
	// +optional
	StagedWritten int32 `json:"stagedWritten,omitempty"`

	Style RecommendationStyle `json:"style"`
}

// NamespaceSummary is one namespace's line in a ClusterAuditReport.
type NamespaceSummary struct {
	// BySeverity is the exact number of the namespace's violations per severity. It sorts first
	// so that, in kubectl describe, each namespace's block starts on the same line.
	BySeverity SeverityCounts `json:"bySeverity"`
	// Namespace is the namespace; its AuditReport has the ClusterAuditReport's name.
	Namespace string `json:"namespace"`
	Score     int32  `json:"score"`
	Total     int32  `json:"total"`
}

// SeverityCounts counts violations per severity.
type SeverityCounts struct {
	Critical int32 `json:"critical"`
	High     int32 `json:"high"`
	Medium   int32 `json:"medium"`
	Low      int32 `json:"low"`
	Info     int32 `json:"info"`
}

// RuleCount is how many violations one rule found.
type RuleCount struct {
	Count    int32    `json:"count"`
	Rule     string   `json:"rule"`
	Severity Severity `json:"severity"`
}

// TimeWindow is a span of time, start inclusive, end exclusive.
type TimeWindow struct {
	Start metav1.Time `json:"start"`
	End   metav1.Time `json:"end"`
}

// Severity of a violation.
// +kubebuilder:validation:Enum=critical;high;medium;low;info
type Severity string

// Severities, most severe first.
const (
	SeverityCritical Severity = "critical"
	SeverityHigh     Severity = "high"
	SeverityMedium   Severity = "medium"
	SeverityLow      Severity = "low"
	SeverityInfo     Severity = "info"
)

// Violation is one thing one rule found about one object.
type Violation struct {
	// Message says what is wrong, in one or two sentences.
	// +kubebuilder:validation:MaxLength=2048
	Message string `json:"message"`

	// Resource is the object the violation is about: the policy to change, or the namespace or
	// workload that lacks one.
	Resource ResourceRef `json:"resource"`

	// Rule is the id of the rule that found it.
	Rule string `json:"rule"`

	Severity Severity `json:"severity"`

	// SuggestedFix is what to do about it.
	// +optional
	SuggestedFix *SuggestedFix `json:"suggestedFix,omitempty"`

	// SupportingEvidence is what the rule saw: observed flows and other facts.
	// +optional
	SupportingEvidence *Evidence `json:"supportingEvidence,omitempty"`
}

// ResourceRef names an object.
type ResourceRef struct {
	// +optional
	APIVersion string `json:"apiVersion,omitempty"`
	Kind       string `json:"kind"`
	// +optional
	Namespace string `json:"namespace,omitempty"`
	Name      string `json:"name"`
}

// SuggestedFix is a remedy: a sentence and, where the rule can compute one, a manifest.
type SuggestedFix struct {
	// Description says what to change, or points to the recommendation to read.
	// +kubebuilder:validation:MaxLength=2048
	Description string `json:"description"`

	// Policy is a manifest to apply (typically the narrowed policy) as YAML, one line per item,
	// so that kubectl describe prints it as an indented block. Join the lines with newlines to
	// apply it.
	// +optional
	// +kubebuilder:validation:MaxItems=400
	Policy []string `json:"policy,omitempty"`
}

// Evidence is what a rule saw.
type Evidence struct {
	// Facts are the rule's other details, as text (e.g. the selector that matches nothing).
	// +optional
	Facts map[string]string `json:"facts,omitempty"`

	// Flows are observed flows, one per line:
	// "SOURCE -> DESTINATION PROTO/PORT ACTION, N connections, last seen TIME".
	// +optional
	// +kubebuilder:validation:MaxItems=50
	Flows []string `json:"flows,omitempty"`

	// FlowsOmitted is how many more flows the rule reported than are listed.
	// +optional
	FlowsOmitted int32 `json:"flowsOmitted,omitempty"`
}

// ClusterAuditReportList is a list of ClusterAuditReports.
//
// +kubebuilder:object:root=true
type ClusterAuditReportList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []ClusterAuditReport `json:"items"`
}

// AuditReportList is a list of AuditReports.
//
// +kubebuilder:object:root=true
type AuditReportList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []AuditReport `json:"items"`
}
