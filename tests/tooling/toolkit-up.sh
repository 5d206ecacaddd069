#!/usr/bin/env bash
# toolkit-up.sh DIR: the NVIDIA Container Toolkit built from its source, as the packages NVIDIA's apt
# repository serves, in a signed repository laid out like NVIDIA's, for the toolkit tests; as root.
#   DIR/bin    the four programs (tests/tooling/build-toolkit.sh, cached across runs and clones)
#   DIR/debs   the four .deb packages (tests/tooling/toolkit-debs.sh; two are stand-ins, see there)
#   DIR/repo   the repository with NVIDIA's verbatim .list and .repo (tests/tooling/apt-repo.sh)
# The packages and the repository are made again only when the programs changed (DIR/stamp), so a
# second run takes a second. Installs what the tooling needs first: Debian's gcc, python3-venv,
# dpkg-dev, gnupg and xz-utils.
# Exit 3 when the toolkit cannot be built on this machine (no source and no Go module proxy, no
# compiler): the reason, one line, is on stderr and in DIR/unavailable, for the tests' skip reason.
set -euo pipefail
[ $# -eq 1 ] || { echo "usage: $0 DIR" >&2; exit 2; }
tooling=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$1"
dir=$(cd "$1" && pwd)
rm -f "$dir/unavailable"

need=()
command -v gcc >/dev/null || need+=(gcc)
python3 -c 'import ensurepip' 2>/dev/null || need+=(python3-venv)
command -v dpkg-scanpackages >/dev/null || need+=(dpkg-dev)
command -v gpg >/dev/null || need+=(gnupg)
command -v xz >/dev/null || need+=(xz-utils)
if [ ${#need[@]} -gt 0 ]; then
  echo "toolkit-up: installing ${need[*]}"
  apt-get update -q >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${need[@]}" >/dev/null
fi

set +e
bash "$tooling/build-toolkit.sh" "$dir/bin" 2>"$dir/build.log" >/dev/null
rc=$?
set -e
if [ $rc -eq 3 ]; then
  sed -n 's/^build-toolkit: cannot build here: //p' "$dir/build.log" | tail -1 >"$dir/unavailable"
  echo "toolkit-up: the toolkit cannot be built here: $(cat "$dir/unavailable")" >&2
  exit 3
fi
[ $rc -eq 0 ] || { tail -20 "$dir/build.log" >&2; exit $rc; }

stamp=$(cd "$dir/bin" && sha256sum nvidia-ctk nvidia-container-runtime nvidia-container-runtime-hook nvidia-cdi-hook \
  "$tooling/toolkit-debs.sh" "$tooling/apt-repo.sh" | sha256sum | cut -c1-16)
if [ "$(cat "$dir/stamp" 2>/dev/null)" != "$stamp" ] || [ ! -s "$dir/repo/gpgkey" ]; then
  rm -rf "$dir/debs" "$dir/repo" "$dir/stamp"
  bash "$tooling/toolkit-debs.sh" "$dir/bin" "$dir/debs" >/dev/null
  bash "$tooling/apt-repo.sh" "$dir/debs" "$dir/repo" 2>/dev/null
  echo "$stamp" >"$dir/stamp"
fi
echo "toolkit-up: the NVIDIA Container Toolkit $(cat "$dir/bin/VERSION") built from source; its packages in $dir/repo"
