#!/usr/bin/env bash
# up.sh [KITDIR]: the rig on the GPU host, as root, from the repository's root. KITDIR (default
# build/gpu-kit) is what tests/gpu/kit/make-kit.sh made: KITDIR/engine and KITDIR/py, each sent to the host
# as a carried folder. Nothing is installed outside KIT_ROOT but the kit's wheels (into the host's Python).
#
#   1. the engine and the registry unpacked into KIT_ROOT/bin (default /tmp/gpu-kit), each checked to run
#      here (glibc, libsystemd, libseccomp);
#   2. the kit's wheels installed by name, without an index (what the host already has stays as it is);
#   3. the toolkit's signed apt repository served on http://127.0.0.1:APT_PORT (python3 -m http.server,
#      in a session of its own) -- the runbook's toolkit_mirror;
#   4. a registry on http://127.0.0.1:REGISTRY_PORT (docker-registry serve KIT_ROOT/registry.yml, storage in
#      KIT_ROOT/registry) -- the engine's registry mirror, once the runbook puts it into daemon.json;
#   5. Docker Engine 26 (tests/gpu/kit/dockerd.sh start: own data root, exec root and pid file under
#      KIT_ROOT, --userland-proxy=false --iptables=false --bridge=none, reading DAEMON_JSON);
#   6. the images the runbook picks for this driver, made from this host's own files with the real images'
#      environment and layout and written into that registry under their real names (never into the
#      engine, so the runbook must pull them through the mirror; tests/gpu/kit/images.py says what each
#      holds): nvidia/cuda:<tag>-base-, -runtime-, -devel-ubuntu24.04 and pytorch/pytorch:*-runtime.
# Each step is skipped when already in effect, so up.sh can be run again; the images already in the registry
# are not made again (IMAGES_FORCE=1 makes them again). Most of the time goes into writing the PyTorch image
# (about 6.5 GB) into the registry.
#
# Settings (environment): KIT_ROOT=/tmp/gpu-kit  DOCKER_SOCK=/var/run/docker.sock
#   DAEMON_JSON=/etc/docker/daemon.json  APT_PORT=8700  REGISTRY_PORT=5000  PYTHON=python3
#   WHEELS=1 (0: leave the host's Python alone)  IMAGES=1 (0: no images; dry: show what they would hold)
#   IMAGES_ONLY=base,runtime,devel,pytorch  IMAGES_FORCE=0  IMAGES_ARGS= (more for images.py, e.g. --packages)
# Prints the engine, the apt repository's URL, the registry's URL and the restart command, and writes them
# to KIT_ROOT/rig.env.
#
# Then the runbook, as in README.md's "On a GPU host" (tests/gpu/kit/device.sh runs all of it):
#   python3 -m runbook run --out records/<GPUs, e.g. h100x1>-$(date -u +%F)-toolkit -p toolkit_apply true \
#     -p toolkit_mirror http://127.0.0.1:8700 -p registry_mirrors http://127.0.0.1:5000 \
#     -p engine_restart "bash $PWD/tests/gpu/kit/dockerd.sh restart" -p allow_restart_command true \
#     -p enable_cdi true -p set_as_default true
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../../.." && pwd)
kit=${1:-$repo/build/gpu-kit}
KIT_ROOT=${KIT_ROOT:-/tmp/gpu-kit}
DOCKER_SOCK=${DOCKER_SOCK:-/var/run/docker.sock}
DAEMON_JSON=${DAEMON_JSON:-/etc/docker/daemon.json}
APT_PORT=${APT_PORT:-8700}
REGISTRY_PORT=${REGISTRY_PORT:-5000}
PYTHON=${PYTHON:-python3}
t0=$(date +%s)
say() { echo "up: [$(($(date +%s) - t0)) s] $*"; }
die() { echo "up: $*" >&2; exit 1; }

[ -d "$kit" ] || die "no kit at $kit (tests/gpu/kit/make-kit.sh makes it; send build/gpu-kit/engine and build/gpu-kit/py)"
kit=$(cd "$kit" && pwd)
[ -s "$kit/engine/bin.tar.xz" ] || die "$kit/engine/bin.tar.xz is missing: send build/gpu-kit/engine (carry)"
[ -s "$kit/engine/apt-repo/gpgkey" ] || die "$kit/engine/apt-repo is missing: send build/gpu-kit/engine (carry)"
if [ "${WHEELS:-1}" = 1 ] && ! compgen -G "$kit/py/wheels/*.whl" >/dev/null; then
  die "$kit/py/wheels is missing: send build/gpu-kit/py (carry), or WHEELS=0"
fi
mkdir -p "$KIT_ROOT"
KIT_ROOT=$(cd "$KIT_ROOT" && pwd)

# 1. the engine's and the registry's programs
if [ ! -x "$KIT_ROOT/bin/dockerd" ] || [ "$kit/engine/bin.tar.xz" -nt "$KIT_ROOT/bin/dockerd" ]; then
  if [ -f "$KIT_ROOT/dockerd.conf" ]; then bash "$here/dockerd.sh" stop "$KIT_ROOT" >/dev/null || true; fi
  rm -rf "${KIT_ROOT:?}/bin" && tar -C "$KIT_ROOT" -xJf "$kit/engine/bin.tar.xz"
  touch "$KIT_ROOT/bin/dockerd"
fi
for b in dockerd containerd containerd-shim-runc-v2 runc docker-registry docker-init; do
  missing=$(ldd "$KIT_ROOT/bin/$b" 2>&1 | grep -E "not found|not a dynamic" | grep -v "not a dynamic" || true)
  [ -z "$missing" ] || die "$b cannot run here: $missing"
done
versions=()
for b in dockerd containerd runc docker-registry; do
  v=$("$KIT_ROOT/bin/$b" --version 2>&1) || die "$b cannot run here: $v"
  versions+=("$(echo "$v" | head -1)")
done
say "engine and registry: $(printf '%s; ' "${versions[@]}")"

# 2. the wheels, by name, without an index
if [ "${WHEELS:-1}" = 1 ]; then
  names=$(for w in "$kit"/py/wheels/*.whl; do basename "$w" | cut -d- -f1; done | sort -u)
  # shellcheck disable=SC2086
  bash "$here/pip-offline.sh" "$PYTHON" "$kit/py/wheels" $names
  say "wheels: $(echo "$names" | wc -w) installed or already there ($("$PYTHON" -c 'import papermill, nbval, docker, ipykernel; print("papermill", papermill.__version__, "nbval", nbval.__version__, "docker", docker.__version__)'))"
fi

# serve DIR or run a program in a session of its own, with a pid file; is_up checks that it is ours
daemon() {  # NAME CHECK-FUNCTION COMMAND...
  local name=$1 check=$2; shift 2
  local pid
  pid=$(cat "$KIT_ROOT/$name.pid" 2>/dev/null || true)
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && $check; then return 0; fi
  [ -z "$pid" ] || kill "$pid" 2>/dev/null || true
  setsid "$@" >>"$KIT_ROOT/$name.log" 2>&1 </dev/null &
  echo $! >"$KIT_ROOT/$name.pid"
  for _ in $(seq 40); do
    if $check; then return 0; fi
    kill -0 "$(cat "$KIT_ROOT/$name.pid")" 2>/dev/null || break
    sleep 0.25
  done
  tail -5 "$KIT_ROOT/$name.log" >&2
  die "$name did not come up (is the port taken by something else?)"
}

# 3. the toolkit's apt repository on loopback
apt_url=http://127.0.0.1:$APT_PORT
apt_up() {
  "$PYTHON" - "$apt_url/gpgkey" "$kit/engine/apt-repo/gpgkey" <<'PY' 2>/dev/null
import sys, urllib.request
sys.exit(0 if urllib.request.urlopen(sys.argv[1], timeout=2).read() == open(sys.argv[2], "rb").read() else 1)
PY
}
daemon apt-repo apt_up "$PYTHON" -m http.server --bind 127.0.0.1 --directory "$kit/engine/apt-repo" "$APT_PORT"
say "apt repository: $apt_url ($(sed -n 's/^\(Package\|Version\): //p' "$kit"/engine/apt-repo/stable/deb/*/Packages | paste -d= - - | paste -sd' '))"

# 4. the registry on loopback
registry_url=http://127.0.0.1:$REGISTRY_PORT
mkdir -p "$KIT_ROOT/registry"
cat >"$KIT_ROOT/registry.yml" <<EOF
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $KIT_ROOT/registry
  delete:
    enabled: true
http:
  addr: 127.0.0.1:$REGISTRY_PORT
EOF
registry_up() {
  "$PYTHON" - "$registry_url/v2/" <<'PY' 2>/dev/null
import sys, urllib.request
r = urllib.request.urlopen(sys.argv[1], timeout=2)
sys.exit(0 if r.headers.get("Docker-Distribution-Api-Version") == "registry/2.0" else 1)
PY
}
daemon registry registry_up "$KIT_ROOT/bin/docker-registry" serve "$KIT_ROOT/registry.yml"
say "registry: $registry_url ($("$KIT_ROOT/bin/docker-registry" --version 2>&1 | cut -d' ' -f2-), storage $KIT_ROOT/registry)"

# 5. the engine
printf 'SOCK=%q\nDAEMON_JSON=%q\n' "$DOCKER_SOCK" "$DAEMON_JSON" >"$KIT_ROOT/dockerd.conf"
if [ "$DAEMON_JSON" != /etc/docker/daemon.json ] && [ ! -s "$DAEMON_JSON" ]; then
  mkdir -p "$(dirname "$DAEMON_JSON")" && echo '{}' >"$DAEMON_JSON"
fi
say "$(bash "$here/dockerd.sh" start "$KIT_ROOT")"
export DOCKER_HOST=unix://$DOCKER_SOCK

# 6. the images, into the registry
case ${IMAGES:-1} in
  0) say "images: not made (IMAGES=0)" ;;
  *)
    nvcc=$(ls "$kit"/py/nvcc/nvidia_cuda_nvcc-*.whl 2>/dev/null | tail -1 || true)
    args=(--registry "127.0.0.1:$REGISTRY_PORT" --report "$KIT_ROOT/images.json"
      --only "${IMAGES_ONLY:-base,runtime,devel,pytorch}")
    [ -z "$nvcc" ] || args+=(--nvcc-wheel "$nvcc")
    [ "${IMAGES_FORCE:-0}" = 0 ] || args+=(--force)
    [ "${IMAGES:-1}" != dry ] || args+=(--dry-run)
    # shellcheck disable=SC2206
    args+=(${IMAGES_ARGS:-})
    [ -n "$nvcc" ] || say "images: no nvcc wheel in $kit/py/nvcc: no devel image"
    "$PYTHON" "$here/images.py" "${args[@]}" 2>&1 | sed 's/^/up: /'
    [ "${PIPESTATUS[0]}" = 0 ] || die "the images were not all built (above)"
    ;;
esac

# what the runbook needs to know, and hints about this host
restart="bash $here/dockerd.sh restart $KIT_ROOT"
cat >"$KIT_ROOT/rig.env" <<EOF
DOCKER_HOST=$DOCKER_HOST
TOOLKIT_MIRROR=$apt_url
REGISTRY_MIRROR=$registry_url
ENGINE_RESTART="$restart"
EOF
if command -v dpkg-query >/dev/null; then
  lacking=$(dpkg-query -W -f='${db:Status-Abbrev} ${Package}\n' libc6 libcap2 libseccomp2 2>&1 | grep -v '^ii ' || true)
  [ -z "$lacking" ] || say "WARNING: the toolkit's packages depend on libc6, libcap2, libseccomp2; not installed here: $lacking"
fi
# apt-get update (the runbook's) also tries the host's own sources: how long a name lookup takes here says
# whether that costs seconds or minutes
t=$(date +%s%N)
if timeout 10 getent hosts archive.ubuntu.com >/dev/null 2>&1; then dns="resolves"; else dns="does not resolve"; fi
say "note: archive.ubuntu.com $dns here (answer in $((($(date +%s%N) - t) / 1000000)) ms); apt-get update tries the host's own sources too"
say "ready in $(($(date +%s) - t0)) s"
echo "engine:          $DOCKER_HOST  (data root $KIT_ROOT/data, log $KIT_ROOT/dockerd.log)"
echo "toolkit_mirror:  $apt_url"
echo "registry_mirrors: $registry_url"
echo "engine_restart:  $restart"
