#!/usr/bin/env bash
# capture-toolkit-errors.sh BINDIR OUTDIR [IMAGE]: what the real NVIDIA Container Toolkit says when
# a container asks for a GPU on a host with no GPU and no driver, in each of the engine's three
# ways, saved as the exact stderr of the docker CLI, for the diagnosis table.
#
# The system's dockerd is not touched: a second dockerd runs beside it with its own data root,
# exec root, pidfile and socket (/tmp/rb-dockerd2/docker.sock), no bridge and no iptables rules,
# its own containerd (started by it), a daemon.json that registers the `nvidia` runtime at the
# built nvidia-container-runtime (absolute path) and asks for CDI ("features": {"cdi": true}),
# and BINDIR (the four programs from build-toolkit.sh) first on its PATH: the engine accepts
# --gpus only when it finds nvidia-container-runtime-hook on its PATH at start. The runtime and
# hook read $XDG_CONFIG_HOME/nvidia-container-runtime/config.toml, written by `nvidia-ctk config`
# as the base package's postinst does, so /etc on the host stays as it is.
# IMAGE (default runbook-test/debian:bookworm) is copied into it with docker save | docker load.
#
# Each of these runs with --network none, once with Debian's docker CLI (/usr/bin/docker, the
# engine's own version) into OUTDIR/NAME.txt and once with any other docker CLI on PATH into
# OUTDIR/NAME.docker-cli-VERSION.txt:
#   runtime  docker run --rm --runtime=nvidia -e NVIDIA_VISIBLE_DEVICES=all IMAGE true
#   gpus     docker run --rm --gpus all IMAGE true
#   cdi      docker run --rm --device nvidia.com/gpu=all IMAGE true
# OUTDIR/capture.txt records the commands, exit codes, versions and date. The second dockerd is
# stopped and its folders removed at the end, whatever happened.
set -euo pipefail

[ $# -ge 2 ] || { echo "usage: $0 BINDIR OUTDIR [IMAGE]" >&2; exit 2; }
bindir=$(cd "$1" && pwd)
mkdir -p "$2"
outdir=$(cd "$2" && pwd)
image=${3:-runbook-test/debian:bookworm}
root=/tmp/rb-dockerd2
sock=unix://$root/docker.sock
[ "$(id -u)" -eq 0 ] || { echo "capture-toolkit-errors: needs root (a second dockerd)" >&2; exit 3; }
command -v dockerd >/dev/null || { echo "capture-toolkit-errors: no dockerd" >&2; exit 3; }
docker image inspect "$image" >/dev/null 2>&1 || { echo "capture-toolkit-errors: no image $image" >&2; exit 3; }
for c in nvidia-ctk nvidia-container-runtime nvidia-container-runtime-hook nvidia-cdi-hook; do
  [ -x "$bindir/$c" ] || { echo "capture-toolkit-errors: $bindir/$c is missing" >&2; exit 1; }
done
[ ! -e "$root/docker.pid" ] || { echo "capture-toolkit-errors: $root/docker.pid exists: another capture running?" >&2; exit 1; }

stop() {
  local pid
  if [ -s "$root/docker.pid" ]; then
    pid=$(cat "$root/docker.pid")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
  fi
  # anything the engine left mounted under its folders, innermost first
  awk -v r="$root" '$2 == r || index($2, r "/") == 1 {print $2}' /proc/self/mounts | sort -r | while read -r m; do
    umount -l "$m" 2>/dev/null || true
  done
  rm -rf "$root"
}
rm -rf "$root"
mkdir -p "$root/bin" "$root/xdg/nvidia-container-runtime"
trap stop EXIT
for c in nvidia-ctk nvidia-container-runtime nvidia-container-runtime-hook nvidia-cdi-hook; do
  install -m 0755 "$bindir/$c" "$root/bin/$c"
done
"$root/bin/nvidia-ctk" --quiet config --config-file="$root/xdg/nvidia-container-runtime/config.toml" --in-place
cat >"$root/daemon.json" <<EOF
{
  "runtimes": {"nvidia": {"path": "$root/bin/nvidia-container-runtime", "runtimeArgs": []}},
  "features": {"cdi": true}
}
EOF

# started under another name, so that `pidof dockerd` (which tests/tooling/engine-restart.sh uses to stop
# the system's engine) neither sees nor stops it
ln -s "$(command -v dockerd)" "$root/bin/rb-dockerd2"
env PATH="$root/bin:$PATH" XDG_CONFIG_HOME="$root/xdg" setsid "$root/bin/rb-dockerd2" \
  --config-file "$root/daemon.json" --data-root "$root/data" --exec-root "$root/exec" \
  --pidfile "$root/docker.pid" -H "$sock" --bridge=none --iptables=false \
  >"$root/dockerd.log" 2>&1 </dev/null &
for _ in $(seq 100); do /usr/bin/docker -H "$sock" version >/dev/null 2>&1 && break; sleep 0.3; done
/usr/bin/docker -H "$sock" version >/dev/null 2>&1 || { tail -20 "$root/dockerd.log" >&2; exit 1; }
docker save "$image" | /usr/bin/docker -H "$sock" load >/dev/null

clis=(/usr/bin/docker)
other=$(command -v docker || true)
if [ -n "$other" ] && [ "$(readlink -f "$other")" != "$(readlink -f /usr/bin/docker)" ]; then clis+=("$other"); fi
engine=$(/usr/bin/docker -H "$sock" version --format '{{.Server.Version}}')
{
  echo "date: $(date -u '+%Y-%m-%dT%H:%M:%SZ')"
  echo "host: $(. /etc/os-release; echo "$PRETTY_NAME"), kernel $(uname -r), cgroup $(stat -fc %T /sys/fs/cgroup), no NVIDIA GPU, no driver"
  echo "engine: dockerd $engine (second dockerd, $sock); runc $(runc --version | sed -n 's/^runc version //p')"
  echo "toolkit: $("$bindir/nvidia-ctk" --version | tr '\n' ' ')"
  echo "daemon.json: $(tr -d '\n' <"$root/daemon.json" | tr -s ' ')"
} >"$outdir/capture.txt"
/usr/bin/docker -H "$sock" info --format 'runtimes: {{range $k, $v := .Runtimes}}{{$k}} {{end}}(default {{.DefaultRuntime}})' >>"$outdir/capture.txt"

run_case() {
  local name=$1 cli=$2 file rc; shift 2
  local v; v=$("$cli" -H "$sock" version --format '{{.Client.Version}}' 2>/dev/null || echo unknown)
  if [ "$cli" = /usr/bin/docker ]; then file=$name.txt; else file=$name.docker-cli-${v%%+*}.txt; fi
  kill -0 "$(cat "$root/docker.pid")" 2>/dev/null || { echo "capture-toolkit-errors: the second dockerd has stopped" >&2; tail -5 "$root/dockerd.log" >&2; exit 1; }
  set +e
  "$cli" -H "$sock" run --rm --network none "$@" "$image" true >/dev/null 2>"$outdir/$file"
  rc=$?
  set -e
  echo "$file: exit $rc: docker $v: docker run --rm --network none $* $image true" >>"$outdir/capture.txt"
}
for cli in "${clis[@]}"; do
  run_case runtime "$cli" --runtime=nvidia -e NVIDIA_VISIBLE_DEVICES=all
  run_case gpus "$cli" --gpus all
  run_case cdi "$cli" --device nvidia.com/gpu=all
done
cat "$outdir/capture.txt" >&2
