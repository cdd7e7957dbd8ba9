#!/usr/bin/env bash
# Fails when anything hack/manifests.sh generates, or docs/cli.md (make docs), is out of date: it
# regenerates in a scratch copy of TREE (default: this working tree), so the tree itself is never
# written, and diffs the generated paths against TREE.
# usage: hack/verify.sh [TREE]
set -euo pipefail

src=$(cd "${1:-$(dirname "$0")/..}" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

tar -C "$src" --exclude=./bin --exclude=./.git -cf - . | tar -C "$work" -xf -
bash "$work/hack/manifests.sh" >/dev/null
(cd "$work" && go run ./hack/clidoc >docs/cli.md)

# api/ holds the deepcopy code; the rest of it is identical in both copies.
status=0
for path in api config/crd config/rbac charts/flowguard/crds docs/cli.md; do
	if ! diff -ru "$src/$path" "$work/$path" >"$work/diff" 2>&1; then
		sed "s|$src/|committed: |g; s|$work/|regenerated: |g" "$work/diff"
		status=1
	fi
done
if ((status)); then
	echo "verify: generated files are out of date; run 'make manifests docs' and commit the result" >&2
	exit 1
fi
echo "verify: generated files are up to date"
