package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

const (
	// Entrypoint is where the binary lives in the image.
	Entrypoint = "/usr/local/bin/flowguard"
	// User is the numeric user and group the image runs as: non-root, and numeric so that no
	// /etc/passwd is needed (the chart's runAsUser is the same).
	User = "65532:65532"
)

// platformImage is one platform's image.
type platformImage struct {
	platform v1.Platform
	image    v1.Image
}

// labels are the OCI labels of the image config, also set as manifest and index annotations.
func labels(src source) map[string]string {
	return map[string]string{
		"org.opencontainers.image.title":    "flowguard",
		"org.opencontainers.image.source":   sourceURL,
		"org.opencontainers.image.revision": src.commit,
		"org.opencontainers.image.version":  src.version,
		"org.opencontainers.image.created":  src.time.Format(time.RFC3339),
		"org.opencontainers.image.licenses": "Apache-2.0",
	}
}

// newImage builds p's image: one layer holding the binary at Entrypoint.
func newImage(p v1.Platform, binary []byte, src source) (v1.Image, error) {
	layerTar, err := binaryLayer(binary, src.time)
	if err != nil {
		return nil, err
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(layerTar)), nil
	}, tarball.WithMediaType(types.OCILayer))
	if err != nil {
		return nil, fmt.Errorf("make layer: %w", err)
	}
	img := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	img, err = mutate.ConfigFile(img, &v1.ConfigFile{
		Architecture: p.Architecture,
		OS:           p.OS,
		Created:      v1.Time{Time: src.time},
		Config: v1.Config{
			Entrypoint: []string{Entrypoint},
			User:       User,
			WorkingDir: "/",
			Labels:     labels(src),
		},
	})
	if err != nil {
		return nil, fmt.Errorf("set config: %w", err)
	}
	img, err = mutate.Append(img, mutate.Addendum{
		Layer:     layer,
		MediaType: types.OCILayer,
		History:   v1.History{Created: v1.Time{Time: src.time}, CreatedBy: "hack/tools/image: flowguard " + src.version},
	})
	if err != nil {
		return nil, fmt.Errorf("add layer: %w", err)
	}
	return mutate.Annotations(img, labels(src)).(v1.Image), nil
}

// newIndex lists every platform's image.
func newIndex(images []platformImage, src source) v1.ImageIndex {
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	for _, pi := range images {
		platform := pi.platform
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{
			Add:        pi.image,
			Descriptor: v1.Descriptor{Platform: &platform},
		})
	}
	return mutate.Annotations(idx, labels(src)).(v1.ImageIndex)
}

// binaryLayer returns a gzipped tar holding the binary at Entrypoint and its parent folders,
// in a fixed order with fixed owners, modes and times, compressed once at the best level.
func binaryLayer(binary []byte, mtime time.Time) ([]byte, error) {
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		return nil, err
	}
	tw := tar.NewWriter(zw)
	entries := []*tar.Header{
		{Typeflag: tar.TypeDir, Name: "usr/", Mode: 0o755},
		{Typeflag: tar.TypeDir, Name: "usr/local/", Mode: 0o755},
		{Typeflag: tar.TypeDir, Name: "usr/local/bin/", Mode: 0o755},
		{Typeflag: tar.TypeReg, Name: Entrypoint[1:], Mode: 0o755, Size: int64(len(binary))},
	}
	for _, h := range entries {
		h.ModTime, h.Format = mtime, tar.FormatPAX
		if err := tw.WriteHeader(h); err != nil {
			return nil, fmt.Errorf("write layer entry %s: %w", h.Name, err)
		}
		if h.Typeflag == tar.TypeReg {
			if _, err := tw.Write(binary); err != nil {
				return nil, fmt.Errorf("write layer entry %s: %w", h.Name, err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		return nil, fmt.Errorf("close layer tar: %w", err)
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("close layer gzip: %w", err)
	}
	return buf.Bytes(), nil
}
