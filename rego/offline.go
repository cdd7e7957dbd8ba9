package rego

import (
	"fmt"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/runtime"

	"github.com/flowguard/flowguard/netpol"
)

// ExistingObject finds the object of the same kind, namespace and name as obj in a cluster
// snapshot: found reports whether the cluster holds one, old is it in the rule-input form, or
// nil for kinds netpol keeps only compiled (network sets, tiers, host endpoints). It is what
// an offline check needs to send an UPDATE or DELETE as the API server would.
func ExistingObject(c *netpol.Cluster, obj map[string]any) (old map[string]any, found bool, err error) {
	meta, _ := obj["metadata"].(map[string]any)
	ns, name := str(meta["namespace"]), str(meta["name"])
	kind := objectKind(obj)
	switch kind {
	case "Namespace":
		for _, n := range c.Namespaces() {
			if n.Name == name {
				return withTypeMeta(n, kind)
			}
		}
		return nil, false, nil
	case "Pod", "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "ReplicationController", "Job", "CronJob":
		if ns == "" {
			ns = "default"
		}
		if o := c.WorkloadObject(netpol.WorkloadRef{Kind: kind, Namespace: ns, Name: name}); o != nil {
			return withTypeMeta(o, kind)
		}
		return nil, false, nil
	case "projectcalico.org/NetworkSet", "projectcalico.org/GlobalNetworkSet":
		if kind == "projectcalico.org/NetworkSet" && ns == "" {
			ns = "default"
		} else if kind == "projectcalico.org/GlobalNetworkSet" {
			ns = ""
		}
		found := slices.ContainsFunc(c.NetworkSets(), func(s *netpol.NetworkSet) bool { return s.Namespace == ns && s.Name == name })
		return nil, found, nil
	case "projectcalico.org/Tier":
		return nil, slices.ContainsFunc(c.Tiers(), func(t *netpol.Tier) bool { return t.Name == name }), nil
	case "projectcalico.org/HostEndpoint":
		return nil, slices.ContainsFunc(c.HostEndpoints(), func(h *netpol.HostEndpoint) bool { return h.Name == name }), nil
	}
	if ref, ok := policyRefOf(obj); ok {
		if p := c.Policy(ref); p != nil {
			return withTypeMeta(p.Object, kind)
		}
	}
	return nil, false, nil
}

// ApplyChange returns the cluster after one change given in rule-input form (op is CREATE,
// UPDATE or DELETE); kinds netpol does not read leave it as it is.
func ApplyChange(c *netpol.Cluster, op string, old, obj map[string]any) (*netpol.Cluster, error) {
	oldT, err := typedObject(old)
	if err != nil {
		return nil, err
	}
	newT, err := typedObject(obj)
	if err != nil {
		return nil, err
	}
	switch {
	case op == "DELETE" && oldT == nil:
		oldT = newT
	case op != "DELETE" && newT == nil:
		return c, nil
	}
	if oldT == nil && newT == nil {
		return c, nil
	}
	if op == "DELETE" {
		newT = nil
	}
	next, err := c.WithChange(netpol.Operation(strings.ToUpper(op)), oldT, newT)
	if err != nil {
		return nil, fmt.Errorf("apply %s: %w", op, err)
	}
	return next, nil
}

// withTypeMeta converts a typed object to rule-input form with its apiVersion and kind set
// (objects from informers often carry an empty TypeMeta).
func withTypeMeta(o runtime.Object, kind string) (map[string]any, bool, error) {
	m, err := toMap(o)
	if err != nil {
		return nil, true, err
	}
	_, k, found := strings.Cut(kind, "/")
	if !found {
		k = kind
	}
	m["apiVersion"], m["kind"] = apiVersionOf(kind), k
	return m, true, nil
}
