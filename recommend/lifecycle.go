package recommend

import "time"

// Status is the lifecycle state of a recommendation, after Calico's recommender: learning,
// stabilizing, stable.
type Status string

const (
	// StatusLearning: less than the minimum observation window of traffic has been seen, so
	// connections that occur daily or less often may still be missing.
	StatusLearning Status = "learning"
	// StatusStabilizing: enough has been seen, but a connection the policy allows was first
	// seen less than the stabilization period ago: the traffic is still changing.
	StatusStabilizing Status = "stabilizing"
	// StatusStable: nothing new for the whole stabilization period.
	StatusStable Status = "stable"
)

// Annotations and labels on every recommended object.
const (
	// AnnotationStatus holds the Status.
	AnnotationStatus = "flowguard.dev/recommendation-status"
	// AnnotationObservationWindow is the traffic the recommendation rests on, as an RFC 3339
	// interval "<first seen>/<at>".
	AnnotationObservationWindow = "flowguard.dev/observation-window"
	// AnnotationLastChanged is when the newest connection the policy allows was first seen.
	AnnotationLastChanged = "flowguard.dev/last-changed"
	// AnnotationWorkloads lists the workloads a per-workload policy selects.
	AnnotationWorkloads = "flowguard.dev/workloads"
	// LabelManagedBy marks the objects as recommended, so they can be found and pruned.
	LabelManagedBy = "app.kubernetes.io/managed-by"
	// LabelScope is on every recommended Kubernetes policy: ScopeWorkload for the policy of
	// one group of workloads, ScopeNamespace for the DNS allowance and the default deny, which
	// select every pod of the namespace. The webhook judges each change against the policies
	// it has seen so far, so the workload policies go in (`kubectl apply -l
	// flowguard.dev/scope=workload`) and are seen before the namespace-wide ones follow.
	LabelScope     = "flowguard.dev/scope"
	ScopeWorkload  = "workload"
	ScopeNamespace = "namespace"
)

// lifecycle computes states from the observation window and the injected time.
type lifecycle struct {
	at, from                      time.Time
	minObservation, stabilization time.Duration
}

// status is the state of a policy whose newest connection was first seen at changed (zero
// when it allows nothing observed).
func (l lifecycle) status(changed time.Time) Status {
	if l.from.IsZero() || l.at.Sub(l.from) < l.minObservation {
		return StatusLearning
	}
	if !changed.IsZero() && l.at.Sub(changed) < l.stabilization {
		return StatusStabilizing
	}
	return StatusStable
}

// window renders the observation window for the annotation; "" when nothing was observed.
func (l lifecycle) window() string {
	if l.from.IsZero() {
		return ""
	}
	return l.from.UTC().Format(time.RFC3339) + "/" + l.at.UTC().Format(time.RFC3339)
}
