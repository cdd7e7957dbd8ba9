#!/usr/bin/env bash
# Builds the tools make bench-admission needs from the Go module proxy into a cached, versioned
# folder: vegeta (the load generator, tools module hack/tools/vegeta) always, OPA Gatekeeper
# when GATEKEEPER=1. Gatekeeper is built with `go install module@version`, outside any tools
# module, so that make verify never resolves its dependency tree. A binary already present is
# kept, so a warm run takes seconds.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
dest=${BENCH_TOOLS_DIR:-$root/bin/bench}
gatekeeper=github.com/open-policy-agent/gatekeeper/v3@v3.23.1
mkdir -p "$dest/vegeta/v12.13.0" "$dest/gatekeeper/v3.23.1"

# shellcheck source=lib/build.sh
source "$root/hack/lib/build.sh"

build_cached bench-admission "$dest/vegeta/v12.13.0" vegeta vegeta github.com/tsenart/vegeta/v12
if [[ ${GATEKEEPER:-0} == 1 && ! -x $dest/gatekeeper/v3.23.1/gatekeeper ]]; then
	echo "bench-admission: building gatekeeper from $gatekeeper (a cold build takes half an hour)"
	GOBIN=$dest/gatekeeper/v3.23.1 CGO_ENABLED=0 GOFLAGS=-mod=mod go install -trimpath -ldflags=-s "$gatekeeper"
fi
