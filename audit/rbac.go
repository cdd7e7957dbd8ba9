package audit

// What the auditor may do, for `make manifests` to put in the manager's ClusterRole: read its
// schedules and record their status, write and prune its own reports, read namespaces (from the
// informer cache), read the metadata of policies it emits Events on, and emit those Events.
//
// +kubebuilder:rbac:groups=flowguard.dev,resources=auditschedules,verbs=get;list;watch
// +kubebuilder:rbac:groups=flowguard.dev,resources=auditschedules/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=flowguard.dev,resources=clusterauditreports;auditreports,verbs=get;list;watch;create;update;delete
// +kubebuilder:rbac:groups="",resources=namespaces,verbs=get;list;watch
// +kubebuilder:rbac:groups=networking.k8s.io,resources=networkpolicies,verbs=get;list;watch
// +kubebuilder:rbac:groups=projectcalico.org,resources=networkpolicies;globalnetworkpolicies;stagednetworkpolicies;stagedglobalnetworkpolicies;stagedkubernetesnetworkpolicies;networksets;globalnetworksets;tiers,verbs=get;list;watch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch
