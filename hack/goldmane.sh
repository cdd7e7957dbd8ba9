#!/usr/bin/env bash
# Builds the real Goldmane server (goldmane) and its flow generator (flowgen) of Calico v3.31.0 from
# the Go module proxy into a cached, versioned folder, for the flows/goldmane integration test
# (GOLDMANE_ASSETS). A binary already present is kept, so a warm run takes seconds.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
calico_version=v3.31.0
dest=${GOLDMANE_DIR:-$root/bin/goldmane/$calico_version}
mkdir -p "$dest"

build() { # build NAME PACKAGE
	local name=$1 pkg=$2 start=$SECONDS
	if [[ -x $dest/$name ]]; then
		echo "goldmane: $name cached in $dest"
		return
	fi
	echo "goldmane: building $name from $pkg (cold builds take minutes)"
	(
		while sleep 30; do echo "goldmane: still building $name, $((SECONDS - start))s elapsed"; done
	) &
	local ticker=$!
	trap 'kill $ticker 2>/dev/null' RETURN
	(cd "$root/hack/tools/goldmane" && CGO_ENABLED=0 go build -trimpath -ldflags=-s -o "$dest/$name.tmp" "$pkg")
	mv "$dest/$name.tmp" "$dest/$name"
	echo "goldmane: built $name in $((SECONDS - start))s"
}

build goldmane github.com/projectcalico/calico/goldmane/cmd
build flowgen github.com/projectcalico/calico/goldmane/cmd/flowgen
echo "$dest"
