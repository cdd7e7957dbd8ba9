package rego

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/flowguard/flowguard/flows"
	"github.com/flowguard/flowguard/test/synth"
)

// TestGraphScanStopsWhenTheDecisionEnds checks that a builtin's scan of the traffic graph stops
// within scanCheckEvery edges of the decision's context ending, rather than reading them all.
func TestGraphScanStopsWhenTheDecisionEnds(t *testing.T) {
	sc := synth.Generate(synth.Config{Seed: 1, Namespaces: 40, WorkloadsPerNamespace: 5, Replicas: 2})
	g, err := flows.NewGraph(flows.GraphOptions{Retention: -1, MaxEdges: -1})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2025, 10, 1, 12, 0, 0, 0, time.UTC)
	g.AddBatch(sc.Records(100_000, 1, now, time.Hour))
	if edges := g.Stats().Edges; edges < 2*scanCheckEvery+1 {
		t.Fatalf("the graph has %d edges; the test needs more than %d", edges, 2*scanCheckEvery)
	}
	state := NewStaticState(nil, g, now)

	whole := newDecision(context.Background(), state, &shared{}, time.Hour)
	all, err := whole.connections(g, whole.window())
	if err != nil || len(all) == 0 {
		t.Fatalf("connections under a live context = %d, %v", len(all), err)
	}

	tests := map[string]struct {
		looks       int // looks at the context that find it live
		wantVisited string
	}{
		"a decision already ended reads no edge":          {looks: 0, wantVisited: "stopped after 0 edges"},
		"a decision ending midway stops at the next look": {looks: 2, wantVisited: "stopped after 8192 edges"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			d := newDecision(&endingContext{Context: context.Background(), left: tc.looks}, state, &shared{}, time.Hour)
			got, err := d.connections(g, d.window())
			if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), tc.wantVisited) {
				t.Fatalf("connections = %d, %v; want an error saying %q", len(got), err, tc.wantVisited)
			}
		})
	}
}

// endingContext reports itself cancelled once Err has been asked left times: a deadline that
// passes while the work runs, reached by counting the work's looks rather than by the clock.
type endingContext struct {
	context.Context
	left int
}

func (c *endingContext) Err() error {
	if c.left == 0 {
		return context.Canceled
	}
	c.left--
	return nil
}
