package rego

import "strings"

// isCoreGroup reports whether rules name the kinds of an API group without the group.
func isCoreGroup(group string) bool {
	switch group {
	case "", "apps", "batch", "networking.k8s.io":
		return true
	}
	return false
}

// KindName is how rules name a kind in custom.targets and custom.subjects: the bare kind for the
// core, apps, batch and networking.k8s.io groups, "group/Kind" otherwise.
func KindName(group, kind string) string {
	if isCoreGroup(group) {
		return kind
	}
	return group + "/" + kind
}

// groupOf returns the group of an apiVersion ("apps/v1" -> "apps", "v1" -> "").
func groupOf(apiVersion string) string {
	if i := strings.IndexByte(apiVersion, '/'); i >= 0 {
		return apiVersion[:i]
	}
	return ""
}
