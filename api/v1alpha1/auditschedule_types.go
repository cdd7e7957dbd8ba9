package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// RunNowAnnotation asks the auditor for an immediate run of an AuditSchedule. Any new value
// triggers one run (`kubectl annotate auditschedule nightly flowguard.dev/run-now="$(date +%s)"
// --overwrite`); the value handled last is kept in status.lastRunRequest, so the auditor never
// has to edit the schedule's metadata and a restarted auditor does not run the same request twice.
const RunNowAnnotation = "flowguard.dev/run-now"

// Labels the auditor puts on every report, so that runs can be listed, pruned and joined.
const (
	// ScheduleLabel names the AuditSchedule a report was written for.
	ScheduleLabel = "flowguard.dev/schedule"
	// RunLabel names the run: the same value on the ClusterAuditReport and on every namespaced
	// AuditReport written by one run.
	RunLabel = "flowguard.dev/run"
)

// AuditSchedule says when and over what the auditor runs: a cron schedule, the namespaces in
// scope, the rules to run with their parameters, the window of observed traffic to judge
// policies by, and how many runs of reports to keep. It is cluster-scoped because an audit
// spans namespaces and is owned by whoever owns the cluster's security posture; the reports it
// produces are split per namespace so that namespace owners can read their own.
//
// +kubebuilder:object:root=true
// +kubebuilder:resource:scope=Cluster,shortName=asched,categories=flowguard
// +kubebuilder:subresource:status
// +kubebuilder:printcolumn:name="Schedule",type=string,JSONPath=`.spec.schedule`
// +kubebuilder:printcolumn:name="Suspend",type=boolean,JSONPath=`.spec.suspend`
// +kubebuilder:printcolumn:name="Last Run",type=date,JSONPath=`.status.lastRunTime`
// +kubebuilder:printcolumn:name="Next Run",type=string,JSONPath=`.status.nextRunTime`,priority=1
// +kubebuilder:printcolumn:name="Last Score",type=integer,JSONPath=`.status.lastScore`
// +kubebuilder:printcolumn:name="Last Report",type=string,JSONPath=`.status.lastReport`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type AuditSchedule struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   AuditScheduleSpec   `json:"spec"`
	Status AuditScheduleStatus `json:"status,omitempty"`
}

// AuditScheduleSpec is what an AuditSchedule asks for.
type AuditScheduleSpec struct {
	// Schedule is a standard five-field cron expression ("0 3 * * *") or a descriptor such as
	// "@daily" or "@every 6h".
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=128
	Schedule string `json:"schedule"`

	// TimeZone is the IANA time zone the schedule is read in; UTC when empty.
	// +optional
	// +kubebuilder:validation:MaxLength=64
	TimeZone string `json:"timeZone,omitempty"`

	// NamespaceSelector limits the audit to the namespaces whose labels match; every namespace
	// when empty. Cluster-scoped objects (GlobalNetworkPolicies, GlobalNetworkSets, Tiers) are
	// always audited.
	// +optional
	NamespaceSelector *metav1.LabelSelector `json:"namespaceSelector,omitempty"`

	// Rules are the audit rules to run, by id, each with optional parameters; every rule whose
	// targets include audit when empty.
	// +optional
	// +listType=map
	// +listMapKey=id
	// +kubebuilder:validation:MaxItems=256
	Rules []AuditRule `json:"rules,omitempty"`

	// Lookback is how far back from the run the observed traffic is read (e.g. "24h", "168h").
	// Rules about unused or over-wide rules and denied traffic judge by this window.
	// +optional
	// +kubebuilder:default="24h"
	Lookback *metav1.Duration `json:"lookback,omitempty"`

	// ReportHistoryLimit is how many runs of reports are kept; older runs (their
	// ClusterAuditReport and every namespaced AuditReport) are deleted after each run.
	// +optional
	// +kubebuilder:default=3
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=100
	ReportHistoryLimit *int32 `json:"reportHistoryLimit,omitempty"`

	// MaxViolationsPerReport caps how many violations are written out in full in each report,
	// most severe first. Counts are always exact; the report says how many were left out.
	// A byte budget applies as well, so that no report nears etcd's object size limit.
	// +optional
	// +kubebuilder:default=100
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=1000
	MaxViolationsPerReport *int32 `json:"maxViolationsPerReport,omitempty"`

	// StartingDeadline is how late a scheduled run may still start, e.g. after no auditor was
	// leading for a while; a slot missed by more is skipped and the next one awaited. No limit
	// when empty: the latest missed slot is run once, late.
	// +optional
	StartingDeadline *metav1.Duration `json:"startingDeadline,omitempty"`

	// Recommendations, when set, adds to each namespace's AuditReport the least-privilege
	// policies learned from the same window of observed traffic (what `flowguard recommend`
	// prints), and optionally writes them to the cluster as Calico StagedNetworkPolicies.
	// No recommendations when empty.
	// +optional
	Recommendations *RecommendationSettings `json:"recommendations,omitempty"`

	// Suspend stops scheduled runs; a run-now request is still honoured.
	// +optional
	// +kubebuilder:default=false
	Suspend bool `json:"suspend"`
}

// RecommendationStyle is the kind of policies recommended.
// +kubebuilder:validation:Enum=k8s;calico-staged
type RecommendationStyle string

// Recommendation styles.
const (
	// RecommendationStyleKubernetes recommends networking.k8s.io/v1 NetworkPolicies.
	RecommendationStyleKubernetes RecommendationStyle = "k8s"
	// RecommendationStyleCalicoStaged recommends one projectcalico.org/v3 StagedNetworkPolicy
	// per namespace, in a tier.
	RecommendationStyleCalicoStaged RecommendationStyle = "calico-staged"
)

// RecommendationSettings say what recommendations a schedule's runs add to its reports.
// +kubebuilder:validation:XValidation:rule="!has(self.writeStagedPolicies) || !self.writeStagedPolicies || self.style == 'calico-staged'",message="writeStagedPolicies needs style calico-staged"
type RecommendationSettings struct {
	// Style is the kind of policies recommended: Kubernetes NetworkPolicies (k8s) or Calico
	// StagedNetworkPolicies (calico-staged).
	// +optional
	// +kubebuilder:default=k8s
	Style RecommendationStyle `json:"style,omitempty"`

	// WriteStagedPolicies has the auditor apply the Tier and, for every namespace whose
	// recommendation is stable, its StagedNetworkPolicy (server-side apply, field manager
	// flowguard-recommender). Staged policies enforce nothing; they let Calico's staged-policy
	// tooling preview them. Only with style calico-staged.
	// +optional
	// +kubebuilder:default=false
	WriteStagedPolicies bool `json:"writeStagedPolicies,omitempty"`

	// Tier is the Calico tier of calico-staged policies.
	// +optional
	// +kubebuilder:default=namespace-isolation
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	Tier string `json:"tier,omitempty"`
}

// AuditRule selects one rule and overrides its parameters.
type AuditRule struct {
	// ID is a built-in rule id (e.g. "unused-rule") or the name of a RegoRule.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	ID string `json:"id"`

	// Parameters override the rule's defaults, e.g. {"egress": true} for missing-default-deny.
	// +optional
	// +kubebuilder:pruning:PreserveUnknownFields
	Parameters *runtime.RawExtension `json:"parameters,omitempty"`
}

// AuditScheduleStatus is what the auditor last did for a schedule.
type AuditScheduleStatus struct {
	// ObservedGeneration is the generation of the spec the last run used.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// LastRunTime is when the last run (scheduled or requested) started.
	// +optional
	LastRunTime *metav1.Time `json:"lastRunTime,omitempty"`

	// LastScheduleTime is the cron time of the last scheduled run that completed, so that a new
	// leader knows whether a slot was missed.
	// +optional
	LastScheduleTime *metav1.Time `json:"lastScheduleTime,omitempty"`

	// LastSuccessfulTime is when the last run that wrote its reports finished.
	// +optional
	LastSuccessfulTime *metav1.Time `json:"lastSuccessfulTime,omitempty"`

	// NextRunTime is when the next scheduled run is due; empty while suspended.
	// +optional
	NextRunTime *metav1.Time `json:"nextRunTime,omitempty"`

	// LastReport is the name of the ClusterAuditReport of the last successful run; the
	// namespaced AuditReports of that run carry the same name.
	// +optional
	LastReport string `json:"lastReport,omitempty"`

	// LastScore is the cluster score of the last successful run (0-100, 100 is clean).
	// +optional
	LastScore *int32 `json:"lastScore,omitempty"`

	// LastError is why the last run failed; empty after a successful run.
	// +optional
	LastError string `json:"lastError,omitempty"`

	// LastRunRequest is the value of the flowguard.dev/run-now annotation handled last.
	// +optional
	LastRunRequest string `json:"lastRunRequest,omitempty"`

	// Conditions: "Ready" is true when the schedule parses and the last run succeeded.
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// AuditScheduleList is a list of AuditSchedules.
//
// +kubebuilder:object:root=true
type AuditScheduleList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []AuditSchedule `json:"items"`
}
