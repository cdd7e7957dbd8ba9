package main

import (
	"io"
	"net"
	"net/http"
	"testing"

	"github.com/distribution/distribution/v3/configuration"
	"github.com/distribution/distribution/v3/registry/handlers"
	_ "github.com/distribution/distribution/v3/registry/storage/driver/inmemory"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/sirupsen/logrus" //nolint:depguard // the registry under test logs through it; the test only silences it
)

// startRegistry serves the CNCF registry (distribution), with in-memory storage, on loopback.
func startRegistry(t *testing.T) string {
	t.Helper()
	cfg := &configuration.Configuration{Storage: configuration.Storage{"inmemory": configuration.Parameters{}}}
	cfg.Log.AccessLog.Disabled = true
	// The registry logs every request through logrus's standard logger; the test checks what
	// the client gets instead.
	logrus.SetOutput(io.Discard)
	app := handlers.NewApp(t.Context(), cfg)

	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen for the registry: %v", err)
	}
	srv := &http.Server{Handler: app}
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(func() { _ = srv.Close() })
	return lis.Addr().String()
}

func TestPushThenPull(t *testing.T) {
	dir, res := buildOnce(t)
	image := startRegistry(t) + "/flowguard/flowguard:" + "test"

	pushed, err := Push(t.Context(), dir, image)
	if err != nil {
		t.Fatalf("push: %v", err)
	}
	if pushed != res.Digest {
		t.Errorf("Push reported index %s, the layout's is %s", pushed, res.Digest)
	}

	ref, err := name.ParseReference(image)
	if err != nil {
		t.Fatal(err)
	}
	idx, err := remote.Index(ref, remote.WithContext(t.Context()))
	if err != nil {
		t.Fatalf("pull index %s: %v", ref, err)
	}
	if d, _ := idx.Digest(); d != res.Digest {
		t.Errorf("pulled index digest %s, built %s", d, res.Digest)
	}
	local, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		t.Fatal(err)
	}
	want, err := local.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	for _, desc := range want.Manifests {
		byDigest := ref.Context().Digest(desc.Digest.String())
		img, err := remote.Image(byDigest, remote.WithContext(t.Context()))
		if err != nil {
			t.Fatalf("pull %s manifest %s: %v", desc.Platform, byDigest, err)
		}
		if d, _ := img.Digest(); d != desc.Digest {
			t.Errorf("pulled %s manifest digest %s, built %s", desc.Platform, d, desc.Digest)
		}
		assertSameLayers(t, desc.Platform, local, desc.Digest, img)
	}
	// The tag resolves to a platform's image through the index, as a kubelet on an arm64 node pulls it.
	platformImg, err := remote.Image(ref, remote.WithContext(t.Context()), remote.WithPlatform(v1.Platform{OS: "linux", Architecture: "arm64"}))
	if err != nil {
		t.Fatalf("pull %s for linux/arm64: %v", ref, err)
	}
	cfg, err := platformImg.ConfigFile()
	if err != nil || cfg.Architecture != "arm64" {
		t.Errorf("pull %s for linux/arm64: config %+v, %v", ref, cfg, err)
	}
}

// assertSameLayers checks that every layer pulled has the digest of the one built.
func assertSameLayers(t *testing.T, p *v1.Platform, local v1.ImageIndex, digest v1.Hash, pulled v1.Image) {
	t.Helper()
	built, err := local.Image(digest)
	if err != nil {
		t.Fatal(err)
	}
	want, err := built.Layers()
	if err != nil {
		t.Fatal(err)
	}
	got, err := pulled.Layers()
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("%s: pulled %d layers, built %d", p, len(got), len(want))
	}
	for i := range want {
		w, _ := want[i].Digest()
		g, err := got[i].Digest()
		if err != nil || g != w {
			t.Errorf("%s layer %d: pulled %s (%v), built %s", p, i, g, err, w)
		}
		// Reading the blob makes the registry serve it and the client verify its digest.
		rc, err := got[i].Compressed()
		if err != nil {
			t.Fatalf("%s layer %d: fetch: %v", p, i, err)
		}
		if _, err := io.Copy(io.Discard, rc); err != nil {
			t.Errorf("%s layer %d: read: %v", p, i, err)
		}
		_ = rc.Close()
	}
}
