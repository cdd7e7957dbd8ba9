package rego

import "time"

// State is the cluster and traffic the builtins read lazily; the webhook and auditor keep it
// current (informers, traffic graph), the CLI loads it from files.
type State interface {
	Traffic() any
	Now() time.Time
}
