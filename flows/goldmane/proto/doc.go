// Package proto holds Go stubs for the part of Calico Goldmane's gRPC API that flowguard uses:
// the Flows service (List, Stream), the FlowCollector service, and their messages. The stubs are
// generated from goldmane.proto, written for flowguard from Calico's goldmane/proto/api.proto, so
// that flowguard does not depend on the Calico monorepo module.
//
// Wire compatibility. Package, service and message names and all field numbers are those of
// Calico v3.31.0 (projectcalico/calico@b1f3c43f8437), checked against that source and exercised
// against the real v3.31.0 Goldmane server by the flows/goldmane integration test.
//   - v3.30.x: same services and fields (Goldmane's first release).
//   - v3.31.x: identical.
//   - v3.32.x: PolicyMatch's tier, namespace and name changed from string to StringMatch on the
//     same field numbers, which is wire-incompatible in Filter.policies; flowguard never sends a
//     policy filter, so its requests stay compatible. Policy kinds 7 and 8 (AdminNetworkPolicy,
//     BaselineAdminNetworkPolicy) gave way to ClusterNetworkPolicy = 11, which this file adds so
//     that responses from v3.32 decode by name.
//
// The Statistics service and Flows.FilterHints are left out. Never edit the generated files:
// change goldmane.proto and run `go generate ./flows/goldmane/proto` (needs protoc on PATH,
// Debian package protobuf-compiler; the plugins are installed from the Go module proxy at the
// versions below).
package proto

//go:generate sh -c "set -e; d=$DOLLAR(mktemp -d); trap 'rm -rf $DOLLAR{d}' EXIT; GOBIN=$DOLLAR{d} go install google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12; GOBIN=$DOLLAR{d} go install google.golang.org/grpc/cmd/protoc-gen-go-grpc@v1.6.2; protoc --plugin=protoc-gen-go=$DOLLAR{d}/protoc-gen-go --plugin=protoc-gen-go-grpc=$DOLLAR{d}/protoc-gen-go-grpc --go_out=. --go_opt=paths=source_relative --go-grpc_out=. --go-grpc_opt=paths=source_relative goldmane.proto"
