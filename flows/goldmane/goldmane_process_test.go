//go:build e2e

package goldmane_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	pb "github.com/flowguard/flowguard/flows/goldmane/proto"
)

// realGoldmane runs the goldmane binary of GOLDMANE_ASSETS (built by hack/goldmane.sh) with
// mutual TLS from a test PKI, on a port of its own.
type realGoldmane struct {
	t      *testing.T
	bin    string
	pki    *testPKI
	port   int
	window time.Duration
	cmd    *exec.Cmd
	exited chan struct{}
	logs   string
}

// goldmaneAssets returns the folder holding the goldmane and flowgen binaries, skipping the test
// failing the test when it is not configured.
func goldmaneAssets(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("GOLDMANE_ASSETS")
	if dir == "" {
		t.Fatal("GOLDMANE_ASSETS is not set: run hack/goldmane.sh and set it to the folder it prints (make test-e2e does both)")
	}
	return dir
}

func newRealGoldmane(t *testing.T, pki *testPKI, window time.Duration) *realGoldmane {
	t.Helper()
	g := &realGoldmane{t: t, bin: filepath.Join(goldmaneAssets(t), "goldmane"), pki: pki, port: freePort(t), window: window}
	if _, err := os.Stat(g.bin); err != nil {
		t.Fatalf("GOLDMANE_ASSETS has no goldmane binary: %v", err)
	}
	t.Cleanup(func() {
		g.stop()
		if t.Failed() {
			if b, err := os.ReadFile(g.logs); err == nil {
				t.Logf("goldmane log (last 4KiB):\n%s", tail(b, 4096))
			}
		}
	})
	return g
}

// start launches the server and waits until it answers List over mutual TLS.
func (g *realGoldmane) start() {
	g.t.Helper()
	g.logs = filepath.Join(g.t.TempDir(), "goldmane.log")
	out, err := os.Create(g.logs)
	if err != nil {
		g.t.Fatalf("create goldmane log: %v", err)
	}
	g.cmd = exec.Command(g.bin)
	// Only what the server needs: no KUBECONFIG (it runs without Kubernetes), no health or
	// metrics ports that could collide with other tests.
	g.cmd.Env = []string{
		"PORT=" + strconv.Itoa(g.port),
		"SERVER_CERT_PATH=" + g.pki.ServerCert,
		"SERVER_KEY_PATH=" + g.pki.ServerKey,
		"CA_CERT_PATH=" + g.pki.CAFile,
		"AGGREGATION_WINDOW=" + g.window.String(),
		"HEALTH_ENABLED=false",
		"LOG_LEVEL=info",
	}
	g.cmd.Stdout, g.cmd.Stderr = out, out
	if err := g.cmd.Start(); err != nil {
		g.t.Fatalf("start %s: %v", g.bin, err)
	}
	g.exited = make(chan struct{})
	go func() {
		_ = g.cmd.Wait()
		out.Close()
		close(g.exited)
	}()
	waitFor(g.t, "goldmane to serve List", func() bool {
		select {
		case <-g.exited:
			g.t.Fatalf("goldmane exited during start-up")
		default:
		}
		_, err := g.list(&pb.FlowListRequest{})
		return err == nil
	})
}

// stop kills the server as a node failure would: no graceful shutdown.
func (g *realGoldmane) stop() {
	if g.cmd == nil || g.cmd.Process == nil {
		return
	}
	_ = g.cmd.Process.Kill()
	<-g.exited
	g.cmd = nil
}

func (g *realGoldmane) addr() string { return "127.0.0.1:" + strconv.Itoa(g.port) }

func (g *realGoldmane) conn() *grpc.ClientConn {
	g.t.Helper()
	c, err := grpc.NewClient(g.addr(), grpc.WithTransportCredentials(credentials.NewTLS(g.pki.ClientTLS(g.t))))
	if err != nil {
		g.t.Fatalf("dial goldmane: %v", err)
	}
	return c
}

func (g *realGoldmane) list(req *pb.FlowListRequest) (*pb.FlowListResult, error) {
	c := g.conn()
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return pb.NewFlowsClient(c).List(ctx, req)
}

// push sends flows through FlowCollector.Connect, as Felix does, and waits for each receipt.
func (g *realGoldmane) push(fs ...*pb.Flow) {
	g.t.Helper()
	c := g.conn()
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, err := pb.NewFlowCollectorClient(c).Connect(ctx)
	if err != nil {
		g.t.Fatalf("connect to FlowCollector: %v", err)
	}
	for _, f := range fs {
		if err := st.Send(&pb.FlowUpdate{Flow: f}); err != nil {
			g.t.Fatalf("push flow: %v", err)
		}
		if _, err := st.Recv(); err != nil {
			g.t.Fatalf("receipt for pushed flow: %v", err)
		}
	}
	if err := st.CloseSend(); err != nil {
		g.t.Fatalf("close FlowCollector stream: %v", err)
	}
}

// waitListed waits until List over all history returns n flows: the server has indexed what was
// pushed and the windows are complete.
func (g *realGoldmane) waitListed(n int) {
	g.t.Helper()
	waitFor(g.t, fmt.Sprintf("goldmane to list %d flows", n), func() bool {
		res, err := g.list(&pb.FlowListRequest{})
		return err == nil && len(res.Flows) >= n
	})
}

// runFlowgen runs the real flow generator against the server until the returned stop is called.
func (g *realGoldmane) runFlowgen() (stop func()) {
	g.t.Helper()
	bin := filepath.Join(goldmaneAssets(g.t), "flowgen")
	cmd := exec.Command(bin)
	cmd.Env = []string{"SERVER=" + g.addr(), "CLIENT_CERT=" + g.pki.ClientCert, "CLIENT_KEY=" + g.pki.ClientKey, "CA_FILE=" + g.pki.CAFile, "LOG_LEVEL=warn"}
	if err := cmd.Start(); err != nil {
		g.t.Fatalf("start %s: %v", bin, err)
	}
	return func() {
		_ = cmd.Process.Kill()
		var ee *exec.ExitError
		if err := cmd.Wait(); err != nil && !errors.As(err, &ee) {
			g.t.Errorf("flowgen: %v", err)
		}
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("find a free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func tail(b []byte, n int) string {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return strings.TrimSpace(string(b))
}
