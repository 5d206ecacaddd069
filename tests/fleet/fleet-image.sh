#!/usr/bin/env bash
# The test fleet's host image as a root file system tar, made once and cached: Debian 12 (minbase) with
# sshd, Python and the Docker CLI (for ssh:// engines), made with debootstrap, since no public registry
# is reachable from these machines. tests/fleet/fleet-up.sh imports it into the fleet's engine;
# tests/gpu/kit/make-kit.sh ships a slimmer copy to the GPU host.
#
#   tests/fleet/fleet-image.sh        (as root; prints the tar's path)
#
# Writes $RUNBOOK_TEST_CACHE/fleet-host.tar (default /var/cache/gpu-runbook-test) unless it is there, and
# the debootstrap log beside it.
set -euo pipefail
cache=${RUNBOOK_TEST_CACHE:-/var/cache/gpu-runbook-test}
tar=$cache/fleet-host.tar
if [ ! -s "$tar" ]; then
  command -v debootstrap >/dev/null || {
    apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q debootstrap >/dev/null
  }
  echo "fleet-image: building the fleet's host image with debootstrap (a minute or two)" >&2
  mkdir -p "$cache"
  root=$(mktemp -d)
  debootstrap --variant=minbase --include=openssh-server,python3 bookworm "$root" \
    >"$cache/fleet-debootstrap.log" 2>&1 || { tail -20 "$cache/fleet-debootstrap.log" >&2; exit 1; }
  debs=$(mktemp -d)
  (cd "$debs" && { apt-get download -q docker.io >/dev/null 2>&1 \
    || { apt-get update -q >/dev/null && apt-get download -q docker.io >/dev/null; }; })
  dpkg-deb -x "$debs"/docker.io_*.deb "$debs/x" && install -m 755 "$debs/x/usr/bin/docker" "$root/usr/bin/docker"
  rm -rf "$debs" "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/* "$root"/etc/ssh/ssh_host_*
  tar -C "$root" -cf "$tar.tmp" . && mv "$tar.tmp" "$tar"
  rm -rf "$root"
fi
echo "$tar"
