#!/usr/bin/env bash
# image-store.sh RECORD: the runbook once more, with its defaults, against the kit's Docker engine switched to
# the containerd image store (daemon.json "features": {"containerd-snapshotter": true}, the default of new
# Docker 29 installs), on the GPU host, as root, from the repository's root, after device.sh's toolkit step
# (the toolkit configured, the registry mirror in daemon.json). The images are pulled again, into the new
# store, through the mirror. daemon.json is put back as it was and the engine restarted afterwards, whatever
# the run's outcome. Exit code: the run's (0 pass, 1 a check failed, 2 the run could not be made).
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
rec=${1:?usage: image-store.sh RECORD}
KIT_ROOT=${KIT_ROOT:-/tmp/gpu-kit}
daemon_json=${DAEMON_JSON:-/etc/docker/daemon.json}
saved=$KIT_ROOT/daemon.json.before-image-store
cp -p "$daemon_json" "$saved" || exit 2
restore() {
  cp -p "$saved" "$daemon_json" && bash "$here/dockerd.sh" restart "$KIT_ROOT"
}
trap restore EXIT
python3 - "$daemon_json" <<'PY' || exit 2
import json, sys
path = sys.argv[1]
config = json.load(open(path))
config.setdefault("features", {})["containerd-snapshotter"] = True
open(path + ".part", "w").write(json.dumps(config, indent=2) + "\n")
import os
os.replace(path + ".part", path)
PY
echo "image-store: daemon.json now: $(tr -d '\n ' <"$daemon_json")"
bash "$here/dockerd.sh" restart "$KIT_ROOT" || exit 2
DOCKER_HOST=${DOCKER_HOST:-unix:///var/run/docker.sock} python3 - <<'PY'
import docker
info = docker.from_env().info()
print("image-store: engine", info.get("ServerVersion"), "driver", info.get("Driver"), "status", info.get("DriverStatus"))
PY
python3 -m runbook run --out "$rec"
