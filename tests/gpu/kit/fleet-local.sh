#!/usr/bin/env bash
# fleet-local.sh [EXTRA] [WHEELHOUSE]: on the GPU host, as root, from the repository's root, once the rig is up and the
# toolkit installed (tests/gpu/kit/device.sh STEPS="up toolkit"): the fleet's playbook run against this
# host itself (ansible_connection=local), as README.md's "On the GPU host (local connection)" says, then
# the fleet report over its record.
#
# What the host has no index to fetch comes with the repository (carried): EXTRA (default
# build/device-extra) holds ansible/, ansible-core and its wheels for the host's Python
#   pip download --only-binary=:all: --python-version 3.12 --platform manylinux_2_28_x86_64 \
#     --platform manylinux2014_x86_64 -d build/device-extra/ansible ansible-core
# and WHEELHOUSE (default build/wheelhouse-cp312.tar) is the wheelhouse the playbook ships, made for it by
#   fleet/wheelhouse.sh build/wheelhouse-cp312.tar --python-version 3.12 --platform manylinux_2_39_x86_64 \
#     --platform manylinux_2_28_x86_64 --platform manylinux2014_x86_64
# The environment sees the host Python's own packages (gpu_runbook_system_site_packages=true), which gives
# the host side of pytorch.throughput its PyTorch. The runbook runs with its defaults; the images are those
# the toolkit run pulled through the kit's registry.
#
# Writes into $OUT (default build/device-out): fleet.tar.gz (runs/fleet: the host's record, the report,
# the playbook's output of both runs) and fleet.txt (each run's recap and the report's verdict line).
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../../.." && pwd)
cd "$repo" || exit 2
extra=${1:-build/device-extra}
wheelhouse=$(realpath "${2:-build/wheelhouse-cp312.tar}")
[ -s "$wheelhouse" ] || { echo "fleet-local.sh: no wheelhouse at $wheelhouse" >&2; exit 2; }
out=${OUT:-$repo/build/device-out}
mkdir -p "$out"
python=$(command -v python3)
bash "$here/pip-offline.sh" "$python" "$extra/ansible" ansible-core || exit 2

rm -rf runs/fleet

export DOCKER_HOST=unix://${DOCKER_SOCK:-/var/run/docker.sock}
play() {  # one playbook run over this host; its output into runs/fleet/playbook-N.log
  ANSIBLE_CONFIG=fleet/ansible.cfg ansible-playbook fleet/site.yml -i "$(hostname)," \
    -e ansible_connection=local -e "ansible_python_interpreter=$python" \
    -e gpu_runbook_system_site_packages=true -e "gpu_runbook_wheelhouse=$wheelhouse" \
    -e "gpu_runbook_fleet_out=$repo/runs/fleet" >"build/playbook-$1.log" 2>&1
}
summary=$out/fleet.txt
start=$(date +%s)
play 1
echo "playbook run 1: exit $? in $(($(date +%s) - start)) s; $(grep -A2 'PLAY RECAP' build/playbook-1.log | tail -1)" | tee "$summary"
start=$(date +%s)
play 2  # again: the install is already there, so only the run and the fetch change anything
echo "playbook run 2: exit $? in $(($(date +%s) - start)) s; $(grep -A2 'PLAY RECAP' build/playbook-2.log | tail -1)" | tee -a "$summary"
"$python" -m runbook fleet-report runs/fleet >build/fleet-report.txt 2>&1
echo "fleet-report: exit $?; $(tail -1 build/fleet-report.txt)" | tee -a "$summary"
cp build/playbook-*.log build/fleet-report.txt runs/fleet/
tar -czf "$out/fleet.tar.gz" runs/fleet
