#!/usr/bin/env bash
# Brings up the engines the engine tests run against besides the shared Docker 20.10 (tests/tooling/engine-up.sh,
# which must have run first), on a Debian machine, as root; idempotent. Each is a process of its own that
# leaves the shared dockerd, its data and /etc/docker alone:
#   - Docker 26.1 and 28.5: Debian trixie's and sid's docker.io, downloaded through a private apt list (the
#     machine's own sources stay as they are; the debs cached in $cache/SUITE-debs), unpacked into
#     $cache/docker-SUITE and each run as a dockerd of its own with its own --data-root, --exec-root,
#     --pidfile, socket /run/gpu-runbook-docker-SUITE.sock, --bridge=none, and its own containerd (the
#     system's containerd and runc binaries, started by that dockerd under its exec root).
#   - Podman (Debian's podman), rootful: its Docker-compatible API service,
#     `podman system service --time=0 unix:///run/gpu-runbook-podman.sock`, with its own storage
#     ($cache/podman) and a registries.conf of its own (CONTAINERS_REGISTRIES_CONF) that lets it pull from
#     the loopback registry over http (Docker allows 127.0.0.0/8 over http by itself), and a containers.conf
#     of its own (CONTAINERS_CONF) with limits this machine allows and runc.
#   - Podman 5.4 (trixie's), rootful, in a trixie root made by debootstrap (it needs a newer glibc than
#     bookworm's), at /run/gpu-runbook-podman-trixie/podman.sock.
#   - Podman, rootless: as the unprivileged user gpu-runbook-rootless (made here, with Debian's uidmap for
#     its subordinate ids), its service on $XDG_RUNTIME_DIR/podman/podman.sock, overlay storage in its home.
# The test image runbook-test/debian:bookworm is copied into each (docker save from the shared engine, load).
# Writes $cache/engines.env: one NAME=socket line per engine that answers, read by tests/conftest.py; an
# engine that could not be brought up is written as NAME_UNAVAILABLE=<why>, and its tests skip with that.
set -uo pipefail
cache=${RUNBOOK_TEST_CACHE:-/var/cache/gpu-runbook-test}
mkdir -p "$cache"
env_file=$cache/engines.env
: >"$env_file.tmp"
say() { echo "engines-up: $*" >&2; }
image=runbook-test/debian:bookworm

ping_sock() {  # /_ping over a unix socket, with python's standard library only
  python3 - "$1" <<'PY' 2>/dev/null
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.settimeout(3)
s.connect(sys.argv[1])
s.sendall(b"GET /_ping HTTP/1.0\r\nHost: d\r\n\r\n")
sys.exit(0 if s.recv(4096).split(b"\r\n\r\n", 1)[-1].strip() == b"OK" else 1)
PY
}
wait_ping() { for _ in $(seq 120); do ping_sock "$1" && return 0; sleep 0.5; done; return 1; }

# --- Docker from Debian trixie (26.1) and sid (28.5) ------------------------------------------------------
# docker_debian SUITE NAME [STORE]: the suite's docker.io, unpacked into $cache/docker-SUITE, at
# /run/gpu-runbook-docker-SUITE.sock; NAME is its key in engines.env. STORE=containerd runs a second engine
# of the same binaries with the containerd image store (daemon.json "features": {"containerd-snapshotter":
# true}, the default of new Docker 29 installs), its own roots, at /run/gpu-runbook-docker-SUITE-containerd.sock.
docker_debian() {
  local suite=$1 name=$2 store=${3:-}
  local root=$cache/docker-$suite sock=/run/gpu-runbook-docker-$suite${store:+-$store}.sock debs=$cache/$suite-debs
  local data=$root/data${store:+-$store} exec_root=/run/gpu-runbook-docker-$suite${store:+-$store} config=/dev/null
  if ! ping_sock "$sock"; then
    if [ ! -x "$root/bin/dockerd" ]; then
      local work
      work=$(mktemp -d)
      mkdir -p "$work/lists/partial" "$debs"
      echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian $suite main" >"$work/sources.list"
      local o=(-o Dir::Etc::SourceList="$work/sources.list" -o Dir::Etc::SourceParts=/dev/null -o Dir::State::Lists="$work/lists")
      if ! compgen -G "$debs/docker.io_*.deb" >/dev/null; then
        say "downloading $suite's docker.io"
        apt-get "${o[@]}" update -qq && (cd "$debs" && apt-get "${o[@]}" download -q "docker.io/$suite" >/dev/null 2>&1) \
          || { rm -rf "$work"; echo "${name}_UNAVAILABLE=$suite's docker.io could not be downloaded" >>"$env_file.tmp"; return; }
      fi
      dpkg -x "$debs"/docker.io_*.deb "$work/x"
      mkdir -p "$root/bin"
      install -m 0755 "$work/x/usr/sbin/dockerd" "$root/bin/dockerd"
      install -m 0755 /usr/bin/tini-static "$root/bin/docker-init"
      dpkg-deb -f "$debs"/docker.io_*.deb Version >"$root/VERSION"
      rm -rf "$work"
    fi
    if [ "$store" = containerd ]; then
      config=$root/daemon-containerd.json
      echo '{"features": {"containerd-snapshotter": true}}' >"$config"
    fi
    say "starting Docker $(cat "$root/VERSION") at $sock${store:+ (the $store image store)}"
    cd / && PATH=$root/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin setsid "$root/bin/dockerd" \
      -H "unix://$sock" --data-root "$data" --exec-root "$exec_root" --pidfile "$root/dockerd${store:+-$store}.pid" \
      --userland-proxy=false --iptables=false --ip6tables=false --bridge=none --config-file "$config" \
      >>"$root/dockerd${store:+-$store}.log" 2>&1 </dev/null &
    wait_ping "$sock" || { tail -5 "$root/dockerd${store:+-$store}.log" >&2; echo "${name}_UNAVAILABLE=dockerd from $suite did not start (see $root/dockerd${store:+-$store}.log)" >>"$env_file.tmp"; return; }
  fi
  if ! docker -H "unix://$sock" image inspect "$image" >/dev/null 2>&1; then
    docker save "$image" | docker -H "unix://$sock" load >/dev/null
  fi
  echo "$name=unix://$sock" >>"$env_file.tmp"
}

# --- Podman, rootful -----------------------------------------------------------------------------------
cwd_gone() {  # PIDFILE: the process in it runs in a folder that has since been removed
  local pid
  pid=$(cat "$1" 2>/dev/null) || return 1
  [[ "$(readlink "/proc/$pid/cwd" 2>/dev/null)" == *" (deleted)" ]]
}

podman_rootful() {
  local root=$cache/podman sock=/run/gpu-runbook-podman.sock
  if ! command -v podman >/dev/null; then
    say "installing podman"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends podman crun >/dev/null 2>&1 \
      || { echo "PODMAN_UNAVAILABLE=apt-get install podman failed" >>"$env_file.tmp"; return; }
  fi
  mkdir -p "$root"
  cat >"$root/registries.conf" <<'CONF'
unqualified-search-registries = []
[[registry]]
location = "127.0.0.1:5000"
insecure = true
CONF
  # Podman gives a rootful container nofile 1048576 and the service's nproc; where this machine's limits are
  # lower, the runtime cannot set them ("setrlimit RLIMIT_NOFILE: Operation not permitted"): the containers
  # get this machine's open-files limit and 4096 processes. runc, not crun: bookworm's crun refuses this
  # machine's hybrid cgroups ("cgroups in hybrid mode not supported").
  cat >"$root/containers.conf" <<CONF
[containers]
default_ulimits = ["nofile=$(ulimit -Hn):$(ulimit -Hn)", "nproc=4096:4096"]
[engine]
runtime = "runc"
CONF
  export CONTAINERS_CONF=$root/containers.conf
  local pm=(podman --root "$root/storage" --runroot /run/gpu-runbook-podman --cgroup-manager cgroupfs --events-backend file)
  export CONTAINERS_REGISTRIES_CONF=$root/registries.conf
  # a service started from a folder since removed (a clone deleted under it) answers, and its conmon then fails
  # every container ("Failed to get working directory", "write child: broken pipe"): started again, from /
  if ! ping_sock "$sock" || ! cmp -s "$root/containers.conf" "$root/service.conf" || cwd_gone "$root/service.pid"; then
    [ -s "$root/service.pid" ] && kill "$(cat "$root/service.pid")" 2>/dev/null && sleep 1
    cp "$root/containers.conf" "$root/service.conf"
    say "starting Podman $(podman --version | awk '{print $3}') at $sock"
    rm -f "$sock"
    (cd / && exec setsid "${pm[@]}" system service --time=0 "unix://$sock") >>"$root/service.log" 2>&1 </dev/null &
    echo $! >"$root/service.pid"
    wait_ping "$sock" || { tail -5 "$root/service.log" >&2; echo "PODMAN_UNAVAILABLE=podman system service did not start (see $root/service.log)" >>"$env_file.tmp"; return; }
  fi
  if ! "${pm[@]}" image exists "$image" 2>/dev/null; then
    docker save "$image" | "${pm[@]}" load >/dev/null 2>&1
    # podman load names a docker-save archive's image as docker.io/<name>; the test image keeps its own name
    "${pm[@]}" image exists "$image" || "${pm[@]}" tag "docker.io/$image" "$image" >/dev/null 2>&1 || true
  fi
  echo "PODMAN=unix://$sock" >>"$env_file.tmp"
}

# --- Podman 5.4, rootful, from Debian trixie ---------------------------------------------------------------
# trixie's podman needs glibc 2.38 (this machine's bookworm has 2.36): it runs in a trixie root made by
# debootstrap ($cache/trixie-root, kept), chrooted in a mount namespace of its own (its /proc, /sys, /dev,
# /run and /tmp vanish with it), with the socket's folder bound in from the host:
# /run/gpu-runbook-podman-trixie/podman.sock. The host network, so the loopback registry answers.
podman_trixie() {
  local root=$cache/trixie-root dir=/run/gpu-runbook-podman-trixie
  local sock=$dir/podman.sock
  if ! ping_sock "$sock"; then
    if [ ! -x "$root/usr/bin/podman" ]; then
      say "making a trixie root with podman (debootstrap, a few minutes)"
      debootstrap --variant=minbase --include=podman,runc trixie "$root" http://deb.debian.org/debian \
        >"$cache/trixie-debootstrap.log" 2>&1 \
        || { echo "PODMAN_TRIXIE_UNAVAILABLE=debootstrap of trixie with podman failed (see $cache/trixie-debootstrap.log)" >>"$env_file.tmp"; return; }
    fi
    cp "$cache/podman/containers.conf" "$root/etc/containers/containers.conf.runbook"
    cp "$cache/podman/registries.conf" "$root/etc/containers/registries.conf.runbook"
    mkdir -p "$dir" "$root/run/host"
    cat >"$cache/podman-trixie.sh" <<SH
set -e
mount --bind $root $root
mount -t proc proc $root/proc
mount --rbind /sys $root/sys
mount --rbind /dev $root/dev
mount -t tmpfs tmpfs $root/run
mount -t tmpfs tmpfs $root/tmp
mkdir -p $root/run/host
mount --bind $dir $root/run/host
exec chroot $root /usr/bin/env CONTAINERS_CONF=/etc/containers/containers.conf.runbook \\
  CONTAINERS_REGISTRIES_CONF=/etc/containers/registries.conf.runbook PODMAN_IGNORE_CGROUPSV1_WARNING=1 \\
  podman --cgroup-manager cgroupfs --events-backend file system service --time=0 unix:///run/host/podman.sock
SH
    rm -f "$sock"
    say "starting Podman $(chroot "$root" dpkg-query -W -f='${Version}' podman) at $sock"
    (cd / && exec setsid unshare -m --propagation private sh "$cache/podman-trixie.sh") >>"$cache/podman-trixie.log" 2>&1 </dev/null &
    wait_ping "$sock" || { tail -5 "$cache/podman-trixie.log" >&2; echo "PODMAN_TRIXIE_UNAVAILABLE=podman 5 did not start (see $cache/podman-trixie.log)" >>"$env_file.tmp"; return; }
  fi
  if ! docker -H "unix://$sock" image inspect "$image" >/dev/null 2>&1; then
    docker save "$image" | docker -H "unix://$sock" load >/dev/null
  fi
  echo "PODMAN_TRIXIE=unix://$sock" >>"$env_file.tmp"
}

# --- Podman, rootless ----------------------------------------------------------------------------------
# As the unprivileged user gpu-runbook-rootless (made here, with subordinate ids), its service on the socket
# rootless Podman users have: $XDG_RUNTIME_DIR/podman/podman.sock. Needs newuidmap (Debian's uidmap).
podman_rootless() {
  local u=gpu-runbook-rootless
  if ! command -v newuidmap >/dev/null; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends uidmap >/dev/null 2>&1 \
      || { echo "PODMAN_ROOTLESS_UNAVAILABLE=no newuidmap (Debian's uidmap) and it could not be installed: rootless Podman cannot map the user's subordinate ids" >>"$env_file.tmp"; return; }
  fi
  id "$u" >/dev/null 2>&1 || useradd -m -s /bin/sh "$u"
  grep -q "^$u:" /etc/subuid || { echo "PODMAN_ROOTLESS_UNAVAILABLE=$u has no subordinate ids in /etc/subuid" >>"$env_file.tmp"; return; }
  local uid home run sock
  uid=$(id -u "$u") home=$(getent passwd "$u" | cut -d: -f6) run=/run/user/$(id -u "$u")
  sock=$run/podman/podman.sock
  mkdir -p "$run/podman" "$home/.config/containers" && chown "$u:" "$run" "$run/podman" && chmod 700 "$run"
  printf '[storage]\ndriver = "overlay"\n' >"$home/.config/containers/storage.conf"
  cp "$cache/podman/containers.conf" "$cache/podman/registries.conf" "$home/.config/containers/"
  chown -R "$u:" "$home/.config"
  local as_user=(su -s /bin/sh "$u" -c)
  local pm="cd ~ && XDG_RUNTIME_DIR=$run podman --cgroup-manager cgroupfs --events-backend file"
  if ! ping_sock "$sock"; then
    say "starting rootless Podman as $u at $sock"
    (cd / && exec setsid "${as_user[@]}" "$pm system service --time=0 unix://$sock") >>"$cache/podman/rootless.log" 2>&1 </dev/null &
    wait_ping "$sock" || { tail -5 "$cache/podman/rootless.log" >&2; echo "PODMAN_ROOTLESS_UNAVAILABLE=rootless podman system service did not start (see $cache/podman/rootless.log)" >>"$env_file.tmp"; return; }
  fi
  if ! (cd / && "${as_user[@]}" "$pm image exists $image") 2>/dev/null; then
    docker save "$image" | (cd / && "${as_user[@]}" "$pm load" >/dev/null 2>&1)
  fi
  echo "PODMAN_ROOTLESS=unix://$sock" >>"$env_file.tmp"
}

if [ "$(id -u)" -ne 0 ]; then say "run as root"; exit 1; fi
docker_debian trixie DOCKER_TRIXIE
docker_debian sid DOCKER_SID
docker_debian sid DOCKER_SID_CONTAINERD containerd
podman_rootful
podman_trixie
podman_rootless
mv "$env_file.tmp" "$env_file"
say "$(tr '\n' ' ' <"$env_file")"
