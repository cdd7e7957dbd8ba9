package rego

import (
	"errors"
	"fmt"
	"sync"

	"github.com/open-policy-agent/opa/v1/ast"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/flowguard/flowguard/flows"
	"github.com/flowguard/flowguard/netpol"
)

var errNoTraffic = errors.New("no traffic graph is loaded")

// endpointCache keeps one netpol.Endpoint per identity of the current traffic graph, so that
// decisions reuse them (and netpol's per-endpoint class bindings) instead of converting flow
// endpoints again. Identity IDs are never reused while a graph lives.
type endpointCache struct {
	mu    sync.Mutex
	graph *flows.Graph
	eps   map[flows.IdentityID]*netpol.Endpoint
}

func (c *endpointCache) get(g *flows.Graph, id flows.IdentityID, fe *flows.Endpoint) *netpol.Endpoint {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.graph != g {
		c.graph, c.eps = g, map[flows.IdentityID]*netpol.Endpoint{}
	}
	ep, ok := c.eps[id]
	if !ok {
		ep = netpol.FlowEndpoint(*fe)
		c.eps[id] = ep
	}
	return ep
}

// shared is what decisions share across requests: the netpol engine of the latest cluster
// snapshot, its inventory of selectable things, and the endpoints of the traffic graph.
type shared struct {
	engines     policyEngines
	endpoints   endpointCache
	inventories inventories
	scratch     sync.Pool // of *connScratch
}

// base is the netpol engine of the State's cluster snapshot.
func (d *decision) base() *netpol.Engine {
	if d.baseEngine == nil {
		var c *netpol.Cluster
		if d.state != nil {
			c = d.state.Cluster()
		}
		d.baseEngine = d.shared.engines.get(c)
	}
	return d.baseEngine
}

// traffic is the State's traffic graph, or an error when there is none.
func (d *decision) traffic() (*flows.Graph, error) {
	if d.state == nil || d.state.Traffic() == nil {
		return nil, errNoTraffic
	}
	return d.state.Traffic(), nil
}

// window is a graph query over the lookback window.
func (d *decision) window() flows.Query { return flows.Query{From: d.from, To: d.to} }

// endpoint returns the netpol endpoint of one side of a connection.
func (d *decision) endpoint(g *flows.Graph, id flows.IdentityID, fe *flows.Endpoint) *netpol.Endpoint {
	return d.shared.endpoints.get(g, id, fe)
}

// world is the cluster the object under review lives in: in an audit the State's, in an
// admission the State's after the request's change, so that a policy being created is compiled
// and judged as it would be once applied.
func (d *decision) world() (*netpol.Engine, error) {
	if d.req == nil {
		return d.base(), nil
	}
	if !d.worldDone {
		d.worldDone = true
		d.worldEngine, d.worldErr = d.changedRequest()
	}
	return d.worldEngine, d.worldErr
}

// changed returns the base engine after one change given as rule-input objects. Kinds netpol
// does not read change nothing.
func (d *decision) changed(op netpol.Operation, oldObj, newObj map[string]any) (*netpol.Engine, error) {
	oldT, err := typedObject(oldObj)
	if err != nil {
		return nil, fmt.Errorf("old object: %w", err)
	}
	newT, err := typedObject(newObj)
	if err != nil {
		return nil, err
	}
	return d.changedTyped(op, oldT, newT)
}

// changedRequest is changed for the request under review, decoding its objects from the JSON
// the caller gave, if any.
func (d *decision) changedRequest() (*netpol.Engine, error) {
	oldT, err := typedObjectJSON(d.req.OldObject, d.req.OldObjectJSON)
	if err != nil {
		return nil, fmt.Errorf("old object: %w", err)
	}
	newT, err := typedObjectJSON(d.req.Object, d.req.ObjectJSON)
	if err != nil {
		return nil, err
	}
	return d.changedTyped(netpol.Operation(d.req.Operation), oldT, newT)
}

func (d *decision) changedTyped(op netpol.Operation, oldT, newT runtime.Object) (*netpol.Engine, error) {
	base := d.base()
	if (op == netpol.Delete && oldT == nil) || (op != netpol.Delete && newT == nil) {
		return base, nil
	}
	if op == netpol.Update && oldT == nil {
		op = netpol.Create
	}
	after, err := base.WithChange(op, oldT, newT)
	if err != nil {
		return nil, fmt.Errorf("apply %s to the cluster: %w", op, err)
	}
	return after, nil
}

// isRequest reports whether builtin arguments (object, old object, operation) are exactly the
// request under review, so that its change is computed once per decision.
func (d *decision) isRequest(obj, old, op *ast.Term) bool {
	if d.req == nil || d.input == nil {
		return false
	}
	in, ok := d.input.(ast.Object)
	if !ok {
		return false
	}
	return termEq(in.Get(ast.StringTerm("object")), obj) && termEq(in.Get(ast.StringTerm("oldObject")), old) &&
		termEq(in.Get(ast.StringTerm("operation")), op)
}

func termEq(a, b *ast.Term) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Equal(b)
}

// objectArg converts a builtin's object argument (null allowed) to a map. In an admission the
// last few maps are kept for the decision, so that the rules' builtins, which mostly pass the
// request's object, convert it once rather than each; builtins only read them. An audit, one
// decision over every object, does not keep them.
func (d *decision) objectArg(t *ast.Term) (map[string]any, error) {
	if _, isNull := t.Value.(ast.Null); isNull {
		return nil, nil
	}
	o, isObject := t.Value.(ast.Object)
	if isObject {
		for _, c := range d.objects {
			if c.v == o || c.v.Compare(o) == 0 {
				return c.m, nil
			}
		}
	}
	m, err := objectArg(t)
	if err == nil && isObject && d.req != nil {
		if len(d.objects) == maxConvertedObjects {
			d.objects = d.objects[1:]
		}
		d.objects = append(d.objects, convertedObject{v: o, m: m})
	}
	return m, err
}

// requiredObjectArg is objectArg for builtins that cannot answer without an object: null is an
// error naming what was wanted.
func (d *decision) requiredObjectArg(t *ast.Term, what string) (map[string]any, error) {
	obj, err := d.objectArg(t)
	if err != nil {
		return nil, fmt.Errorf("want %s: %w", what, err)
	}
	if obj == nil {
		return nil, fmt.Errorf("want %s, got null", what)
	}
	return obj, nil
}

// policyArg reads a policy object argument and the policy it names.
func (d *decision) policyArg(t *ast.Term) (map[string]any, netpol.PolicyRef, error) {
	obj, err := d.requiredObjectArg(t, "a policy object")
	if err != nil {
		return nil, netpol.PolicyRef{}, err
	}
	ref, ok := policyRefOf(obj)
	if !ok {
		return nil, netpol.PolicyRef{}, fmt.Errorf("%s is not a policy kind", objectKind(obj))
	}
	return obj, ref, nil
}

const maxConvertedObjects = 4

// convertedObject is an object argument and its conversion.
type convertedObject struct {
	v ast.Object
	m map[string]any
}

// objectArg converts a builtin's object argument (null allowed) to a map.
func objectArg(t *ast.Term) (map[string]any, error) {
	if _, isNull := t.Value.(ast.Null); isNull {
		return nil, nil
	}
	v, err := ast.JSON(t.Value)
	if err != nil {
		return nil, err
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("want an object, got %s", ast.ValueName(t.Value))
	}
	return m, nil
}
