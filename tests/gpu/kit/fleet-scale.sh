#!/usr/bin/env bash
# fleet-scale.sh [KITDIR] [prepare|run|all]: benchmarks/fleet_scale.py on the GPU host (16 cores), as root,
# from the repository's root: the test fleet's eight hosts (tests/fleet/fleet-up.sh: containers with
# sshd and engines of their own) brought up on this machine, the playbook timed over 1, 2, 4 and 8 of them
# with forks 8. It needs no package index: what the host lacks comes in the kit (default build/gpu-kit),
# in two sends, since each holds 64 MiB with the working tree:
#   prepare   needs KITDIR/engine/bin.tar.xz (make-kit.sh), KITDIR/e2e/docker.xz (make-e2e-kit.sh) and
#             KITDIR/fleet/ansible and KITDIR/fleet/ssh.tar.xz (make-fleet-kit.sh): the engine, the docker
#             CLI and, where the host has none, the OpenSSH client unpacked into KIT_ROOT/bin (default
#             /tmp/gpu-kit; kept when the kit's rig already put them there), ansible-core installed into
#             the host's Python
#   run       needs KITDIR/fleet/fleet-host.tar.xz and KITDIR/fleet/wheelhouse.tar[.sha256]: the benchmark
#   all       (the default) both, when one send holds it all
# Writes into $OUT (default build/device-out): fleet-scale.txt (the benchmark's output, after the
# machine's CPUs) and fleet-scale.json (its figures). Settings: REPEAT (default 3), FORKS (default 8),
# HOSTS (default 1,2,4,8).
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../../.." && pwd)
cd "$repo" || exit 2
kit=${1:-build/gpu-kit}
what=${2:-all}
out=${OUT:-$repo/build/device-out}
mkdir -p "$out"
KIT_ROOT=${KIT_ROOT:-/tmp/gpu-kit}
mkdir -p "$KIT_ROOT/bin"
export PATH=$KIT_ROOT/bin:$PATH
say() { echo "fleet-scale: $*" >&2; }
die() { say "$*"; exit 2; }

prepare() {
  if ! command -v dockerd >/dev/null; then
    [ -s "$kit/engine/bin.tar.xz" ] || die "no dockerd here and no $kit/engine/bin.tar.xz: send build/gpu-kit/engine/bin.tar.xz (carry)"
    tar -C "$KIT_ROOT" -xJf "$kit/engine/bin.tar.xz" || die "cannot unpack $kit/engine/bin.tar.xz"
  fi
  if ! command -v docker >/dev/null; then
    [ -s "$kit/e2e/docker.xz" ] || die "no docker CLI here and no $kit/e2e/docker.xz: send build/gpu-kit/e2e/docker.xz (carry)"
    xz -dc "$kit/e2e/docker.xz" >"$KIT_ROOT/bin/docker" && chmod 755 "$KIT_ROOT/bin/docker" || die "cannot unpack the docker CLI"
  fi
  if ! [ -x "$(command -v ssh)" ]; then
    [ -s "$kit/fleet/ssh.tar.xz" ] || die "no ssh here and no $kit/fleet/ssh.tar.xz: send build/gpu-kit/fleet/ssh.tar.xz (carry)"
    tar -C "$KIT_ROOT" -xJf "$kit/fleet/ssh.tar.xz" || die "cannot unpack $kit/fleet/ssh.tar.xz"
    # wrappers that load the kit's libraries; scp and sftp start the kit's ssh (-S), not /usr/bin/ssh
    for b in ssh ssh-keygen scp sftp; do
      case $b in scp | sftp) extra="-S $KIT_ROOT/bin/ssh" ;; *) extra="" ;; esac
      printf '#!/bin/sh\nLD_LIBRARY_PATH=%s exec %s %s "$@"\n' "$KIT_ROOT/ssh/lib" "$KIT_ROOT/ssh/bin/$b" "$extra" >"$KIT_ROOT/bin/$b"
      chmod 755 "$KIT_ROOT/bin/$b"
    done
    say "ssh: the kit's $(cat "$KIT_ROOT/ssh/VERSION") ($(ssh -V 2>&1))"
  fi
  if ! python3 -c 'import ansible' 2>/dev/null; then
    [ -d "$kit/fleet/ansible" ] || die "no ansible-core here and no $kit/fleet/ansible: send build/gpu-kit/fleet/ansible (carry)"
    bash "$here/pip-offline.sh" python3 "$kit/fleet/ansible" ansible-core \
      || die "cannot install ansible-core from $kit/fleet/ansible"
  fi
  say "prepared: $(dockerd --version), $(docker --version), $(python3 -c 'import ansible.release as r; print("ansible-core", r.__version__)')"
}

run() {
  local tool
  for tool in dockerd docker ssh ssh-keygen ansible-playbook xz; do
    command -v "$tool" >/dev/null || die "$tool is not on PATH here (prepare first, or install it)"
  done
  [ -s "$kit/fleet/fleet-host.tar.xz" ] || die "no $kit/fleet/fleet-host.tar.xz: send build/gpu-kit/fleet (make-fleet-kit.sh)"
  [ -s "$kit/fleet/wheelhouse.tar.sha256" ] || die "no $kit/fleet/wheelhouse.tar.sha256: send build/gpu-kit/fleet"
  export RUNBOOK_TEST_CACHE=$KIT_ROOT/fleet-cache  # fleet-image.sh finds the host image there
  mkdir -p "$RUNBOOK_TEST_CACHE"
  if [ ! -s "$RUNBOOK_TEST_CACHE/fleet-host.tar" ] || [ "$kit/fleet/fleet-host.tar.xz" -nt "$RUNBOOK_TEST_CACHE/fleet-host.tar" ]; then
    xz -dc "$kit/fleet/fleet-host.tar.xz" >"$RUNBOOK_TEST_CACHE/fleet-host.tar.part" \
      && mv "$RUNBOOK_TEST_CACHE/fleet-host.tar.part" "$RUNBOOK_TEST_CACHE/fleet-host.tar" || die "cannot unpack the host image"
  fi
  {
    echo "# tests/gpu/kit/fleet-scale.sh on $(hostname), $(date -u +%FT%TZ): $(nproc) CPUs ($(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | sort -u | head -1)), $(free -g | awk '/^Mem:/ {print $2 " GiB"}')"
    echo "# python3 benchmarks/fleet_scale.py --wheelhouse $kit/fleet/wheelhouse.tar --hosts ${HOSTS:-1,2,4,8} --repeat ${REPEAT:-3} --forks ${FORKS:-8}"
  } >"$out/fleet-scale.txt"
  python3 benchmarks/fleet_scale.py --wheelhouse "$kit/fleet/wheelhouse.tar" --hosts "${HOSTS:-1,2,4,8}" \
    --repeat "${REPEAT:-3}" --forks "${FORKS:-8}" --json "$out/fleet-scale.json" 2>&1 | tee -a "$out/fleet-scale.txt"
  return "${PIPESTATUS[0]}"
}

case $what in
  prepare) prepare ;;
  run) run ;;
  all) prepare && run ;;
  *) die "unknown step $what: prepare, run or all" ;;
esac
