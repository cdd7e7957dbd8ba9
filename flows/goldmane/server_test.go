package goldmane_test

import (
	"context"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr/testr"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/test/bufconn"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/flowguard/flowguard/flows"
	"github.com/flowguard/flowguard/flows/goldmane"
	pb "github.com/flowguard/flowguard/flows/goldmane/proto"
)

// fakeGoldmane is an in-process Flows server with mutual TLS over an in-memory listener. List
// answers from a fixed set of flows with Goldmane's paging; each Stream call runs the next
// script, and the test sees every request.
type fakeGoldmane struct {
	pb.UnimplementedFlowsServer

	listFlows []*pb.Flow
	scripts   []streamScript

	mu      sync.Mutex
	lists   []*pb.FlowListRequest
	streams []*pb.FlowStreamRequest
	peers   []string
	called  chan struct{}
}

// streamScript plays one Stream call: it sends what it likes and returns the call's status.
// Blocking until ctx ends keeps the stream open.
type streamScript func(ctx context.Context, send func(...*pb.Flow)) error

func (g *fakeGoldmane) List(ctx context.Context, req *pb.FlowListRequest) (*pb.FlowListResult, error) {
	g.mu.Lock()
	g.lists = append(g.lists, req)
	g.peers = append(g.peers, peerName(ctx))
	g.mu.Unlock()
	total := int64(len(g.listFlows))
	res := &pb.FlowListResult{Meta: &pb.ListMetadata{TotalResults: total, TotalPages: 1}}
	from, to := int64(0), total
	if req.PageSize > 0 {
		res.Meta.TotalPages = (total + req.PageSize - 1) / req.PageSize
		from = min(req.Page*req.PageSize, total)
		to = min(from+req.PageSize, total)
	}
	for i, f := range g.listFlows[from:to] {
		res.Flows = append(res.Flows, &pb.FlowResult{Id: from + int64(i) + 1, Flow: f})
	}
	return res, nil
}

func (g *fakeGoldmane) Stream(req *pb.FlowStreamRequest, srv grpc.ServerStreamingServer[pb.FlowResult]) error {
	g.mu.Lock()
	n := len(g.streams)
	g.streams = append(g.streams, req)
	g.peers = append(g.peers, peerName(srv.Context()))
	g.mu.Unlock()
	defer func() { g.called <- struct{}{} }()
	if n >= len(g.scripts) {
		<-srv.Context().Done()
		return nil
	}
	return g.scripts[n](srv.Context(), func(fs ...*pb.Flow) {
		for _, f := range fs {
			if err := srv.Send(&pb.FlowResult{Flow: f}); err != nil {
				return
			}
		}
	})
}

// streamRequests returns the Stream requests received so far.
func (g *fakeGoldmane) streamRequests() []*pb.FlowStreamRequest {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]*pb.FlowStreamRequest(nil), g.streams...)
}

func (g *fakeGoldmane) listRequests() []*pb.FlowListRequest {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]*pb.FlowListRequest(nil), g.lists...)
}

func (g *fakeGoldmane) peerNames() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]string(nil), g.peers...)
}

// waitStreamEnded waits until one more Stream call has returned.
func (g *fakeGoldmane) waitStreamEnded(t *testing.T) {
	t.Helper()
	select {
	case <-g.called:
	case <-time.After(10 * time.Second):
		t.Fatalf("timed out waiting for a Stream call to end")
	}
}

func peerName(ctx context.Context) string {
	p, ok := peer.FromContext(ctx)
	if !ok {
		return ""
	}
	info, ok := p.AuthInfo.(credentials.TLSInfo)
	if !ok || len(info.State.PeerCertificates) == 0 {
		return ""
	}
	return info.State.PeerCertificates[0].Subject.CommonName
}

// start serves g and returns client options that reach it through the given PKI's files.
func (g *fakeGoldmane) start(t testing.TB, pki *testPKI) goldmane.Options {
	t.Helper()
	g.called = make(chan struct{}, 16)
	lis := bufconn.Listen(1 << 20)
	srv := grpc.NewServer(grpc.Creds(credentials.NewTLS(pki.ServerTLS(t))))
	pb.RegisterFlowsServer(srv, g)
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)
	return goldmane.Options{
		Address:    "passthrough:///goldmane.test",
		ServerName: "localhost",
		CAFile:     pki.CAFile, CertFile: pki.ClientCert, KeyFile: pki.ClientKey,
		DialOptions: []grpc.DialOption{grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) {
			return lis.DialContext(ctx)
		})},
	}
}

// collector is a sink that hands records to the test.
type collector chan flows.Record

func (c collector) sink(ctx context.Context, r flows.Record) error {
	select {
	case c <- r:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// take waits for n records.
func (c collector) take(t *testing.T, n int) []flows.Record {
	t.Helper()
	var out []flows.Record
	for len(out) < n {
		select {
		case r := <-c:
			out = append(out, r)
		case <-time.After(30 * time.Second):
			t.Fatalf("timed out after %d of %d records", len(out), n)
		}
	}
	return out
}

// run is a client's Run in progress: err is set when done is closed.
type run struct {
	done chan struct{}
	err  error
}

// runClient runs a client until the test ends.
func runClient(t *testing.T, opts goldmane.Options, sink goldmane.Sink) (*goldmane.Client, *run) {
	t.Helper()
	c, err := goldmane.New(opts, sink)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ctx, cancel := context.WithCancel(log.IntoContext(context.Background(), testr.New(t)))
	r := &run{done: make(chan struct{})}
	go func() {
		r.err = c.Run(ctx)
		close(r.done)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-r.done:
		case <-time.After(10 * time.Second):
			t.Errorf("Run did not return after its context ended")
		}
	})
	return c, r
}

// waitFor polls cond, for conditions that live in another goroutine or process and so cannot
// be reached by the test's fake clock.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	if err := wait.PollUntilContextTimeout(t.Context(), 5*time.Millisecond, 30*time.Second, true, func(context.Context) (bool, error) {
		return cond(), nil
	}); err != nil {
		t.Fatalf("waiting for %s: %v", what, err)
	}
}
