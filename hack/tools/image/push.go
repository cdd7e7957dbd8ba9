package main

import (
	"context"
	"fmt"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// Push pushes the index of the layout at layoutDir, with every platform's manifest and blobs, to
// image (host/repository:tag), with the credentials of the local Docker config if there are any.
// It returns the index digest, which is the same in the registry as in the layout.
func Push(ctx context.Context, layoutDir, image string) (v1.Hash, error) {
	if image == "" {
		return v1.Hash{}, fmt.Errorf("no image to push to: name one as host/repository:tag")
	}
	ref, err := name.ParseReference(image)
	if err != nil {
		return v1.Hash{}, fmt.Errorf("parse image reference %q: %w", image, err)
	}
	lp, err := layout.FromPath(layoutDir)
	if err != nil {
		return v1.Hash{}, fmt.Errorf("open image layout %s (make image writes it): %w", layoutDir, err)
	}
	idx, err := lp.ImageIndex()
	if err != nil {
		return v1.Hash{}, fmt.Errorf("read index of image layout %s: %w", layoutDir, err)
	}
	digest, err := idx.Digest()
	if err != nil {
		return v1.Hash{}, fmt.Errorf("digest index of image layout %s: %w", layoutDir, err)
	}
	if err := remote.WriteIndex(ref, idx, remote.WithContext(ctx), remote.WithAuthFromKeychain(authn.DefaultKeychain)); err != nil {
		return v1.Hash{}, fmt.Errorf("push %s to %s: %w", layoutDir, ref, err)
	}
	return digest, nil
}
