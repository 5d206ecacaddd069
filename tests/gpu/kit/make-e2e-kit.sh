#!/usr/bin/env bash
# make-e2e-kit.sh [OUTDIR]: what tests/gpu/kit/e2e.sh needs on the GPU host, made here, into OUTDIR
# (default build/gpu-kit/e2e, git-ignored; carried to the GPU host as its own folder, about 15 MB):
#   e2e.test.xz, SOURCE   NVIDIA's end-to-end suite compiled offline (tests/tooling/build-e2e.sh)
#   docker.xz             the docker CLI the suite calls: Debian trixie's docker-cli package (26.1, the
#                         kit's engine's version), unpacked
#   busybox               Debian trixie's busybox-static, for the suite's busybox image
#   nvcr.io.crt/.key      a self-signed certificate for nvcr.io, made here: e2e.sh serves the kit's registry
#                         as https://nvcr.io on loopback (the suite pulls nvcr.io/nvidia/k8s/cuda-sample:*), and
#                         the kit's engine trusts it through /etc/docker/certs.d/nvcr.io/ca.crt
#   VERSIONS              the packages, their versions and sha256 sums
# A part already made is kept (delete it to make it again).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../../.." && pwd)
out=${1:-$repo/build/gpu-kit/e2e}
mkdir -p "$out"
out=$(cd "$out" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
say() { echo "make-e2e-kit: $*" >&2; }

bash "$repo/tests/tooling/build-e2e.sh" "$work/e2e" >&2
cp "$work/e2e/e2e.test.xz" "$work/e2e/SOURCE" "$out/"

if [ ! -s "$out/docker.xz" ] || [ ! -x "$out/busybox" ]; then
  mkdir -p "$work/lists/partial" "$work/debs"
  echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian trixie main" >"$work/sources.list"
  o=(-o Dir::Etc::SourceList="$work/sources.list" -o Dir::Etc::SourceParts=/dev/null -o Dir::State::Lists="$work/lists")
  apt-get "${o[@]}" update -qq
  (cd "$work/debs" && apt-get "${o[@]}" download -q docker-cli/trixie busybox-static/trixie >/dev/null 2>&1)
  : >"$out/VERSIONS"
  for deb in "$work"/debs/*.deb; do
    dpkg -x "$deb" "$work/x"
    echo "$(dpkg-deb -f "$deb" Package Version | paste -sd' ') $(basename "$deb") sha256 $(sha256sum <"$deb" | cut -c1-16)" >>"$out/VERSIONS"
  done
  xz -9 -T0 -c "$work/x/usr/bin/docker" >"$out/docker.xz"
  install -m 0755 "$work/x/usr/bin/busybox" "$out/busybox"
fi

if [ ! -s "$out/nvcr.io.crt" ]; then
  openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=nvcr.io" -addext "subjectAltName=DNS:nvcr.io" \
    -keyout "$out/nvcr.io.key" -out "$out/nvcr.io.crt" 2>/dev/null
fi
cat "$out/VERSIONS" >&2
du -sh --apparent-size "$out" >&2
