package main

import (
	"archive/tar"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"sync"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
)

// repoRoot is the flowguard checkout this tools module lives in.
const repoRoot = "../../.."

// built is the image every test reads, built once (a cold build compiles flowguard for two
// platforms, which takes minutes).
var built struct {
	once sync.Once
	dir  string
	res  *BuildResult
	err  error
}

func buildOnce(t *testing.T) (string, *BuildResult) {
	t.Helper()
	built.once.Do(func() {
		built.dir, built.err = os.MkdirTemp("", "flowguard-image-test-")
		if built.err == nil {
			built.res, built.err = Build(t.Context(), BuildOptions{Repo: repoRoot, Out: filepath.Join(built.dir, "image")})
		}
	})
	if built.err != nil {
		t.Fatalf("build image: %v", built.err)
	}
	return filepath.Join(built.dir, "image"), built.res
}

func TestMain(m *testing.M) {
	code := m.Run()
	if built.dir != "" {
		_ = os.RemoveAll(built.dir)
	}
	os.Exit(code)
}

// head returns HEAD's commit and commit time, read with git independently of Build.
func head(t *testing.T) (string, time.Time) {
	t.Helper()
	src, err := readSource(t.Context(), repoRoot, "x")
	if err != nil {
		t.Fatal(err)
	}
	return src.commit, src.time
}

func TestBuildWritesOneManifestPerPlatform(t *testing.T) {
	dir, res := buildOnce(t)
	commit, commitTime := head(t)

	idx, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		t.Fatalf("read layout %s: %v", dir, err)
	}
	manifest, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if d, _ := idx.Digest(); d != res.Digest {
		t.Errorf("index.json digest %s, Build reported %s", d, res.Digest)
	}
	var platforms []string
	for _, desc := range manifest.Manifests {
		if desc.Platform == nil {
			t.Fatalf("manifest %s has no platform", desc.Digest)
		}
		platforms = append(platforms, desc.Platform.String())
		img, err := idx.Image(desc.Digest)
		if err != nil {
			t.Fatalf("read %s image: %v", desc.Platform, err)
		}
		cfg, err := img.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		if cfg.OS != desc.Platform.OS || cfg.Architecture != desc.Platform.Architecture {
			t.Errorf("%s image config is for %s/%s", desc.Platform, cfg.OS, cfg.Architecture)
		}
		if cfg.Config.User != "65532:65532" {
			t.Errorf("%s image user = %q, want 65532:65532 (non-root)", desc.Platform, cfg.Config.User)
		}
		if len(cfg.Config.Entrypoint) != 1 || cfg.Config.Entrypoint[0] != "/usr/local/bin/flowguard" {
			t.Errorf("%s image entrypoint = %q, want the flowguard binary", desc.Platform, cfg.Config.Entrypoint)
		}
		if !cfg.Created.Equal(commitTime) {
			t.Errorf("%s image created %s, want the commit time %s", desc.Platform, cfg.Created.Time, commitTime)
		}
		wantLabels := map[string]string{
			"org.opencontainers.image.source":   "https://github.com/flowguard/flowguard",
			"org.opencontainers.image.revision": commit,
			"org.opencontainers.image.version":  res.Version,
			"org.opencontainers.image.created":  commitTime.Format(time.RFC3339),
		}
		for k, want := range wantLabels {
			if got := cfg.Config.Labels[k]; got != want {
				t.Errorf("%s image label %s = %q, want %q", desc.Platform, k, got, want)
			}
		}
		if files := layerFiles(t, img); len(files) != 4 || files["usr/local/bin/flowguard"] != 0o755 {
			t.Errorf("%s image holds %v, want the flowguard binary (0755) and its folders alone", desc.Platform, files)
		}
	}
	sort.Strings(platforms)
	if len(platforms) != 2 || platforms[0] != "linux/amd64" || platforms[1] != "linux/arm64" {
		t.Errorf("index platforms = %v, want linux/amd64 and linux/arm64", platforms)
	}
}

func TestBuildIsReproducible(t *testing.T) {
	_, first := buildOnce(t)
	again, err := Build(t.Context(), BuildOptions{Repo: repoRoot, Out: filepath.Join(t.TempDir(), "image")})
	if err != nil {
		t.Fatalf("build image again: %v", err)
	}
	if again.Digest != first.Digest {
		t.Errorf("two builds of one commit: index digests %s and %s", first.Digest, again.Digest)
	}
	for i := range first.Manifests {
		if first.Manifests[i] != again.Manifests[i] {
			t.Errorf("two builds of one commit: manifests %+v and %+v", first.Manifests[i], again.Manifests[i])
		}
	}
}

// TestImageBinaryReportsItsCommit runs the binary taken out of the image of this machine's
// architecture (amd64 on CI).
func TestImageBinaryReportsItsCommit(t *testing.T) {
	dir, res := buildOnce(t)
	commit, _ := head(t)
	idx, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		t.Fatal(err)
	}
	manifest, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	var img v1.Image
	for _, desc := range manifest.Manifests {
		if desc.Platform.Architecture == runtime.GOARCH {
			if img, err = idx.Image(desc.Digest); err != nil {
				t.Fatal(err)
			}
		}
	}
	if img == nil {
		t.Fatalf("no %s image in the index", runtime.GOARCH)
	}
	bin := filepath.Join(t.TempDir(), "flowguard")
	extract(t, img, "usr/local/bin/flowguard", bin)

	got := versionOf(t, bin)
	if got.Commit != commit || got.Version != res.Version {
		t.Errorf("image binary: version -o json = %+v, want version %s and HEAD's commit %s", got, res.Version, commit)
	}
}

type versionJSON struct {
	Version, Commit, Go string
}

func versionOf(t *testing.T, bin string) versionJSON {
	t.Helper()
	out, err := exec.CommandContext(t.Context(), bin, "version", "-o", "json").Output()
	if err != nil {
		t.Fatalf("%s version -o json: %v", bin, err)
	}
	var v versionJSON
	if err := json.Unmarshal(out, &v); err != nil {
		t.Fatalf("%s version -o json printed %q: %v", bin, out, err)
	}
	return v
}

// layerFiles lists every entry of img's layers with its mode.
func layerFiles(t *testing.T, img v1.Image) map[string]int64 {
	t.Helper()
	files := map[string]int64{}
	walkLayers(t, img, func(h *tar.Header, _ io.Reader) { files[h.Name] = h.Mode })
	return files
}

// extract writes the file at name in img's layers to dest.
func extract(t *testing.T, img v1.Image, name, dest string) {
	t.Helper()
	found := false
	walkLayers(t, img, func(h *tar.Header, r io.Reader) {
		if h.Name != name {
			return
		}
		found = true
		f, err := os.OpenFile(dest, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o755)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(f, r); err != nil {
			t.Fatal(err)
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
	})
	if !found {
		t.Fatalf("no %s in the image", name)
	}
}

func walkLayers(t *testing.T, img v1.Image, visit func(*tar.Header, io.Reader)) {
	t.Helper()
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range layers {
		rc, err := l.Uncompressed()
		if err != nil {
			t.Fatal(err)
		}
		tr := tar.NewReader(rc)
		for {
			h, err := tr.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("read image layer: %v", err)
			}
			visit(h, tr)
		}
		_ = rc.Close()
	}
}
