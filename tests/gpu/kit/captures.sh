#!/usr/bin/env bash
# captures.sh DIR: this GPU host's own tool output, as fixtures are made from it (tests/fixtures/README.md
# says where each came from): each command's output in DIR/NAME.txt, its exit code in DIR/exit-codes.txt.
# Read-only: nothing on the host changes.
set -uo pipefail
dir=${1:?usage: captures.sh DIR}
mkdir -p "$dir"
cap() {  # NAME COMMAND...
  local name=$1; shift
  "$@" >"$dir/$name.txt" 2>&1
  echo "$name $? $*" >>"$dir/exit-codes.txt"
}
export PATH=$PATH:/usr/local/nvidia/bin
cap nvidia-smi nvidia-smi
cap nvidia-smi-L nvidia-smi -L
cap nvidia-smi-q-x nvidia-smi -q -x
cap nvidia-smi-q nvidia-smi -q
cap nvidia-smi-topo-m nvidia-smi topo -m
cap nvidia-smi-query-gpu nvidia-smi --query-gpu=index,name,uuid,driver_version,memory.total,pci.bus_id,compute_cap --format=csv
cap nvidia-smi-path sh -c 'command -v nvidia-smi; ls -l /usr/bin/nvidia-smi /usr/local/nvidia/bin/nvidia-smi; head -c 300 /usr/bin/nvidia-smi | cat -v'
cap kernel-nvrm sh -c 'journalctl -k --no-pager 2>&1 | grep -iE "NVRM|nvidia" | tail -200 || dmesg 2>&1 | grep -iE "NVRM|nvidia" | tail -200'
cap dcgmi sh -c 'command -v dcgmi nv-hostengine; dcgmi --version; dcgmi discovery -l; dcgmi diag -r 1 -j'
cap locale sh -c 'echo "LANG=${LANG:-} LC_ALL=${LC_ALL:-} LANGUAGE=${LANGUAGE:-}"; locale; locale -a'
cap lang-zh sh -c 'LANG=zh_CN.UTF-8 python3 -m runbook run --only 1 --quiet --out /tmp/captures-lang-zh; echo "exit $?"; python3 -c "import json; s=json.load(open(\"/tmp/captures-lang-zh/summary.json\")); print(s.get(\"lang\"), s[\"checks\"][0][\"title\"])"'
cap os-release cat /etc/os-release
cap systemd sh -c 'ps -p 1 -o comm=; systemctl is-system-running 2>&1; systemctl list-units "nvidia*" --no-pager 2>&1 | head -20'
exit 0
