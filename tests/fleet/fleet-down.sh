#!/usr/bin/env bash
# Takes down a fleet tests/fleet/fleet-up.sh DIR brought up: its engines, each stopped by its own pidfile
# (the site engine with the host containers on it, the hosts' engines), and their folders. Idempotent;
# never touches this machine's own dockerd.
set -uo pipefail
dir=${1:?usage: fleet-down.sh DIR}
[ -s "$dir/fleet.env" ] || exit 0
# shellcheck disable=SC1091
source "$dir/fleet.env"
for h in "${hosts[@]}"; do
  docker -H "unix://$engines/site/docker.sock" rm -f "gpu-runbook-fleet-$tag-$h" >/dev/null 2>&1
done
pids=()
for h in site "${hosts[@]}"; do
  pidfile=$engines/$h/dockerd.pid
  if [ -s "$pidfile" ] && kill "$(cat "$pidfile")" 2>/dev/null; then pids+=("$(cat "$pidfile")"); fi
done
for pid in "${pids[@]}"; do
  for _ in $(seq 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
done
# what a stopped engine may leave mounted (its network namespace file), deepest first, then the files
findmnt -rn -o TARGET | grep "^$engines/" | sort -r | while read -r m; do umount -l "$m"; done
rm -rf "$engines"
rm -f "$dir/fleet.env"
