package goldmane

import (
	"context"
	"errors"
	"fmt"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/flowguard/flowguard/flows"
	pb "github.com/flowguard/flowguard/flows/goldmane/proto"
)

// streamInterval is the only aggregation interval Goldmane's Stream accepts, in seconds.
const streamInterval = 15

// listAttempts bounds how often a List is repeated because the set of flows shifted under its
// pages.
const listAttempts = 3

// list backfills every window that ended before the cut-off, page by page, and sets the stream
// to start at the cut-off. The cut-off lies two windows before now, so the windows listed are
// complete (Goldmane streams a window only once the next one is over) and a client clock a
// window ahead of the server's still cuts at a window the stream has not passed. It is chosen
// once: a List retried after a failure covers the same windows, and what it repeats is dropped
// as duplicates.
func (c *Client) list(ctx context.Context, api pb.FlowsClient) (int, error) {
	iv := int64(c.opts.Interval / time.Second)
	c.mu.Lock()
	if c.listUntil == 0 {
		c.listUntil = c.alignedNow() - 2*max(iv, 1)
	}
	since, until := c.track.since, c.listUntil
	c.mu.Unlock()
	if since >= until {
		// A previous client delivered up to since: stream from there.
		c.finishList(since)
		return 0, nil
	}
	logger := log.FromContext(ctx)
	n := 0
	for attempt := 1; ; attempt++ {
		shifted, err := c.listPages(ctx, api, since, until, &n)
		if err != nil {
			return n, err
		}
		if !shifted {
			break
		}
		if attempt == listAttempts {
			logger.Info("Goldmane flows kept changing while being listed; some may be missed", "attempts", attempt)
			break
		}
		// Pages are offsets into a sorted index: a flow that expired or arrived late moved the
		// others across page boundaries. Listing again is safe, repeats are duplicates.
		logger.V(1).Info("Goldmane flows changed while being listed; listing again", "attempt", attempt)
	}
	logger.V(1).Info("Backfilled from Goldmane", "flows", n, "from", since, "until", until)
	c.finishList(until)
	return n, nil
}

func (c *Client) finishList(resume int64) {
	c.mu.Lock()
	c.listed = true
	if resume > c.track.resume {
		c.track.resume = resume
	}
	c.mu.Unlock()
}

// listPages lists [since, until) once, delivering each flow. It reports whether the total number
// of flows changed between pages.
func (c *Client) listPages(ctx context.Context, api pb.FlowsClient, since, until int64, n *int) (bool, error) {
	total := int64(-1)
	shifted := false
	for page := int64(0); ; page++ {
		res, err := api.List(ctx, &pb.FlowListRequest{
			StartTimeGte: since,
			StartTimeLt:  until,
			Page:         page,
			PageSize:     int64(c.opts.PageSize),
			// The destination-name index has a stable order; the default time order does not.
			SortBy: []*pb.SortOption{{SortBy: pb.SortBy_DestName}},
		})
		if err != nil {
			return false, fmt.Errorf("list Goldmane flows starting in [%d, %d), page %d: %w", since, until, page, err)
		}
		meta := res.GetMeta()
		if total < 0 {
			total = meta.GetTotalResults()
		} else if meta.GetTotalResults() != total {
			shifted = true
		}
		for _, r := range res.GetFlows() {
			*n++
			if err := c.deliver(ctx, r, flows.Location{Source: c.opts.Address + " List", Line: *n}, false); err != nil {
				return false, err
			}
		}
		if len(res.GetFlows()) == 0 || page+1 >= meta.GetTotalPages() {
			return shifted, nil
		}
	}
}

// stream follows Flows.Stream from the resume point until it breaks.
func (c *Client) stream(ctx context.Context, api pb.FlowsClient) (int, error) {
	logger := log.FromContext(ctx)
	c.mu.Lock()
	gte := c.track.resume
	if oldest := c.opts.Clock.Now().Add(-c.opts.History).Unix(); gte < oldest {
		// Goldmane backfills nothing from before its history; ask for all of it instead, relative
		// to the server's clock.
		logger.Info("Goldmane stream resumes after its history; flows in the gap are lost", "resume", gte, "history", c.opts.History)
		gte = -int64(c.opts.History / time.Second)
		c.gaps++
	}
	c.mu.Unlock()
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	st, err := api.Stream(sctx, &pb.FlowStreamRequest{StartTimeGte: gte, AggregationInterval: streamInterval})
	if err != nil {
		return 0, fmt.Errorf("stream Goldmane flows from %d: %w", gte, err)
	}
	logger.V(1).Info("Streaming from Goldmane", "from", gte)
	n := 0
	for {
		res, err := st.Recv()
		if err != nil {
			if isEOF(err) {
				err = errors.New("server ended the stream")
			}
			return n, fmt.Errorf("stream Goldmane flows from %d, after %d results: %w", gte, n, err)
		}
		n++
		if err := c.deliver(ctx, res, flows.Location{Source: c.opts.Address + " Stream", Line: n}, true); err != nil {
			return n, err
		}
		c.maybePrune()
	}
}

// maybePrune forgets, once per window, the keys the server can no longer send again.
func (c *Client) maybePrune() {
	now := c.opts.Clock.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	if now.Sub(c.lastPrune) < c.opts.Interval {
		return
	}
	c.lastPrune = now
	c.track.prune(now.Add(-c.opts.History - 2*c.opts.Interval).Unix())
}
