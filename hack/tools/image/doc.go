// Command image builds flowguard's multi-arch OCI image without a container engine or a base
// image, and pushes it.
//
//	go run . build -repo ../../.. -out ../../../bin/image [-version v1.2.3]
//	go run . push -layout ../../../bin/image -image registry.example.com/flowguard:v1.2.3
//
// build compiles cmd/flowguard for each platform (static, -trimpath, version and commit stamped)
// and writes an OCI image layout: index.json at its root lists one manifest per platform. An image
// holds the binary alone (no shell, no CA bundle, no passwd file), runs as 65532:65532 and carries
// the org.opencontainers.image labels. Every timestamp is the commit time and every tar entry has
// a fixed owner and mode, so two builds of the same commit give the same digest.
//
// It must never pull a base image or reach a network other than the registry named to push.
package main
