package webhook

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	admissionv1 "k8s.io/api/admission/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/certwatcher"

	"github.com/flowguard/flowguard/webhook/webhooktest"
)

// startServer runs the webhook server with h on a loopback port and returns its URL; the
// server stops when the test ends.
func startServer(t *testing.T, h *Handler, certDir string) (string, *certwatcher.CertWatcher) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()

	srv, watcher, err := NewServer(ServerOptions{Host: "127.0.0.1", Port: port, CertDir: certDir}, logr.Discard())
	if err != nil {
		t.Fatal(err)
	}
	Register(srv, h, logr.Discard())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 2)
	go func() { done <- watcher.Start(ctx) }()
	go func() { done <- srv.Start(ctx) }()
	t.Cleanup(func() {
		cancel()
		for range 2 {
			if err := <-done; err != nil {
				t.Errorf("stop: %v", err)
			}
		}
	})
	started := srv.StartedChecker()
	if err := wait.PollUntilContextTimeout(ctx, 10*time.Millisecond, 30*time.Second, true, func(context.Context) (bool, error) {
		return started(nil) == nil, nil
	}); err != nil {
		t.Fatalf("webhook server did not start: %v", err)
	}
	return fmt.Sprintf("https://127.0.0.1:%d%s", port, Path), watcher
}

func TestServerAnswersOverTLSAndReloadsRotatedCertificates(t *testing.T) {
	now := time.Now()
	dir := t.TempDir()
	ca1, err := webhooktest.NewCA("first", now)
	if err != nil {
		t.Fatal(err)
	}
	first, err := ca1.WriteServingCert(dir, now, "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	h, _ := newTestHandler(t, &ruleDecider{rules: testRules(), graphLoaded: true}, DefaultConfig("flowguard-system"))
	url, watcher := startServer(t, h, dir)

	req := newRequest(t, gvkNetworkPolicy, admissionv1.Create, openPolicy, "")
	body, err := webhooktest.Body(&req.AdmissionRequest)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := webhooktest.NewClient(url, ca1.Pool(), 1).Send(body)
	if err != nil {
		t.Fatal(err)
	}
	if !resp.Allowed || resp.UID != req.UID || len(resp.Warnings) != 1 || !strings.Contains(resp.Warnings[0], "[allow-all]") {
		t.Fatalf("response = %+v, want allowed with the allow-all warning and the request's UID", resp)
	}

	// Rotate to a certificate from another CA, as a renewal with a new issuer does.
	loaded := make(chan *tls.Certificate, 4)
	watcher.RegisterCallback(func(c tls.Certificate) { loaded <- &c })
	<-loaded // the callback fires at once with the current certificate
	ca2, err := webhooktest.NewCA("second", now)
	if err != nil {
		t.Fatal(err)
	}
	second, err := ca2.WriteServingCert(dir, now, "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	for c := range loaded {
		if webhooktest.SameCert(second.Cert, c.Certificate[0]) {
			break
		}
	}
	if _, err := webhooktest.NewClient(url, ca2.Pool(), 1).Send(body); err != nil {
		t.Fatalf("after rotation, a client trusting the new CA: %v", err)
	}
	if _, err := webhooktest.NewClient(url, ca1.Pool(), 1).Send(body); err == nil {
		t.Fatalf("after rotation, a client trusting only the old CA still connected (old serial %v)", first.Cert.SerialNumber)
	}
}

// A panic inside the handler reaches the API server as an answer, and the server keeps serving.
func TestServerSurvivesAPanickingHandler(t *testing.T) {
	now := time.Now()
	dir := t.TempDir()
	ca, err := webhooktest.NewCA("ca", now)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ca.WriteServingCert(dir, now, "127.0.0.1"); err != nil {
		t.Fatal(err)
	}
	h, _ := newTestHandler(t, &ruleDecider{graphLoaded: true}, DefaultConfig("flowguard-system"))
	h.checks = append([]check{func(_ context.Context, r *review) result {
		if r.req.Name == "boom" {
			panic("boom")
		}
		return result{}
	}}, h.checks...)
	url, _ := startServer(t, h, dir)
	client := webhooktest.NewClient(url, ca.Pool(), 1)

	for _, tc := range []struct {
		name         string
		wantWarnings int
	}{{"boom", 1}, {"fine", 0}} {
		req := newRequest(t, gvkNetworkPolicy, admissionv1.Create, narrowPolicy, "")
		req.Name = tc.name
		body, err := webhooktest.Body(&req.AdmissionRequest)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := client.Send(body)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if !resp.Allowed || len(resp.Warnings) != tc.wantWarnings {
			t.Errorf("%s: response = %+v, want allowed with %d warnings", tc.name, resp, tc.wantWarnings)
		}
	}
}
