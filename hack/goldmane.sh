#!/usr/bin/env bash
# Builds the real Goldmane server (goldmane) and its flow generator (flowgen) of Calico v3.31.0 from
# the Go module proxy into a cached, versioned folder, for the flows/goldmane integration test
# (GOLDMANE_ASSETS). A binary already present is kept, so a warm run takes seconds.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
calico_version=v3.31.0
dest=${GOLDMANE_DIR:-$root/bin/goldmane/$calico_version}
mkdir -p "$dest"

# shellcheck source=lib/build.sh
source "$root/hack/lib/build.sh"

build_cached goldmane "$dest" goldmane goldmane github.com/projectcalico/calico/goldmane/cmd
build_cached goldmane "$dest" flowgen goldmane github.com/projectcalico/calico/goldmane/cmd/flowgen
echo "$dest"
