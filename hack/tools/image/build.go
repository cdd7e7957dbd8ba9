package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
)

// Platforms the image is built for.
var Platforms = []v1.Platform{{OS: "linux", Architecture: "amd64"}, {OS: "linux", Architecture: "arm64"}}

const (
	// versionPkg holds the variables -ldflags -X stamps.
	versionPkg = "github.com/flowguard/flowguard/cmd/flowguard/app"
	// sourceURL is the org.opencontainers.image.source label.
	sourceURL = "https://github.com/flowguard/flowguard"
)

// BuildOptions say what to build and where to write it.
type BuildOptions struct {
	// Repo is the root of the flowguard git checkout.
	Repo string
	// Out is the image layout folder; whatever is there is replaced.
	Out string
	// Version is the release version stamped into the binary and the labels. Empty means
	// `git describe --tags --always --dirty`, as make build stamps it.
	Version string
}

// BuildResult describes the layout written.
type BuildResult struct {
	Digest    v1.Hash // of index.json
	Version   string
	Commit    string
	Manifests []ManifestResult
}

// ManifestResult is one platform's image in the index.
type ManifestResult struct {
	Platform string
	Digest   v1.Hash
	Size     int64 // compressed layer size: what a node downloads
}

// source is the commit an image is built from.
type source struct {
	version, commit string
	time            time.Time
}

// Build compiles flowguard for every platform and writes the multi-arch image layout to opts.Out.
func Build(ctx context.Context, opts BuildOptions) (*BuildResult, error) {
	repo, err := filepath.Abs(opts.Repo)
	if err != nil {
		return nil, fmt.Errorf("resolve repository folder %q: %w", opts.Repo, err)
	}
	src, err := readSource(ctx, repo, opts.Version)
	if err != nil {
		return nil, err
	}
	work, err := os.MkdirTemp("", "flowguard-image-")
	if err != nil {
		return nil, fmt.Errorf("create build folder: %w", err)
	}
	defer os.RemoveAll(work)

	images := make([]platformImage, 0, len(Platforms))
	for _, p := range Platforms {
		bin := filepath.Join(work, "flowguard-"+p.OS+"-"+p.Architecture)
		if err := goBuild(ctx, repo, p, src, bin); err != nil {
			return nil, err
		}
		binary, err := os.ReadFile(bin)
		if err != nil {
			return nil, fmt.Errorf("read built binary %s: %w", bin, err)
		}
		img, err := newImage(p, binary, src)
		if err != nil {
			return nil, fmt.Errorf("assemble %s image: %w", p, err)
		}
		images = append(images, platformImage{platform: p, image: img})
	}
	idx := newIndex(images, src)

	if err := os.RemoveAll(opts.Out); err != nil {
		return nil, fmt.Errorf("remove old image layout %s: %w", opts.Out, err)
	}
	if _, err := layout.Write(opts.Out, idx); err != nil {
		return nil, fmt.Errorf("write image layout %s: %w", opts.Out, err)
	}
	return describe(idx, images, src)
}

// describe reports the digests of what Build wrote.
func describe(idx v1.ImageIndex, images []platformImage, src source) (*BuildResult, error) {
	digest, err := idx.Digest()
	if err != nil {
		return nil, fmt.Errorf("digest image index: %w", err)
	}
	res := &BuildResult{Digest: digest, Version: src.version, Commit: src.commit}
	for _, pi := range images {
		d, err := pi.image.Digest()
		if err != nil {
			return nil, fmt.Errorf("digest %s image: %w", pi.platform, err)
		}
		layers, err := pi.image.Layers()
		if err != nil {
			return nil, fmt.Errorf("list %s image layers: %w", pi.platform, err)
		}
		m := ManifestResult{Platform: pi.platform.String(), Digest: d}
		for _, l := range layers {
			size, err := l.Size()
			if err != nil {
				return nil, fmt.Errorf("size %s image layer: %w", pi.platform, err)
			}
			m.Size += size
		}
		res.Manifests = append(res.Manifests, m)
	}
	return res, nil
}

// readSource reads HEAD's commit and commit time, and the version unless given.
func readSource(ctx context.Context, repo, version string) (source, error) {
	commit, err := git(ctx, repo, "rev-parse", "HEAD")
	if err != nil {
		return source{}, err
	}
	unix, err := git(ctx, repo, "log", "-1", "--format=%ct", "HEAD")
	if err != nil {
		return source{}, err
	}
	secs, err := strconv.ParseInt(unix, 10, 64)
	if err != nil {
		return source{}, fmt.Errorf("parse commit time %q of %s: %w", unix, repo, err)
	}
	if version == "" {
		if version, err = git(ctx, repo, "describe", "--tags", "--always", "--dirty"); err != nil {
			return source{}, err
		}
	}
	return source{version: version, commit: commit, time: time.Unix(secs, 0).UTC()}, nil
}

func git(ctx context.Context, repo string, args ...string) (string, error) {
	out, err := exec.CommandContext(ctx, "git", append([]string{"-C", repo}, args...)...).Output()
	if err != nil {
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			err = fmt.Errorf("%w: %s", err, strings.TrimSpace(string(exit.Stderr)))
		}
		return "", fmt.Errorf("git %s in %s: %w", strings.Join(args, " "), repo, err)
	}
	return strings.TrimSpace(string(out)), nil
}

// goBuild compiles a static flowguard for p. The microarchitecture levels are pinned so that the
// same commit gives the same binary whatever GOAMD64 or GOARM64 the builder's environment sets;
// timetzdata embeds the time zone database, which the image has no /usr/share/zoneinfo for and
// audit schedules with a time zone need.
func goBuild(ctx context.Context, repo string, p v1.Platform, src source, out string) error {
	ldflags := fmt.Sprintf("-s -w -X %s.version=%s -X %s.commit=%s", versionPkg, src.version, versionPkg, src.commit)
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-buildvcs=false", "-tags=timetzdata",
		"-ldflags="+ldflags, "-o", out, "./cmd/flowguard")
	cmd.Dir = repo
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS="+p.OS, "GOARCH="+p.Architecture, "GOAMD64=v1", "GOARM64=v8.0")
	if output, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build flowguard for %s: %w\n%s", p, err, output)
	}
	return nil
}
