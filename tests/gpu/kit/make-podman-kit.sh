#!/usr/bin/env bash
# make-podman-kit.sh [OUTDIR]: Podman 5.4 for the GPU host (Ubuntu 24.04, no internet), made here as
# root into OUTDIR (default build/gpu-kit/podman, git-ignored; about 20 MB, carried to the GPU host in a
# send of its own), for tests/gpu/kit/podman.sh:
#   podman.tar.xz   Debian trixie's podman, conmon, crun and netavark, unpacked, not installed, with the
#                   shared libraries they load (all but glibc's own, which the host has: none of them
#                   needs a glibc newer than 2.39, Ubuntu 24.04's; the script checks) and trixie's default
#                   seccomp profile. Podman finds them through the containers.conf podman.sh writes.
#   VERSIONS        the packages and their versions
# They are taken from a trixie root made by debootstrap (as tests/tooling/engines-up.sh makes it for CI's
# Podman 5.4; made here if absent). A kit already made is kept (delete it to make it again). XZ_LEVEL
# (default -9e) is xz's compression level.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../../.." && pwd)
out=${1:-$repo/build/gpu-kit/podman}
cache=${RUNBOOK_TEST_CACHE:-/var/cache/gpu-runbook-test}
root=$cache/trixie-root
host_glibc=${HOST_GLIBC:-39}  # the GPU host's glibc: 2.39 (Ubuntu 24.04)
mkdir -p "$out"
out=$(cd "$out" && pwd)
say() { echo "make-podman-kit: $*" >&2; }
[ -s "$out/podman.tar.xz" ] && { say "kept $out/podman.tar.xz"; exit 0; }

if [ ! -x "$root/usr/bin/podman" ] || [ ! -x "$root/usr/bin/crun" ]; then
  command -v debootstrap >/dev/null || {
    apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q debootstrap >/dev/null
  }
  say "making a trixie root with podman (debootstrap, a few minutes)"
  debootstrap --variant=minbase --include=podman,runc,crun trixie "$root" http://deb.debian.org/debian \
    >"$cache/trixie-debootstrap.log" 2>&1 || { tail -20 "$cache/trixie-debootstrap.log" >&2; exit 1; }
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
k=$work/podman
mkdir -p "$k/bin" "$k/libexec" "$k/lib" "$k/share"
install -m 0755 "$root/usr/bin/podman" "$root/usr/bin/conmon" "$root/usr/bin/crun" "$k/bin/"
install -m 0755 "$root/usr/lib/podman/netavark" "$k/libexec/"
install -m 0644 "$root/usr/share/containers/seccomp.json" "$k/share/"
# the libraries they load, as the trixie root resolves them, less glibc's (the host's own is used)
for b in podman conmon crun; do chroot "$root" ldd "/usr/bin/$b"; done | awk '$3 ~ /^\// {print $3}' | sort -u \
  | grep -Ev '/(libc|libm|libdl|libpthread|librt|ld-linux-x86-64)\.so' | while read -r lib; do
  cp -L "$root$lib" "$k/lib/"
done
# no file may need a glibc newer than the host's
too_new=$(for f in "$k"/bin/* "$k"/libexec/* "$k"/lib/*; do
  v=$(objdump -T "$f" | grep -o 'GLIBC_2\.[0-9]*' | sort -t. -k2 -n -u | tail -1)
  [ "${v#GLIBC_2.}" -le "$host_glibc" ] || echo "$(basename "$f") needs $v"
done)
[ -z "$too_new" ] || { say "too new for glibc 2.$host_glibc: $too_new"; exit 1; }
chroot "$root" dpkg-query -W -f='${Package} ${Version}\n' podman conmon crun netavark golang-github-containers-common \
  | tee "$k/VERSIONS" >"$out/VERSIONS"
say "compressing (a minute)"
tar -C "$work" -cf - podman | xz "${XZ_LEVEL:--9e}" -T0 >"$out/podman.tar.xz.part"
mv "$out/podman.tar.xz.part" "$out/podman.tar.xz"
du -sh --apparent-size "$out/podman.tar.xz" >&2
