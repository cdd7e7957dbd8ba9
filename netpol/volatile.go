package netpol

import "strings"

// VolatileLabels returns the label keys (and prefixes ending in "/") that never select pods
// in a selector flowguard writes or suggests: controllers stamp them on each pod or revision
// (so a selector using them stops matching at the next rollout), charts change them on every
// upgrade, or Calico sets them itself.
func VolatileLabels() []string {
	return []string{
		"pod-template-hash",            // Deployment → ReplicaSet revision
		"controller-revision-hash",     // StatefulSet and DaemonSet revision
		"pod-template-generation",      // DaemonSet generation (older clusters)
		"statefulset.kubernetes.io/",   // pod-name: one pod of a StatefulSet
		"apps.kubernetes.io/pod-index", // StatefulSet ordinal
		"job-name",                     // one run of a CronJob
		"controller-uid",               // one Job object
		"batch.kubernetes.io/",         // job-name, controller-uid, job-completion-index
		"helm.sh/chart",                // chart name and version
		"app.kubernetes.io/version",    // application version
		"projectcalico.org/",           // Calico's automatic labels
	}
}

// VolatileLabel reports whether key is one of VolatileLabels or under one of its prefixes,
// or one of extra (same form).
func VolatileLabel(key string, extra ...string) bool {
	for _, lists := range [][]string{VolatileLabels(), extra} {
		for _, k := range lists {
			if k == key || (strings.HasSuffix(k, "/") && strings.HasPrefix(key, k)) {
				return true
			}
		}
	}
	return false
}
