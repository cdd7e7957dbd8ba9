package webhook

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"

	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/flowguard/flowguard/api/v1alpha1"
	"github.com/flowguard/flowguard/rego"
	"github.com/flowguard/flowguard/rego/rulefile"
)

// +kubebuilder:rbac:groups=flowguard.dev,resources=regorules,verbs=get;list;watch

// RuleSetter is the part of *rego.Engine that RuleLoader drives.
type RuleSetter interface {
	SetUserRuleSet(rules []rego.UserRule) error
}

// RuleLoader keeps the engine's user rules in step with the RegoRules in the cluster, on every
// replica, without a restart: its owner loops on WaitForChange and Load. Changes are coalesced:
// a burst of edits compiles the rule set once.
type RuleLoader struct {
	engine RuleSetter
	reader client.Reader
	kick   chan struct{}
	loaded atomic.Bool
	reg    toolscache.ResourceEventHandlerRegistration
}

// NewRuleLoader returns a loader that lists RegoRules through reader (the manager's cache).
func NewRuleLoader(engine RuleSetter, reader client.Reader) *RuleLoader {
	return &RuleLoader{engine: engine, reader: reader, kick: make(chan struct{}, 1)}
}

// Watch asks to be told of every RegoRule change. Changes are coalesced: a signal already
// pending covers the next one.
func (l *RuleLoader) Watch(ctx context.Context, c cache.Cache) error {
	inf, err := c.GetInformer(ctx, &v1alpha1.RegoRule{})
	if err != nil {
		return fmt.Errorf("watch RegoRules: %w", err)
	}
	notify := func(any) {
		select {
		case l.kick <- struct{}{}:
		default:
		}
	}
	l.reg, err = inf.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
		AddFunc:    notify,
		UpdateFunc: func(_, o any) { notify(o) },
		DeleteFunc: notify,
	})
	if err != nil {
		return fmt.Errorf("watch RegoRules: %w", err)
	}
	return nil
}

// WaitForChange blocks until the RegoRules should be loaded: the first time until the first
// list has arrived (even an empty one), then until the next change. It fails when ctx ends.
func (l *RuleLoader) WaitForChange(ctx context.Context) error {
	if l.reg == nil {
		return errors.New("load RegoRules: Watch was not called")
	}
	if !l.loaded.Load() {
		if !toolscache.WaitForCacheSync(ctx.Done(), l.reg.HasSynced) {
			return ctx.Err()
		}
		return nil
	}
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-l.kick:
		return nil
	}
}

// Load compiles the RegoRules in the cache into the engine; a rule that fails is logged and
// left out, the others are in force.
func (l *RuleLoader) Load(ctx context.Context) {
	if err := l.reload(ctx); err != nil {
		logf.FromContext(ctx).WithName("regorules").Error(err, "Some RegoRules are not in force")
	}
	l.loaded.Store(true)
}

func (l *RuleLoader) reload(ctx context.Context) error {
	var list v1alpha1.RegoRuleList
	if err := l.reader.List(ctx, &list); err != nil {
		return fmt.Errorf("list RegoRules: %w", err)
	}
	rules := make([]rego.UserRule, 0, len(list.Items))
	var errs []error
	for i := range list.Items {
		r, err := rulefile.FromRegoRule(&list.Items[i])
		if err != nil {
			errs = append(errs, err)
			continue
		}
		rules = append(rules, r)
	}
	if err := l.engine.SetUserRuleSet(rules); err != nil {
		errs = append(errs, err)
	}
	logf.FromContext(ctx).Info("User rules reloaded", "regorules", len(list.Items))
	return errors.Join(errs...)
}

// errRulesNotLoaded is what readiness reports until the RegoRules have been loaded once.
var errRulesNotLoaded = errors.New("RegoRules have not been loaded yet")

// Loaded reports whether the user rules have been loaded once: a replica that admitted requests
// before would skip every user rule.
func (l *RuleLoader) Loaded() error {
	if l.loaded.Load() {
		return nil
	}
	return errRulesNotLoaded
}
