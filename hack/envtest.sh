#!/usr/bin/env bash
# Builds the envtest control plane (kube-apiserver, kubectl, etcd) from the Go module proxy
# into a cached, versioned folder. A binary already present is kept, so a warm run takes seconds.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
k8s_version=1.37.2
dest=${ENVTEST_DIR:-$root/bin/k8s/$k8s_version}
mkdir -p "$dest"

# shellcheck source=lib/build.sh
source "$root/hack/lib/build.sh"

build_cached envtest "$dest" etcd etcd go.etcd.io/etcd/server/v3
build_cached envtest "$dest" kube-apiserver k8s k8s.io/kubernetes/cmd/kube-apiserver
build_cached envtest "$dest" kubectl k8s k8s.io/kubernetes/cmd/kubectl
echo "$dest"
