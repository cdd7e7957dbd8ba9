package webhook

import (
	"errors"
	"fmt"
	"runtime"
	"slices"
	"time"

	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/flowguard/flowguard/rego"
)

// Defaults for Config.
const (
	// DefaultExemptLabel exempts an object from the rules when its value is "true".
	DefaultExemptLabel = "flowguard.dev/exempt"
	// DefaultDeadline bounds one decision. It sits well inside the 3 s timeoutSeconds of the
	// ValidatingWebhookConfiguration so that the API server always gets an answer from
	// flowguard rather than a timeout, which would cost every request the full 3 s.
	DefaultDeadline = time.Second
	// DefaultQueue is how many decisions wait for a worker before the next is turned away. A
	// decision takes about half a millisecond of CPU, so a full queue is tens of milliseconds
	// of work: far inside the deadline, and short enough that no queue grows into seconds.
	DefaultQueue = 128
)

// DefaultWorkers is the number of decision workers: decisions are CPU-bound, so twice the
// processors Go schedules on (at least four) keeps every core busy while a decision stalls.
func DefaultWorkers() int { return max(4, 2*runtime.GOMAXPROCS(0)) }

// Config is how the webhook decides. The zero value is not useful; start from DefaultConfig.
type Config struct {
	// Overrides replaces the enforcement action of the rules it names, keyed by rule id.
	Overrides map[string]rego.Action
	// ExemptNamespaces are never evaluated by the rules; requests for objects in them (or, for
	// a Namespace, about them) are admitted unchecked.
	ExemptNamespaces []string
	// ExemptLabel is a label key; an object carrying it with the value "true" skips the rules.
	// Empty turns object exemptions off.
	ExemptLabel string
	// Deadline bounds one decision, from the moment the request is decoded.
	Deadline time.Duration
	// FailClosed chooses, per degraded mode, to refuse rather than to admit with a warning.
	FailClosed FailClosed
	// Workers decide requests, at most this many at once; Queue more wait for one. A request
	// arriving when all are taken is answered at once as a decision past its deadline is.
	Workers, Queue int
}

// FailClosed lists the degraded modes in which the webhook refuses instead of admitting with a
// warning. All are off by default: an admission webhook that fails closed can lock a cluster out
// of its own repair (see docs/webhook.md).
type FailClosed struct {
	// WithoutFlows refuses when a rule whose action is deny needs the traffic graph and the
	// graph is not loaded yet.
	WithoutFlows bool
	// OnDeadline refuses when the decision does not finish within Config.Deadline, or cannot
	// start because every worker is busy and the queue is full (overload).
	OnDeadline bool
	// OnError refuses when the rules fail to evaluate or the handler panics.
	OnError bool
}

// DefaultConfig returns the configuration flowguard ships with: exempt namespaces are the
// namespace flowguard runs in and kube-system, every degraded mode admits with a warning.
func DefaultConfig(ownNamespace string) Config {
	exempt := []string{"kube-system"}
	if ownNamespace != "" && ownNamespace != "kube-system" {
		exempt = append([]string{ownNamespace}, exempt...)
	}
	return Config{
		ExemptNamespaces: exempt,
		ExemptLabel:      DefaultExemptLabel,
		Deadline:         DefaultDeadline,
		Workers:          DefaultWorkers(),
		Queue:            DefaultQueue,
	}
}

// Validate reports every problem with the configuration at once.
func (c Config) Validate() error {
	var errs []error
	for id, a := range c.Overrides {
		if !validAction(a) {
			errs = append(errs, fmt.Errorf("action override for rule %q: %q is not one of deny, warn, dryrun", id, a))
		}
	}
	for _, ns := range c.ExemptNamespaces {
		for _, msg := range validation.IsDNS1123Label(ns) {
			errs = append(errs, fmt.Errorf("exempt namespace %q: %s", ns, msg))
		}
	}
	if c.ExemptLabel != "" {
		for _, msg := range validation.IsQualifiedName(c.ExemptLabel) {
			errs = append(errs, fmt.Errorf("exempt label %q: %s", c.ExemptLabel, msg))
		}
	}
	if c.Deadline <= 0 {
		errs = append(errs, fmt.Errorf("decision deadline %s: must be positive", c.Deadline))
	}
	if c.Workers < 1 {
		errs = append(errs, fmt.Errorf("decision workers %d: must be at least 1", c.Workers))
	}
	if c.Queue < 0 {
		errs = append(errs, fmt.Errorf("decision queue %d: must not be negative", c.Queue))
	}
	return errors.Join(errs...)
}

// action is the enforcement action that applies to a rule: the override if configured, else
// the rule's own, else deny (a rule without an action is treated as Gatekeeper treats one).
func (c *Config) action(r rego.Rule) rego.Action {
	if a, ok := c.Overrides[r.ID]; ok {
		return a
	}
	if validAction(r.Action) {
		return r.Action
	}
	return rego.ActionDeny
}

func (c *Config) namespaceExempt(ns string) bool {
	return ns != "" && slices.Contains(c.ExemptNamespaces, ns)
}

func validAction(a rego.Action) bool {
	return a == rego.ActionDeny || a == rego.ActionWarn || a == rego.ActionDryRun
}
