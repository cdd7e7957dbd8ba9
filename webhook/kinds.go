package webhook

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"

	admissionv1 "k8s.io/api/admission/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// kindInfo says what the webhook does with one kind.
type kindInfo struct {
	// name labels metrics and logs; it is the target name rules use ("NetworkPolicy",
	// "projectcalico.org/GlobalNetworkPolicy", "Deployment").
	name string
	// ops are the operations that can change traffic (or, for RegoRule, the rule set).
	create, update, delete bool
	// labelsOnly restricts updates to those that change the labels at labelPath: only labels
	// move selectors, so other updates cannot change which traffic flows.
	labelsOnly bool
	labelPath  labelPath
	// specOrLabels restricts updates to those that change the spec or the labels: re-applying
	// an unchanged policy (what GitOps controllers do every few minutes) or touching only its
	// annotations cannot change which traffic flows. Labels count because sets are selected by
	// them.
	specOrLabels bool
	// ownedByController objects are created by a controller from a template that was checked
	// when it was applied (a Deployment's ReplicaSets and pods, a CronJob's Jobs); their
	// creation is admitted without evaluation.
	skipControlledCreate bool
	// calico kinds get the semantic validation their CRD schema cannot express.
	calico bool
	// regoRule requests are compile-checked.
	regoRule bool
}

type labelPath uint8

const (
	metadataLabels labelPath = iota
	templateLabels
	jobTemplateLabels
)

// Groups of the kinds the webhook handles.
const (
	calicoGroup    = "projectcalico.org"
	adminGroup     = "policy.networking.k8s.io"
	flowguardGroup = "flowguard.dev"
)

// route returns what to do with a kind, and false for kinds the webhook does not handle (the
// ValidatingWebhookConfiguration should never send them).
func route(gk schema.GroupKind) (kindInfo, bool) {
	all := kindInfo{create: true, update: true, delete: true, specOrLabels: true}
	switch gk.Group {
	case "networking.k8s.io":
		if gk.Kind == "NetworkPolicy" {
			all.name = "NetworkPolicy"
			return all, true
		}
	case calicoGroup:
		switch gk.Kind {
		case "NetworkPolicy", "GlobalNetworkPolicy", "StagedNetworkPolicy", "StagedGlobalNetworkPolicy",
			"StagedKubernetesNetworkPolicy", "NetworkSet", "GlobalNetworkSet", "Tier":
			all.name = calicoGroup + "/" + gk.Kind
			all.calico = true
			return all, true
		}
	case adminGroup:
		switch gk.Kind {
		case "AdminNetworkPolicy", "BaselineAdminNetworkPolicy", "ClusterNetworkPolicy":
			all.name = adminGroup + "/" + gk.Kind
			return all, true
		}
	case flowguardGroup:
		if gk.Kind == "RegoRule" {
			return kindInfo{name: flowguardGroup + "/RegoRule", create: true, update: true, regoRule: true}, true
		}
	case "":
		switch gk.Kind {
		case "Namespace":
			// A namespace's labels move namespaceSelectors; creating one moves no traffic yet.
			return kindInfo{name: "Namespace", update: true, labelsOnly: true, labelPath: metadataLabels}, true
		case "Pod":
			return workload("Pod", metadataLabels), true
		case "ReplicationController":
			return workload(gk.Kind, templateLabels), true
		}
	case "apps":
		switch gk.Kind {
		case "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet":
			return workload(gk.Kind, templateLabels), true
		}
	case "batch":
		switch gk.Kind {
		case "Job":
			return workload(gk.Kind, templateLabels), true
		case "CronJob":
			return workload(gk.Kind, jobTemplateLabels), true
		}
	}
	return kindInfo{}, false
}

func workload(name string, p labelPath) kindInfo {
	return kindInfo{name: name, create: true, update: true, labelsOnly: true, labelPath: p, skipControlledCreate: true}
}

// wants says whether an operation on this kind needs any check at all.
func (k kindInfo) wants(op admissionv1.Operation) bool {
	switch op {
	case admissionv1.Create:
		return k.create
	case admissionv1.Update:
		return k.update
	case admissionv1.Delete:
		return k.delete
	}
	return false
}

// labelView is the part of an object that routing reads. Decoding into it skips every other
// field without allocating, which keeps label-only updates and controlled creates cheap.
type labelView struct {
	Metadata objectMeta `json:"metadata"`
	// Spec is kept raw: policies compare it whole, workloads read their templates from it.
	Spec json.RawMessage `json:"spec"`
	spec struct {
		Template    templateView `json:"template"`
		JobTemplate struct {
			Spec struct {
				Template templateView `json:"template"`
			} `json:"spec"`
		} `json:"jobTemplate"`
	}
}

type objectMeta struct {
	Labels          map[string]string `json:"labels"`
	OwnerReferences []struct {
		Controller *bool `json:"controller"`
	} `json:"ownerReferences"`
}

type templateView struct {
	Metadata struct {
		Labels map[string]string `json:"labels"`
	} `json:"metadata"`
}

func decodeLabelView(raw runtime.RawExtension, k kindInfo) (labelView, error) {
	var v labelView
	if len(raw.Raw) == 0 {
		return v, nil
	}
	if err := json.Unmarshal(raw.Raw, &v); err != nil {
		return v, fmt.Errorf("decode metadata: %w", err)
	}
	if k.labelPath != metadataLabels && len(v.Spec) > 0 {
		if err := json.Unmarshal(v.Spec, &v.spec); err != nil {
			return v, fmt.Errorf("decode spec: %w", err)
		}
	}
	return v, nil
}

func (v *labelView) labels(p labelPath) map[string]string {
	switch p {
	case templateLabels:
		return v.spec.Template.Metadata.Labels
	case jobTemplateLabels:
		return v.spec.JobTemplate.Spec.Template.Metadata.Labels
	}
	return v.Metadata.Labels
}

func (v *labelView) controlled() bool {
	for _, o := range v.Metadata.OwnerReferences {
		if o.Controller != nil && *o.Controller {
			return true
		}
	}
	return false
}

// skipCheaply reports whether a request can be admitted from its labels and spec alone: an
// update that leaves the traffic-relevant labels (and, for policies and sets, the spec)
// unchanged, or a controller creating an object from a template that was checked when its
// owner was applied.
func (r *review) skipCheaply() bool {
	switch {
	case r.req.Operation == admissionv1.Update && r.kind.labelsOnly:
		return maps.Equal(r.view.labels(r.kind.labelPath), r.oldView.labels(r.kind.labelPath))
	case r.req.Operation == admissionv1.Update && r.kind.specOrLabels:
		// The API server encodes both objects alike, so equal specs are equal bytes; a
		// difference in encoding alone only costs an evaluation.
		return bytes.Equal(r.view.Spec, r.oldView.Spec) && maps.Equal(r.view.Metadata.Labels, r.oldView.Metadata.Labels)
	case r.req.Operation == admissionv1.Create && r.kind.skipControlledCreate:
		return r.view.controlled()
	}
	return false
}
