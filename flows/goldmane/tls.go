package goldmane

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"time"

	"google.golang.org/grpc/credentials"
)

// tlsFiles is the client side of Goldmane's mutual TLS: a CA bundle that verifies the server, and
// the client's certificate and key. The files are checked before every handshake and re-read
// when one of them changed, so a rotated certificate (a Secret volume swapping its ..data link)
// is used by the next connection without a restart.
type tlsFiles struct {
	ca, cert, key string

	mu     sync.Mutex
	stamps [3]fileStamp
	cfg    *tls.Config
}

type fileStamp struct {
	mod  time.Time
	size int64
}

func (f *tlsFiles) config() (*tls.Config, error) {
	var stamps [3]fileStamp
	for i, p := range [...]string{f.ca, f.cert, f.key} {
		st, err := os.Stat(p)
		if err != nil {
			return nil, fmt.Errorf("stat TLS file %s: %w", p, err)
		}
		stamps[i] = fileStamp{mod: st.ModTime(), size: st.Size()}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.cfg != nil && stamps == f.stamps {
		return f.cfg, nil
	}
	cfg, err := loadTLS(f.ca, f.cert, f.key)
	if err != nil {
		return nil, err
	}
	f.cfg, f.stamps = cfg, stamps
	return cfg, nil
}

func loadTLS(caFile, certFile, keyFile string) (*tls.Config, error) {
	pair, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("load client certificate %s and key %s: %w", certFile, keyFile, err)
	}
	caPEM, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("read CA bundle: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return nil, fmt.Errorf("read CA bundle %s: no PEM certificate in it", caFile)
	}
	return &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{pair},
		RootCAs:      pool,
	}, nil
}

// reloadingCreds are gRPC transport credentials that take the current tlsFiles config at each
// handshake.
type reloadingCreds struct{ files *tlsFiles }

func (c reloadingCreds) ClientHandshake(ctx context.Context, authority string, conn net.Conn) (net.Conn, credentials.AuthInfo, error) {
	cfg, err := c.files.config()
	if err != nil {
		return nil, nil, err
	}
	return credentials.NewTLS(cfg).ClientHandshake(ctx, authority, conn)
}

func (reloadingCreds) ServerHandshake(net.Conn) (net.Conn, credentials.AuthInfo, error) {
	return nil, nil, errors.New("goldmane client credentials cannot serve")
}

func (reloadingCreds) Info() credentials.ProtocolInfo {
	return credentials.ProtocolInfo{SecurityProtocol: "tls"}
}

func (c reloadingCreds) Clone() credentials.TransportCredentials { return c }

// OverrideServerName is deprecated in gRPC and unused; Options.ServerName sets the name.
func (reloadingCreds) OverrideServerName(string) error { return nil }
