#!/usr/bin/env bash
# make-fleet-kit.sh [OUTDIR]: what tests/gpu/kit/fleet-scale.sh needs on the GPU host, made here (as root,
# with a package index reachable), into OUTDIR (default build/gpu-kit/fleet, git-ignored; about 60 MB,
# carried to the GPU host in one send of its own):
#   fleet-host.tar.xz        the test fleet's host image (tests/fleet/fleet-image.sh: Debian 12 with sshd
#                            and Python) without the Docker CLI and the documentation, which the
#                            benchmark's hosts never use (225 MB of tar, about 28 MB compressed)
#   wheelhouse.tar[.sha256]  fleet/wheelhouse.sh's wheelhouse for those hosts' Python (3.11)
#   ansible/                 ansible-core and its dependencies for the GPU host's Python (3.12), the controller,
#                            less what that Python has (host-has.txt)
#   ssh.tar.xz               the OpenSSH client Ansible drives (ssh, scp, sftp, ssh-keygen: this machine's
#                            Debian 12 package, glibc 2.36) with the libraries it loads, less glibc's: the GPU
#                            host has no ssh (seen on the H100 of 2026-12-07); fleet-scale.sh unpacks it
# The engine, and the docker CLI that tests/fleet/fleet-up.sh calls, come from the kit's engine part
# (make-kit.sh) and e2e/docker.xz (make-e2e-kit.sh). A part already made is kept (delete it to make it again).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../../.." && pwd)
out=${1:-$repo/build/gpu-kit/fleet}
mkdir -p "$out"
out=$(cd "$out" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
say() { echo "make-fleet-kit: $*" >&2; }

if [ ! -s "$out/fleet-host.tar.xz" ]; then
  full=$(bash "$repo/tests/fleet/fleet-image.sh")
  mkdir "$work/root"
  tar -C "$work/root" -xf "$full"
  rm -rf "$work/root/usr/bin/docker" "$work"/root/usr/share/{doc,man,locale,info}/*
  say "compressing the fleet's host image (a minute or two)"
  tar -C "$work/root" -cf - . | xz -9e -T0 >"$out/fleet-host.tar.xz.part"
  mv "$out/fleet-host.tar.xz.part" "$out/fleet-host.tar.xz"
fi

if [ ! -s "$out/wheelhouse.tar.sha256" ]; then
  # made by this machine's Python 3.11 on Debian 12, for the hosts' Python 3.11 on Debian 12
  PYTHON=${PYTHON:-python3.11} bash "$repo/fleet/wheelhouse.sh" "$out/wheelhouse.tar" >&2
fi

if ! compgen -G "$out/ansible/ansible_core-*.whl" >/dev/null; then
  rm -rf "$out/ansible"
  python3 -m pip download -q --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux2014_x86_64 --platform any -d "$out/ansible" ansible-core
  python3 "$here/drop_host_has.py" "$out/ansible"
fi
if [ ! -s "$out/ssh.tar.xz" ]; then
  mkdir -p "$work/ssh/bin" "$work/ssh/lib"
  for b in ssh scp sftp ssh-keygen; do cp -L "$(command -v "$b")" "$work/ssh/bin/"; done
  # every library they load but glibc's own, which the host's glibc (2.36 or newer) provides
  for lib in $(ldd "$work"/ssh/bin/* | awk '$3 ~ /^\// {print $3}' | sort -u); do
    case $(basename "$lib") in
      libc.so.* | libm.so.* | libresolv.so.* | libpthread.so.* | libdl.so.* | librt.so.* | ld-linux*) ;;
      *) cp -L "$lib" "$work/ssh/lib/" ;;
    esac
  done
  dpkg-query -W -f='${Package} ${Version}\n' openssh-client >"$work/ssh/VERSION"
  tar -C "$work" -cf - ssh | xz -9 -T0 >"$out/ssh.tar.xz"
fi
du -sh --apparent-size "$out/fleet-host.tar.xz" "$out/wheelhouse.tar" "$out/ansible" "$out/ssh.tar.xz" >&2
