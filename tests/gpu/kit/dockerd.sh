#!/usr/bin/env bash
# dockerd.sh start|stop|restart|status [KIT_ROOT]: the GPU host kit's Docker engine, by its pid file.
#
# KIT_ROOT (default /tmp/gpu-kit) is where tests/gpu/kit/up.sh unpacked the engine (KIT_ROOT/bin) and wrote
# KIT_ROOT/dockerd.conf (SOCK, the engine's socket; DAEMON_JSON, its daemon.json). The engine keeps
# everything of its own under KIT_ROOT: data root (data/), exec root (exec/, with its containerd), pid
# file (dockerd.pid), log (dockerd.log). It runs with --userland-proxy=false (Docker 26 will not start
# without docker-proxy otherwise), --iptables=false --ip6tables=false --bridge=none (the GPU host has no
# iptables), reads DAEMON_JSON (the file the runbook configures), and has KIT_ROOT/bin first on its PATH,
# then the system's, where the NVIDIA Container Toolkit's programs are once installed.
#
# restart is what the runbook's engine_restart runs once daemon.json changed:
#   -p engine_restart "bash $PWD/tests/gpu/kit/dockerd.sh restart" -p allow_restart_command true
# It stops the engine (SIGTERM to the pid in the pid file, SIGKILL after 30 s), starts it again in a
# session of its own with every file descriptor away from the caller (the runbook waits for the command's
# output to end), and returns once the engine answers /_ping (60 s at most). start leaves an engine that
# answers as it is. The output is one line a step, for the runbook's evidence.
set -euo pipefail
cmd=${1:?usage: dockerd.sh start|stop|restart|status [KIT_ROOT]}
root=${2:-${KIT_ROOT:-/tmp/gpu-kit}}
conf=$root/dockerd.conf
[ -f "$conf" ] || { echo "dockerd.sh: no $conf (tests/gpu/kit/up.sh writes it)" >&2; exit 2; }
# shellcheck source=/dev/null
. "$conf"
: "${SOCK:?}" "${DAEMON_JSON:?}"
pidfile=$root/dockerd.pid

ping() {  # the engine's /_ping over its socket, with python's standard library only
  python3 - "$SOCK" <<'PY' 2>/dev/null
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.settimeout(3)
s.connect(sys.argv[1])
s.sendall(b"GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n")
sys.exit(0 if s.recv(4096).split(b"\r\n\r\n", 1)[-1].strip() == b"OK" else 1)
PY
}
running_pid() {
  local pid
  pid=$(cat "$pidfile" 2>/dev/null || true)
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && grep -q dockerd "/proc/$pid/comm" 2>/dev/null; then echo "$pid"; fi
}

start() {
  if [ -n "$(running_pid)" ] && ping; then
    echo "dockerd.sh: the engine answers at unix://$SOCK (pid $(running_pid))"
    return 0
  fi
  args=(-H "unix://$SOCK" --data-root "$root/data" --exec-root "$root/exec" --pidfile "$pidfile"
    --userland-proxy=false --iptables=false --ip6tables=false --bridge=none)
  [ "$DAEMON_JSON" = /etc/docker/daemon.json ] || args+=(--config-file "$DAEMON_JSON")
  mkdir -p "$(dirname "$SOCK")"
  echo "--- $(date -u +%FT%TZ) dockerd ${args[*]}" >>"$root/dockerd.log"
  # /usr/local/nvidia/bin first: the GPU host's driver keeps nvidia-smi there, and its /usr/bin/nvidia-smi is
  # a wrapper script that execs that path; the toolkit mounts the first nvidia-smi its PATH finds.
  # ENGINE_PATH (the environment, or KIT_ROOT/engine-path) replaces the PATH after KIT_ROOT/bin.
  local path=${ENGINE_PATH:-$(cat "$root/engine-path" 2>/dev/null || echo /usr/local/nvidia/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin)}
  PATH=$root/bin:$path \
    setsid "$root/bin/dockerd" "${args[@]}" >>"$root/dockerd.log" 2>&1 </dev/null &
  for _ in $(seq 120); do
    if ping; then
      echo "dockerd.sh: started; the engine answers at unix://$SOCK (pid $(running_pid))"
      return 0
    fi
    kill -0 $! 2>/dev/null || break
    sleep 0.5
  done
  echo "dockerd.sh: the engine did not come up; the end of $root/dockerd.log:" >&2
  tail -20 "$root/dockerd.log" >&2
  return 1
}

stop() {
  local pid
  pid=$(running_pid)
  if [ -z "$pid" ]; then
    echo "dockerd.sh: no engine running (pid file $pidfile)"
    return 0
  fi
  kill -TERM "$pid"
  for _ in $(seq 60); do
    kill -0 "$pid" 2>/dev/null || { echo "dockerd.sh: stopped (pid $pid)"; return 0; }
    sleep 0.5
  done
  kill -KILL "$pid" 2>/dev/null || true
  echo "dockerd.sh: killed (pid $pid did not stop in 30 s)"
}

case $cmd in
  start) start ;;
  stop) stop ;;
  restart) stop && start ;;
  status) if [ -n "$(running_pid)" ] && ping; then echo "running (pid $(running_pid))"; else echo "not running"; exit 1; fi ;;
  *) echo "usage: dockerd.sh start|stop|restart|status [KIT_ROOT]" >&2; exit 2 ;;
esac
