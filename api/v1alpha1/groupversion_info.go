package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

var (
	// GroupVersion is the group and version of every flowguard resource.
	GroupVersion = schema.GroupVersion{Group: "flowguard.dev", Version: "v1alpha1"}

	// SchemeBuilder registers the types of this package with a runtime.Scheme.
	SchemeBuilder = runtime.NewSchemeBuilder(addKnownTypes)

	// AddToScheme adds the types of this package to a runtime.Scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)

// addKnownTypes registers every kind of this package; a new kind is added here, in one list,
// rather than by an init function beside its type.
func addKnownTypes(s *runtime.Scheme) error {
	s.AddKnownTypes(GroupVersion,
		&AuditSchedule{}, &AuditScheduleList{},
		&ClusterAuditReport{}, &ClusterAuditReportList{},
		&AuditReport{}, &AuditReportList{},
		&RegoRule{}, &RegoRuleList{},
		&ObservedTraffic{}, &ObservedTrafficList{},
	)
	metav1.AddToGroupVersion(s, GroupVersion)
	return nil
}
