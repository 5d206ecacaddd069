#!/usr/bin/env bash
# podman.sh start|stop [KITDIR]: Podman 5.4's Docker-compatible API service on the GPU host, as root, from
# the kit's Podman (make-podman-kit.sh; KITDIR default build/gpu-kit), unpacked into KIT_ROOT/podman
# (default /tmp/gpu-kit/podman), nothing installed outside it:
#   - podman, conmon and crun run with the kit's libraries (small wrappers set LD_LIBRARY_PATH: Podman
#     starts conmon, and conmon the runtime, with environments of their own); netavark as its network helper;
#     crun runs the containers where the cgroups are unified (v2), else runc (the kit engine's or the host's);
#   - containers.conf (CONTAINERS_CONF) names them, trixie's seccomp profile, cgroupfs and the file events
#     logger; the CDI spec folders are Podman's defaults (/etc/cdi, /var/run/cdi), where the toolkit's are;
#   - registries.conf (CONTAINERS_REGISTRIES_CONF): docker.io through the kit's registry on
#     127.0.0.1:REGISTRY_PORT (default 5000), which holds the images under their real names, as the
#     Docker engine's registry mirror does; policy.json in the service's own HOME (accept any image);
#   - storage in KIT_ROOT/podman/storage, run root /run/gpu-kit-podman;
#   - the socket at /run/podman/podman.sock, Podman's own rootful path (PODMAN_SOCK).
# Prints the socket's URL and Podman's version once the API answers. stop ends the service (by its pid
# file) and removes the socket. Logs: KIT_ROOT/podman/service.log.
set -uo pipefail
what=${1:?usage: podman.sh start|stop [KITDIR]}
kit=${2:-build/gpu-kit}
KIT_ROOT=${KIT_ROOT:-/tmp/gpu-kit}
p=$KIT_ROOT/podman
sock=${PODMAN_SOCK:-/run/podman/podman.sock}
registry=127.0.0.1:${REGISTRY_PORT:-5000}
say() { echo "podman.sh: $*" >&2; }
die() { say "$*"; exit 2; }

stop() {
  local pid
  pid=$(cat "$p/service.pid" 2>/dev/null) || return 0
  if kill "$pid" 2>/dev/null; then
    for _ in $(seq 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
  fi
  rm -f "$p/service.pid" "$sock"
}

remote() { "$p/bin/podman" --remote --url "unix://$sock" "$@"; }

start() {
  [ -s "$kit/podman/podman.tar.xz" ] || die "no $kit/podman/podman.tar.xz: make it with tests/gpu/kit/make-podman-kit.sh and send it (carry)"
  mkdir -p "$KIT_ROOT"
  if [ ! -x "$p/real/podman" ] || [ "$kit/podman/podman.tar.xz" -nt "$p/real/podman" ]; then
    stop
    rm -rf "$p/real" "$p/lib" "$p/libexec" "$p/share" "$p/bin" "$p/unpack"
    mkdir -p "$p/unpack" && tar -C "$p/unpack" -xJf "$kit/podman/podman.tar.xz" || die "cannot unpack $kit/podman/podman.tar.xz"
    mv "$p/unpack/podman/bin" "$p/real" && mv "$p/unpack/podman/lib" "$p/unpack/podman/libexec" "$p/unpack/podman/share" \
      "$p/unpack/podman/VERSIONS" "$p/" && rm -rf "$p/unpack"
    touch "$p/real/podman"
  fi
  mkdir -p "$p/bin" "$p/etc" "$p/home/.config/containers" "$p/storage"
  local b
  for b in podman conmon crun; do
    printf '#!/bin/sh\nLD_LIBRARY_PATH=%s/lib exec %s/real/%s "$@"\n' "$p" "$p" "$b" >"$p/bin/$b"
    chmod 755 "$p/bin/$b"
  done
  "$p/bin/podman" --version >/dev/null 2>"$p/version.err" || die "the kit's podman cannot run here: $(cat "$p/version.err")"
  # crun where the cgroups are unified (v2, Ubuntu 24.04); it refuses hybrid ones, where runc (the kit
  # engine's, or the host's) runs the containers
  local runtime=crun
  [ "$(stat -fc %T /sys/fs/cgroup 2>/dev/null)" = cgroup2fs ] || runtime=runc
  # Podman loads its AppArmor profile with apparmor_parser where AppArmor is on (Ubuntu); without that
  # program no container could start, so the containers run unconfined, and this says so
  local apparmor=""
  if [ "$(cat /sys/module/apparmor/parameters/enabled 2>/dev/null)" = Y ] \
    && ! PATH=/usr/sbin:/sbin:$PATH command -v apparmor_parser >/dev/null; then
    apparmor='apparmor_profile = "unconfined"'
    say "AppArmor is on and apparmor_parser is missing: the containers run unconfined"
  fi
  cat >"$p/etc/containers.conf" <<CONF
# written by tests/gpu/kit/podman.sh
[containers]
seccomp_profile = "$p/share/seccomp.json"
$apparmor
[engine]
conmon_path = ["$p/bin/conmon"]
helper_binaries_dir = ["$p/libexec"]
runtime = "$runtime"
cgroup_manager = "cgroupfs"
events_logger = "file"
[engine.runtimes]
crun = ["$p/bin/crun"]
runc = ["$KIT_ROOT/bin/runc", "/usr/sbin/runc", "/usr/bin/runc"]
CONF
  cat >"$p/etc/registries.conf" <<CONF
# written by tests/gpu/kit/podman.sh: docker.io's images come from the kit's registry
unqualified-search-registries = ["docker.io"]
[[registry]]
prefix = "docker.io"
location = "docker.io"
[[registry.mirror]]
location = "$registry"
insecure = true
[[registry]]
location = "$registry"
insecure = true
CONF
  echo '{"default": [{"type": "insecureAcceptAnything"}]}' >"$p/home/.config/containers/policy.json"
  stop
  mkdir -p "$(dirname "$sock")"
  (exec setsid env HOME="$p/home" CONTAINERS_CONF="$p/etc/containers.conf" \
    CONTAINERS_REGISTRIES_CONF="$p/etc/registries.conf" PODMAN_IGNORE_CGROUPSV1_WARNING=1 \
    "$p/bin/podman" --root "$p/storage" --runroot /run/gpu-kit-podman system service --time=0 "unix://$sock" \
    >>"$p/service.log" 2>&1 </dev/null) &
  echo $! >"$p/service.pid"
  local v=""
  for _ in $(seq 60); do
    v=$(remote version --format '{{.Server.Version}}' 2>/dev/null) && [ -n "$v" ] && break
    kill -0 "$(cat "$p/service.pid")" 2>/dev/null || break
    sleep 0.5
  done
  [ -n "$v" ] || { tail -20 "$p/service.log" >&2; die "Podman's API service did not answer at $sock (see $p/service.log)"; }
  echo "unix://$sock Podman $v"
}

case $what in
  start) start ;;
  stop) stop ;;
  *) die "unknown command $what: start or stop" ;;
esac
