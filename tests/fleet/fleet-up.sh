#!/usr/bin/env bash
# Brings up a small fleet on this machine, as root: each host a container of its own with sshd and Python,
# reachable over SSH on its own loopback port, each with a Docker engine of its own.
#
#   tests/fleet/fleet-up.sh DIR [--up N] [--stopped N] [--down N]
#
# This machine refuses privileged containers and its engine has no bridge network, so a host's engine
# cannot run inside its container: each host gets a dockerd on this machine (its own socket, data root,
# exec root, pidfile; --bridge=none --iptables=false) and only that socket is mounted into the host's
# container, as /var/run/docker.sock. The containers share this machine's network (--network host);
# sshd listens on 127.0.0.1:PORT. --up hosts (fleet-01, ...) have their engine running; --stopped hosts
# (fleet-stopped-01, ...) have it stopped after their container starts; --down hosts (fleet-down-01, ...)
# are addresses where no SSH server answers. Their inventory groups: fleet_up, fleet_stopped, fleet_down. The host containers themselves run on
# one more dockerd of the fleet's own ("site"), not on this machine's engine, which other tests restart
# (stopping every container on it).
#
# Writes DIR/hosts.yml (the Ansible inventory of the fleet, with its group_vars and host_vars copied
# from tests/fleet/inventory), DIR/ssh/ (the key, known_hosts, and an ssh_config naming every host),
# DIR/fleet.env (what fleet-down.sh needs) and DIR/engines/HOST/ (each engine's socket, pidfile,
# roots and log). The host image runbook-test/fleet-host:bookworm is built once, with debootstrap, by
# tests/fleet/fleet-image.sh (cached in $RUNBOOK_TEST_CACHE), since no public registry is reachable.
# tests/fleet/fleet-down.sh DIR undoes it.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
image=runbook-test/fleet-host:bookworm

dir=${1:?usage: fleet-up.sh DIR [--up N] [--stopped N] [--down N]}
shift
up=5 stopped=1 down=1
while [ $# -gt 0 ]; do
  case $1 in
    --up) up=$2; shift 2 ;;
    --stopped) stopped=$2; shift 2 ;;
    --down) down=$2; shift 2 ;;
    *) echo "fleet-up: unknown argument $1" >&2; exit 2 ;;
  esac
done
[ "$(id -u)" -eq 0 ] || { echo "fleet-up: run as root" >&2; exit 1; }
need=()
command -v dockerd >/dev/null || need+=(docker.io)
command -v ssh-keygen >/dev/null || need+=(openssh-client)
if [ ${#need[@]} -gt 0 ]; then
  echo "fleet-up: installing ${need[*]}"
  apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${need[@]}" >/dev/null
fi
mkdir -p "$dir" && dir=$(cd "$dir" && pwd)
# a tag of this fleet's own, so that fleets of concurrent test runs on the same engine never meet
tag=$(printf '%s' "$dir" | sha256sum | cut -c1-8)
engines=/var/tmp/gpu-runbook-fleet/$tag  # short: containerd's socket paths under it must fit in 108 bytes
# a fleet whose folder is gone (a test run killed before fleet-down.sh, its tmp folder removed since) is
# taken down first: its engines, found by their own pidfiles, would otherwise run on, known to nobody
for owner in /var/tmp/gpu-runbook-fleet/*/owner; do
  [ -e "$owner" ] || continue
  [ -e "$(cat "$owner")/fleet.env" ] && continue  # a fleet that is up: its own fleet-down.sh takes it down
  stale=$(dirname "$owner")
  for pidfile in "$stale"/*/dockerd.pid; do
    pid=$(cat "$pidfile" 2>/dev/null) && kill "$pid" 2>/dev/null && while kill -0 "$pid" 2>/dev/null; do sleep 0.5; done
  done
  findmnt -rn -o TARGET | { grep "^$stale/" || true; } | sort -r | while read -r m; do umount -l "$m"; done
  rm -rf "$stale"
done

# --- the host image: Debian with sshd, Python and the Docker CLI (for ssh:// engines) -------------------
host_tar=$(bash "$here/fleet-image.sh")

# --- the controller's key and the files the hosts' SSH identities go into -----------------------------
mkdir -p "$dir/ssh" && chmod 700 "$dir/ssh"
[ -s "$dir/ssh/id_ed25519" ] || ssh-keygen -q -t ed25519 -N '' -C gpu-runbook-fleet -f "$dir/ssh/id_ed25519"
: >"$dir/ssh/known_hosts"
: >"$dir/ssh/config"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

start_engine() {  # NAME: a dockerd of the host's own, answering on its own socket
  local e=$engines/$1
  mkdir -p "$e/data" "$e/exec"
  echo '{}' >"$e/daemon.json"  # not /etc/docker/daemon.json: that is this machine's engine's
  setsid dockerd --config-file "$e/daemon.json" --host "unix://$e/docker.sock" --data-root "$e/data" \
    --exec-root "$e/exec" --pidfile "$e/dockerd.pid" --bridge=none --iptables=false --userland-proxy=false \
    >"$e/dockerd.log" 2>&1 </dev/null &
  for _ in $(seq 120); do
    docker -H "unix://$e/docker.sock" version --format '{{.Server.Version}}' >/dev/null 2>&1 && return 0
    sleep 0.5
  done
  tail -20 "$e/dockerd.log" >&2
  return 1
}

stop_engine() {  # NAME: by its own pidfile, never by name
  local pidfile=$engines/$1/dockerd.pid pid
  [ -s "$pidfile" ] || return 0
  pid=$(cat "$pidfile")
  kill "$pid" 2>/dev/null || return 0
  for _ in $(seq 60); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.5; done
  echo "fleet-up: dockerd $pid did not stop" >&2
  return 1
}

site() { docker -H "unix://$engines/site/docker.sock" "$@"; }

start_host() {  # NAME PORT: the host's container, sshd on 127.0.0.1:PORT, its engine's socket inside
  local name=$1 port=$2
  site rm -f "gpu-runbook-fleet-$tag-$name" >/dev/null 2>&1 || true
  site run -d --init --name "gpu-runbook-fleet-$tag-$name" --hostname "$name" --network host \
    --label "io.gpu-runbook.fleet=$tag" \
    -v "$engines/$name/docker.sock:/var/run/docker.sock" \
    -v "$dir/ssh/id_ed25519.pub:/root/.ssh/authorized_keys:ro" \
    "$image" sh -c "ssh-keygen -A -q && mkdir -p /run/sshd && exec /usr/sbin/sshd -D -e -p $port \
      -o ListenAddress=127.0.0.1 -o PermitRootLogin=prohibit-password -o PasswordAuthentication=no \
      -o UsePAM=no" >/dev/null
  local key=""
  for _ in $(seq 60); do
    key=$(site exec "gpu-runbook-fleet-$tag-$name" cat /etc/ssh/ssh_host_ed25519_key.pub 2>/dev/null) \
      && (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
    key=""
    sleep 0.5
  done
  [ -n "$key" ] || { site logs "gpu-runbook-fleet-$tag-$name" >&2; return 1; }
  echo "[127.0.0.1]:$port ${key% *}" >>"$dir/ssh/known_hosts"
}

declare -A role
hosts=()
for i in $(seq "$up"); do h=$(printf 'fleet-%02d' "$i"); hosts+=("$h"); role[$h]=up; done
for i in $(seq "$stopped"); do h=$(printf 'fleet-stopped-%02d' "$i"); hosts+=("$h"); role[$h]=stopped; done
for i in $(seq "$down"); do h=$(printf 'fleet-down-%02d' "$i"); hosts+=("$h"); role[$h]=down; done

{
  echo "tag=$tag"
  echo "engines=$engines"
  echo "hosts=(${hosts[*]})"
} >"$dir/fleet.env"
mkdir -p "$engines"
echo "$dir" >"$engines/owner"  # after fleet.env: a fleet being brought up is never taken for a stale one

declare -A port
start_engine site &
for h in "${hosts[@]}"; do
  port[$h]=$(free_port)
  if [ "${role[$h]}" != down ]; then start_engine "$h" & fi
done
wait_all() { local rc=0 p; for p in $(jobs -p); do wait "$p" || rc=1; done; return $rc; }
wait_all || { echo "fleet-up: an engine did not start" >&2; exit 1; }
site import -c 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  "$host_tar" "$image" >/dev/null
for h in "${hosts[@]}"; do
  if [ "${role[$h]}" != down ]; then start_host "$h" "${port[$h]}"; fi
done
for h in "${hosts[@]}"; do
  if [ "${role[$h]}" = stopped ]; then stop_engine "$h"; fi
done

# --- the inventory: groups from the role each host plays, variables from tests/fleet/inventory ----------
{
  echo "# written by tests/fleet/fleet-up.sh"
  echo "all:"
  echo "  vars:"
  echo "    ansible_host: 127.0.0.1"
  echo "    ansible_user: root"
  echo "    ansible_ssh_private_key_file: $dir/ssh/id_ed25519"
  echo "    ansible_ssh_common_args: -o UserKnownHostsFile=$dir/ssh/known_hosts -o StrictHostKeyChecking=yes"
  echo "  children:"
  for group in up stopped down; do
    echo "    fleet_$group:"
    echo "      hosts:"
    for h in "${hosts[@]}"; do
      if [ "${role[$h]}" = "$group" ]; then echo "        $h: {ansible_port: ${port[$h]}}"; fi
    done
  done
} >"$dir/hosts.yml"
rm -rf "$dir/group_vars" "$dir/host_vars"
cp -r "$here/inventory/group_vars" "$here/inventory/host_vars" "$dir/"

for h in "${hosts[@]}"; do
  cat >>"$dir/ssh/config" <<CFG
Host $h
  HostName 127.0.0.1
  Port ${port[$h]}
  User root
  IdentityFile $dir/ssh/id_ed25519
  UserKnownHostsFile $dir/ssh/known_hosts
  StrictHostKeyChecking yes

CFG
done
echo "fleet-up: ${#hosts[@]} hosts (${up} up, ${stopped} with the engine stopped, ${down} down); inventory $dir/hosts.yml"
