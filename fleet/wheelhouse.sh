#!/usr/bin/env bash
# The wheelhouse the controller ships to every host: the runbook's wheel and the wheels of all it
# imports, in one tar, so that hosts install with `pip install --no-index` (they need no package index:
# air-gapped fleets are common). pip's own wheel goes in too, as pip.whl, run from the wheel itself
# (`python pip.whl/pip`): a host needs Python, not pip or ensurepip. Run on the controller, where an
# index (PyPI or a mirror) is reachable.
#
#   fleet/wheelhouse.sh OUT.tar [PIP_DOWNLOAD_OPTION...]
#
# The wheels are for this machine's Python and platform unless the options say otherwise; a fleet whose
# hosts run another Python gets a wheelhouse of its own, made with a Python of that version (PYTHON): pip
# picks wheels by --python-version but decides which dependencies apply (papermill needs aiohttp only on
# 3.12 and newer) by the Python it runs on, so a mismatch is refused. E.g. for Ubuntu 24.04's Python 3.12:
#   PYTHON=python3.12 fleet/wheelhouse.sh build/wheelhouse-cp312.tar --python-version 3.12 \
#     --platform manylinux_2_39_x86_64 --platform manylinux_2_28_x86_64 --platform manylinux2014_x86_64
# (pip takes a wheel of one of the platforms named: name the newest the hosts' glibc has and older ones).
# A package index mirror (e.g. https://mirrors.aliyun.com/pypi/simple/ where PyPI is slow, as from mainland
# China; docs/mirrors.md) is a pip option like any other, --index-url URL (or pip's own PIP_INDEX_URL): the
# index options (--index-url, -i, --extra-index-url, --trusted-host, --retries, --timeout) go to every pip
# call here, the project's build included, and the index is printed with any user:password in it masked.
# Writes OUT.tar (pip.whl and wheels/; files sorted, times zeroed: the same wheels give the same tar) and
# OUT.tar.sha256, the digest the role compares with what a host has installed.
set -euo pipefail
out=${1:?usage: wheelhouse.sh OUT.tar [PIP_DOWNLOAD_OPTION...]}
shift
project=$(cd "$(dirname "$0")/.." && pwd)
python=${PYTHON:-python3}
runs=$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
wanted=$runs
prev=""
index=()
for arg in "$@"; do
  case $prev in
    --python-version) wanted=$arg ;;
    --index-url | -i | --extra-index-url | --trusted-host | --retries | --timeout) index+=("$prev" "$arg") ;;
  esac
  case $arg in
    --python-version=*) wanted=${arg#*=} ;;
    --index-url=* | --extra-index-url=* | --trusted-host=* | --retries=* | --timeout=*) index+=("$arg") ;;
  esac
  prev=$arg
done
mask() { sed -E 's#([a-zA-Z][a-zA-Z0-9+.-]*://)[^/@[:space:]]+@#\1***@#g'; }
shown="${index[*]:-}${PIP_INDEX_URL:+ PIP_INDEX_URL=$PIP_INDEX_URL}"
[ -z "$shown" ] || echo "wheelhouse: index options: $(printf '%s' "$shown" | mask)"
if [ "$wanted" != "$runs" ]; then
  echo "wheelhouse.sh: --python-version $wanted with $python, which is Python $runs: the dependencies of a" \
    "Python $wanted host would be chosen for $runs. Run it with that Python: PYTHON=python$wanted $0 ..." >&2
  exit 2
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$python" -m pip wheel -q --disable-pip-version-check --no-deps ${index[@]+"${index[@]}"} --wheel-dir "$work/tar/wheels" \
  "$project" 2> >(mask >&2)
"$python" -m pip download -q --disable-pip-version-check --only-binary=:all: --dest "$work/tar/wheels" "$@" \
  "$work"/tar/wheels/gpu_runbook-*.whl 2> >(mask >&2)
"$python" -m pip download -q --disable-pip-version-check --only-binary=:all: --no-deps --dest "$work/pip" "$@" pip \
  2> >(mask >&2)
mv "$work"/pip/pip-*.whl "$work/tar/pip.whl"
mkdir -p "$(dirname "$out")"
tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C "$work/tar" -cf "$out.tmp" .
mv "$out.tmp" "$out"
sha256sum "$out" | cut -d' ' -f1 >"$out.sha256"
echo "wheelhouse: $out ($(tar -tf "$out" | grep -c '^./wheels/.*\.whl$') wheels and pip.whl, sha256 $(cat "$out.sha256"))"
