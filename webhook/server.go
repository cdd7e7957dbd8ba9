package webhook

import (
	"crypto/tls"
	"fmt"
	"path/filepath"

	"github.com/go-logr/logr"
	"sigs.k8s.io/controller-runtime/pkg/certwatcher"
	ctrlwebhook "sigs.k8s.io/controller-runtime/pkg/webhook"
)

// Path is where the webhook serves AdmissionReviews, for every kind.
const Path = "/validate"

// ServerOptions configure the TLS endpoint the API server calls.
type ServerOptions struct {
	// Host and Port to listen on; Host empty means every interface.
	Host string
	Port int
	// CertDir holds the serving certificate and key, as a mounted Secret or cert-manager's
	// Certificate does; they are re-read whenever the files change.
	CertDir, CertName, KeyName string
	// EnableHTTP2 is off by default: HTTP/2 stream resets are a denial-of-service vector
	// (CVE-2023-44487), and kube-apiserver calls in-cluster webhooks over HTTP/1.1 only
	// (k8s.io/apiserver/pkg/util/webhook/client.go), so HTTP/2 would serve only other clients.
	EnableHTTP2 bool
}

// NewServer returns the webhook server and the certificate watcher behind it. Add both to the
// manager: the watcher re-reads the certificate when the files are replaced (a Secret update or
// a cert-manager renewal) so that rotation needs no restart.
func NewServer(o ServerOptions, log logr.Logger) (ctrlwebhook.Server, *certwatcher.CertWatcher, error) {
	certName, keyName := o.CertName, o.KeyName
	if certName == "" {
		certName = "tls.crt"
	}
	if keyName == "" {
		keyName = "tls.key"
	}
	certPath, keyPath := filepath.Join(o.CertDir, certName), filepath.Join(o.CertDir, keyName)
	watcher, err := certwatcher.New(certPath, keyPath)
	if err != nil {
		return nil, nil, fmt.Errorf("read serving certificate %s: %w", certPath, err)
	}
	watcher.RegisterCallback(func(c tls.Certificate) {
		if c.Leaf != nil {
			log.Info("Serving certificate loaded", "path", certPath, "notAfter", c.Leaf.NotAfter)
		}
	})
	srv := ctrlwebhook.NewServer(ctrlwebhook.Options{
		Host:    o.Host,
		Port:    o.Port,
		CertDir: o.CertDir,
		TLSOpts: []func(*tls.Config){func(c *tls.Config) {
			c.MinVersion = tls.VersionTLS12
			c.GetCertificate = watcher.GetCertificate
			if !o.EnableHTTP2 {
				c.NextProtos = []string{"http/1.1"}
			}
		}},
	})
	return srv, watcher, nil
}

// Register serves h at Path. Every request is logged through log, with the request's UID and
// object added by the handler. The server's Register adds controller-runtime's webhook metrics
// (requests, latency, in flight) around it.
func Register(srv ctrlwebhook.Server, h *Handler, log logr.Logger) {
	srv.Register(Path, serveReviews(h, log.WithName("admission")))
}
