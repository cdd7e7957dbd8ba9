#!/usr/bin/env bash
# Proves that hack/verify.sh (make verify) passes on this tree and fails when a CRD type changes
# without `make manifests`: on scratch copies, it adds a field to an existing spec type, and
# separately adds a new kind, and expects verify to fail naming what is stale.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

fresh_copy() { # fresh_copy DIR
	rm -rf "$1" && mkdir -p "$1"
	tar -C "$root" --exclude=./bin --exclude=./.git -cf - . | tar -C "$1" -xf -
}

expect_stale() { # expect_stale NAME TREE WORD: verify must fail and its diff must mention WORD
	local name=$1 tree=$2 word=$3
	if bash "$root/hack/verify.sh" "$tree" >"$work/out" 2>&1; then
		cat "$work/out"
		echo "FAIL: $name: verify passed on a stale tree" >&2
		exit 1
	fi
	if ! grep -q -- "$word" "$work/out"; then
		cat "$work/out"
		echo "FAIL: $name: verify failed without naming $word" >&2
		exit 1
	fi
	echo "ok: $name: verify fails and names $word"
}

fresh_copy "$work/tree"
bash "$root/hack/verify.sh" "$work/tree" >/dev/null
echo "ok: verify passes on the tree as it is"

types=$(grep -l -E '^type [A-Za-z]+Spec struct \{$' "$work"/tree/api/v1alpha1/*_types.go | head -n1)
if [[ -z $types ]]; then
	echo "FAIL: no *Spec struct in api/v1alpha1 to change" >&2
	exit 1
fi
sed -i -E '0,/^type [A-Za-z]+Spec struct \{$/s//&\n\t\/\/ VerifyProbe exists only in this scratch copy.\n\tVerifyProbe string `json:"verifyProbe,omitempty"`/' "$types"
expect_stale "a field added to ${types##*/}" "$work/tree" verifyProbe

fresh_copy "$work/tree"
cat >"$work/tree/api/v1alpha1/verifyprobe_types.go" <<'GO'
package v1alpha1

import metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

// +kubebuilder:object:root=true

// VerifyProbe exists only in this scratch copy.
type VerifyProbe struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              VerifyProbeSpec `json:"spec,omitempty"`
}

// VerifyProbeSpec exists only in this scratch copy.
type VerifyProbeSpec struct {
	Size int32 `json:"size,omitempty"`
}
GO
expect_stale "a new kind" "$work/tree" flowguard.dev_verifyprobes.yaml
