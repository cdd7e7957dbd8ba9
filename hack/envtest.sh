#!/usr/bin/env bash
# Builds the envtest control plane (kube-apiserver, kubectl, etcd) from the Go module proxy
# into a cached, versioned folder. A binary already present is kept, so a warm run takes seconds.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
k8s_version=1.37.2
dest=${ENVTEST_DIR:-$root/bin/k8s/$k8s_version}
mkdir -p "$dest"

build() { # build NAME TOOLS_DIR PACKAGE
	local name=$1 dir=$2 pkg=$3 start=$SECONDS
	if [[ -x $dest/$name ]]; then
		echo "envtest: $name cached in $dest"
		return
	fi
	echo "envtest: building $name from $pkg (cold builds take minutes)"
	(
		while sleep 30; do echo "envtest: still building $name, $((SECONDS - start))s elapsed"; done
	) &
	local ticker=$! rc=0
	(cd "$root/hack/tools/$dir" && CGO_ENABLED=0 go build -trimpath -ldflags=-s -o "$dest/$name.tmp" "$pkg") || rc=$?
	# Stop the ticker whatever happened, so a failed build leaves nothing running.
	kill "$ticker" 2>/dev/null
	wait "$ticker" 2>/dev/null || true
	if ((rc)); then
		rm -f "$dest/$name.tmp"
		echo "envtest: building $name failed after $((SECONDS - start))s" >&2
		return "$rc"
	fi
	mv "$dest/$name.tmp" "$dest/$name"
	echo "envtest: built $name in $((SECONDS - start))s"
}

build etcd etcd go.etcd.io/etcd/server/v3
build kube-apiserver k8s k8s.io/kubernetes/cmd/kube-apiserver
build kubectl k8s k8s.io/kubernetes/cmd/kubectl
echo "$dest"
