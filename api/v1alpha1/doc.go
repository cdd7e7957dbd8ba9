// Package v1alpha1 holds the flowguard.dev/v1alpha1 custom resource types: audit schedules,
// audit reports, user Rego rules and learned traffic. It holds types only, never behaviour.
//
// +kubebuilder:object:generate=true
// +groupName=flowguard.dev
package v1alpha1
