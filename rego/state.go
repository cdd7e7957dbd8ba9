package rego

import (
	"sync"
	"time"

	"github.com/flowguard/flowguard/flows"
	"github.com/flowguard/flowguard/netpol"
)

// State is the cluster and traffic the builtins read lazily; the webhook and auditor keep it
// current (informers, traffic graph), the CLI loads it from files.
//
// Cluster returns a snapshot: the engine caches the netpol.Engine it builds for a *Cluster by
// pointer, so a snapshot must not be modified once returned. Publish changes by returning a new
// *Cluster (Clone is copy-on-write and cheap).
type State interface {
	Cluster() *netpol.Cluster
	// Traffic is nil before the graph is loaded; rules that need flows are then skipped.
	Traffic() *flows.Graph
	// Now is the end of the lookback window: the clock in a server, the newest flow record (or
	// --at) offline.
	Now() time.Time
}

// NewStaticState returns a State over fixed inputs: the CLI's files, or a test's fixtures.
// graph may be nil.
func NewStaticState(cluster *netpol.Cluster, graph *flows.Graph, now time.Time) State {
	return staticState{cluster: cluster, graph: graph, now: now}
}

type staticState struct {
	cluster *netpol.Cluster
	graph   *flows.Graph
	now     time.Time
}

func (s staticState) Cluster() *netpol.Cluster { return s.cluster }
func (s staticState) Traffic() *flows.Graph    { return s.graph }
func (s staticState) Now() time.Time           { return s.now }

// policyEngines keeps the netpol.Engine of the latest cluster snapshot, so that decisions share
// its memoised endpoint classes and verdicts instead of rebuilding them per request.
type policyEngines struct {
	mu      sync.Mutex
	cluster *netpol.Cluster
	engine  *netpol.Engine
	empty   *netpol.Engine // for a State without a cluster
}

func (p *policyEngines) get(c *netpol.Cluster) *netpol.Engine {
	p.mu.Lock()
	defer p.mu.Unlock()
	if c == nil {
		if p.empty == nil {
			p.empty = netpol.NewEngine(netpol.NewCluster())
		}
		return p.empty
	}
	if p.cluster != c {
		p.cluster, p.engine = c, netpol.NewEngine(c)
	}
	return p.engine
}
