//go:build e2e

package e2e

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"k8s.io/apimachinery/pkg/util/wait"

	pb "github.com/flowguard/flowguard/flows/goldmane/proto"
)

// goldmanePKI is Goldmane's mutual TLS as a Calico install has it: a CA, Goldmane's server
// certificate, and a client certificate for flowguard, written as a Secret volume holds them
// (tls.crt, tls.key, ca.crt in ClientDir).
type goldmanePKI struct {
	ServerCert, ServerKey, CAFile string
	ClientDir                     string
	caPEM, clientCert, clientKey  []byte
}

func newGoldmanePKI(t *testing.T) *goldmanePKI {
	t.Helper()
	dir := t.TempDir()
	caKey, caCert := newCertificate(t, "goldmane-e2e-ca", nil, nil, 0)
	p := &goldmanePKI{ClientDir: filepath.Join(dir, "client"), caPEM: pemOf("CERTIFICATE", caCert.Raw)}
	if err := os.Mkdir(p.ClientDir, 0o700); err != nil {
		t.Fatal(err)
	}
	write := func(path string, data []byte) string {
		t.Helper()
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	serverKey, serverCert := newCertificate(t, "goldmane", caKey, caCert, x509.ExtKeyUsageServerAuth)
	clientKey, clientCert := newCertificate(t, "flowguard", caKey, caCert, x509.ExtKeyUsageClientAuth)
	p.clientCert, p.clientKey = pemOf("CERTIFICATE", clientCert.Raw), keyPEM(t, clientKey)
	p.CAFile = write(filepath.Join(dir, "ca.crt"), p.caPEM)
	p.ServerCert = write(filepath.Join(dir, "server.crt"), pemOf("CERTIFICATE", serverCert.Raw))
	p.ServerKey = write(filepath.Join(dir, "server.key"), keyPEM(t, serverKey))
	write(filepath.Join(p.ClientDir, "ca.crt"), p.caPEM)
	write(filepath.Join(p.ClientDir, "tls.crt"), p.clientCert)
	write(filepath.Join(p.ClientDir, "tls.key"), p.clientKey)
	return p
}

// newCertificate signs a certificate with parent (self-signed CA when parent is nil); a server
// certificate is for 127.0.0.1.
func newCertificate(t *testing.T, cn string, parentKey *ecdsa.PrivateKey, parent *x509.Certificate, usage x509.ExtKeyUsage) (*ecdsa.PrivateKey, *x509.Certificate) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
	}
	if parent == nil {
		tmpl.IsCA, tmpl.BasicConstraintsValid = true, true
		tmpl.KeyUsage |= x509.KeyUsageCertSign
		parent, parentKey = tmpl, key
	} else {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{usage}
	}
	if usage == x509.ExtKeyUsageServerAuth {
		tmpl.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1)}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		t.Fatalf("sign certificate %s: %v", cn, err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return key, cert
}

func pemOf(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}

func keyPEM(t *testing.T, key *ecdsa.PrivateKey) []byte {
	t.Helper()
	der, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pemOf("EC PRIVATE KEY", der)
}

// goldmaneServer is the goldmane binary of Calico v3.31.0 (GOLDMANE_ASSETS, built by
// hack/goldmane.sh), on a port that stays the same across restarts, as its Service does.
type goldmaneServer struct {
	t      *testing.T
	bin    string
	pki    *goldmanePKI
	port   int
	window time.Duration
	cmd    *exec.Cmd
	exited chan struct{}
	logs   string
}

func newGoldmaneServer(t *testing.T, pki *goldmanePKI, window time.Duration) *goldmaneServer {
	t.Helper()
	dir := os.Getenv("GOLDMANE_ASSETS")
	if dir == "" {
		t.Fatal("GOLDMANE_ASSETS is not set: run hack/goldmane.sh and set it to the folder it prints (make test-e2e does both)")
	}
	g := &goldmaneServer{t: t, bin: filepath.Join(dir, "goldmane"), pki: pki, port: freePort(t), window: window}
	t.Cleanup(func() {
		g.stop()
		if t.Failed() {
			if b, err := os.ReadFile(g.logs); err == nil {
				t.Logf("goldmane log:\n%s", b)
			}
		}
	})
	return g
}

func (g *goldmaneServer) addr() string { return "127.0.0.1:" + strconv.Itoa(g.port) }

// start runs the server and waits until it answers List over mutual TLS.
func (g *goldmaneServer) start() {
	g.t.Helper()
	g.logs = filepath.Join(g.t.TempDir(), "goldmane.log")
	out, err := os.Create(g.logs)
	if err != nil {
		g.t.Fatal(err)
	}
	g.cmd = exec.Command(g.bin)
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
	err = wait.PollUntilContextTimeout(g.t.Context(), 100*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		select {
		case <-g.exited:
			return false, errGoldmaneExited
		default:
		}
		conn := g.conn()
		defer conn.Close()
		_, err := pb.NewFlowsClient(conn).List(ctx, &pb.FlowListRequest{})
		return err == nil, nil
	})
	if err != nil {
		g.t.Fatalf("goldmane did not serve List: %v", err)
	}
}

// stop kills the server as a node failure would: everything it held is gone.
func (g *goldmaneServer) stop() {
	if g.cmd == nil {
		return
	}
	_ = g.cmd.Process.Kill()
	<-g.exited
	g.cmd = nil
}

func (g *goldmaneServer) conn() *grpc.ClientConn {
	g.t.Helper()
	pair, err := tls.X509KeyPair(g.pki.clientCert, g.pki.clientKey)
	if err != nil {
		g.t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(g.pki.caPEM)
	creds := credentials.NewTLS(&tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{pair}, RootCAs: pool})
	c, err := grpc.NewClient(g.addr(), grpc.WithTransportCredentials(creds))
	if err != nil {
		g.t.Fatal(err)
	}
	return c
}

// push sends flows through FlowCollector.Connect, as Felix does, and waits for each receipt.
func (g *goldmaneServer) push(flows ...*pb.Flow) {
	g.t.Helper()
	conn := g.conn()
	defer conn.Close()
	ctx, cancel := context.WithTimeout(g.t.Context(), 10*time.Second)
	defer cancel()
	st, err := pb.NewFlowCollectorClient(conn).Connect(ctx)
	if err != nil {
		g.t.Fatalf("connect to FlowCollector: %v", err)
	}
	for _, f := range flows {
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

// awaitListed waits until List over all the server holds returns n flows.
func (g *goldmaneServer) awaitListed(n int) {
	g.t.Helper()
	err := wait.PollUntilContextTimeout(g.t.Context(), 100*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		conn := g.conn()
		defer conn.Close()
		res, err := pb.NewFlowsClient(conn).List(ctx, &pb.FlowListRequest{})
		return err == nil && len(res.Flows) >= n, nil
	})
	if err != nil {
		g.t.Fatalf("goldmane never listed %d flows: %v", n, err)
	}
}

type goldmaneError string

func (e goldmaneError) Error() string { return string(e) }

const errGoldmaneExited = goldmaneError("goldmane exited during start-up")

// frontendToAPI is a flow Felix reports to Goldmane: web's frontend calling shop's api on TCP
// port, allowed by allow-web-to-api, conns connections completed in the window starting at start.
func frontendToAPI(port, conns, start int64) *pb.Flow {
	return &pb.Flow{
		Key: &pb.FlowKey{
			SourceName: "frontend-7d9f8b6c5-*", SourceNamespace: "web", SourceType: pb.EndpointType_WorkloadEndpoint,
			DestName: "api-6f8d9c7b4-*", DestNamespace: "shop", DestType: pb.EndpointType_WorkloadEndpoint,
			DestPort: port, Proto: "tcp", Reporter: pb.Reporter_Dst, Action: pb.Action_Allow,
			Policies: &pb.PolicyTrace{EnforcedPolicies: []*pb.PolicyHit{{Kind: pb.PolicyKind_NetworkPolicy,
				Namespace: "shop", Name: "allow-web-to-api", Tier: "default", Action: pb.Action_Allow}}},
		},
		StartTime: start, EndTime: start + 1,
		SourceLabels: []string{"app=frontend"}, DestLabels: []string{"app=api"},
		PacketsIn: 10 * conns, PacketsOut: 8 * conns, BytesIn: 1500 * conns, BytesOut: 900 * conns,
		NumConnectionsStarted: conns, NumConnectionsCompleted: conns,
	}
}
