#!/usr/bin/env bash
# stale-cdi.sh RECORD: a CDI spec as a driver upgrade leaves it, on the GPU host, as root, from the repository's
# root, after device.sh's toolkit step (which generated the spec for the running driver): each NVIDIA spec in
# /etc/cdi and /var/run/cdi is rewritten as if generated for driver 570.86.15 (its --host-driver-version and
# its libraries' versioned names, what `nvidia-ctk cdi generate` writes and the runbook reads), then steps 2
# and 3 run with gpu_mode cdi into RECORD: the runbook must call the spec stale and the CDI container fail
# with the engine's own error. The specs are put back afterwards, whatever the outcome.
# Exit code: 0 when the record says what it must (toolkit.cdi fail or warn, gpu.nvidia_smi fail), else 1.
set -uo pipefail
rec=${1:?usage: stale-cdi.sh RECORD}
old=570.86.15
mapfile -t specs < <(ls /etc/cdi/nvidia*.yaml /var/run/cdi/nvidia*.yaml 2>/dev/null)
[ ${#specs[@]} -gt 0 ] || { echo "stale-cdi: no NVIDIA CDI spec in /etc/cdi or /var/run/cdi" >&2; exit 1; }
driver=$(nvidia-smi --query-gpu=driver_version --format=csv,noheader | head -1)
[ -n "$driver" ] || { echo "stale-cdi: nvidia-smi gave no driver version" >&2; exit 1; }
backup=$(mktemp -d)
restore() { for s in "${specs[@]}"; do cp -p "$backup/$(echo "$s" | tr / _)" "$s"; done; rm -rf "$backup"; }
trap restore EXIT
for s in "${specs[@]}"; do
  cp -p "$s" "$backup/$(echo "$s" | tr / _)"
  sed -i "s/${driver//./\\.}/$old/g" "$s"
  echo "stale-cdi: $s: $(grep -c "$old" "$s") mentions of $driver now read $old"
done
python3 -m runbook run --only 2 --only 3 -p gpu_mode cdi --out "$rec"
echo "stale-cdi: the run exited $?"
python3 - "$rec/summary.json" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
c = {x["id"]: x for x in s["checks"]}
for i in ("toolkit.cdi", "gpu.nvidia_smi", "gpu.mode.cdi"):
    if i in c:
        print(f"stale-cdi: {i} {c[i]['status']}: {c[i].get('detail', '')[:300]}")
ok = c.get("toolkit.cdi", {}).get("status") == "fail" and c.get("gpu.nvidia_smi", {}).get("status") == "fail"
sys.exit(0 if ok else 1)
PY
