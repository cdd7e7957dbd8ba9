# build_cached LABEL DEST NAME TOOLS_DIR PACKAGE builds PACKAGE in the tools module
# hack/tools/TOOLS_DIR into DEST/NAME, unless it is already there. It prints progress every 30 s
# while a cold build runs, and a failed build leaves neither a partial binary nor the ticker.
# Sourced by hack/envtest.sh and hack/goldmane.sh; needs $root, the repository root.
build_cached() {
	local label=$1 dest=$2 name=$3 dir=$4 pkg=$5 start=$SECONDS
	if [[ -x $dest/$name ]]; then
		echo "$label: $name cached in $dest"
		return
	fi
	echo "$label: building $name from $pkg (cold builds take minutes)"
	(
		while sleep 30; do echo "$label: still building $name, $((SECONDS - start))s elapsed"; done
	) &
	local ticker=$! rc=0
	(cd "$root/hack/tools/$dir" && CGO_ENABLED=0 go build -trimpath -ldflags=-s -o "$dest/$name.tmp" "$pkg") || rc=$?
	kill "$ticker" 2>/dev/null
	wait "$ticker" 2>/dev/null || true
	if ((rc)); then
		rm -f "$dest/$name.tmp"
		echo "$label: building $name failed after $((SECONDS - start))s" >&2
		return "$rc"
	fi
	mv "$dest/$name.tmp" "$dest/$name"
	echo "$label: built $name in $((SECONDS - start))s"
}
