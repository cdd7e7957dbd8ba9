package rego

import (
	"errors"

	"github.com/open-policy-agent/opa/v1/ast"
)

type clusterIndex struct{}

var errPending = errors.New("not available yet")

func (d *decision) impact(args []*ast.Term) (ast.Value, error)      { return nil, errPending }
func (d *decision) flows(args []*ast.Term) (ast.Value, error)       { return nil, errPending }
func (d *decision) covered(args []*ast.Term) (ast.Value, error)     { return nil, errPending }
func (d *decision) defaultDeny(args []*ast.Term) (ast.Value, error) { return nil, errPending }
func (d *decision) ruleUsage(args []*ast.Term) (ast.Value, error)   { return nil, errPending }
func (d *decision) selectors(args []*ast.Term) (ast.Value, error)   { return nil, errPending }
func (d *decision) shadowed(args []*ast.Term) (ast.Value, error)    { return nil, errPending }
