#!/usr/bin/env bash
# Restarts the test engine started by tests/tooling/engine-up.sh (it is not a systemd service): the runbook's
# engine_restart parameter points here in the tests that change /etc/docker/daemon.json.
set -euo pipefail
if pid=$(cat /var/run/docker.pid 2>/dev/null) && [ -n "$pid" ]; then  # this engine only, not another dockerd
  kill $pid
  for _ in $(seq 60); do kill -0 $pid 2>/dev/null || break; sleep 0.5; done
fi
setsid dockerd >>/var/log/gpu-runbook-dockerd.log 2>&1 </dev/null &
for _ in $(seq 60); do docker -H unix:///var/run/docker.sock version >/dev/null 2>&1 && break; sleep 0.5; done
chgrp docker /var/run/docker.sock && chmod 660 /var/run/docker.sock
docker -H unix:///var/run/docker.sock version >/dev/null || { tail -5 /var/log/gpu-runbook-dockerd.log; exit 1; }
