#!/usr/bin/env bash
# e2e-fixed.sh KITDIR RECORD: the runbook's gpu.plain_path fix applied to the GPU host, then the runbook and
# NVIDIA's end-to-end suite once more; on the GPU host, as root, from the repository's root, after
# device.sh's toolkit step. The host keeps the driver's nvidia-smi in /usr/local/nvidia/bin, with a wrapper
# script at /usr/bin/nvidia-smi that execs it: the toolkit mounts the first nvidia-smi on the engine's PATH
# at that same path, which plain images (ubuntu) do not have on theirs. The fix: /usr/bin/nvidia-smi a link
# to the driver's binary and the engine's PATH the default one (/usr/bin before /usr/local/nvidia/bin),
# the engine restarted and the NVIDIA CDI specs generated again, so that the toolkit mounts nvidia-smi at
# /usr/bin/nvidia-smi. Then `python3 -m runbook run --out RECORD` (its defaults) and tests/gpu/kit/e2e.sh KITDIR
# RECORD. Everything is put back afterwards (the wrapper, the engine's PATH, the specs), whatever the outcome.
# The suite's record is RECORD-e2e (E2E_REC).
# Exit code: e2e.sh's (0 no disagreement between the suite and the runbook, 1 one or more).
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
kit=${1:?usage: e2e-fixed.sh KITDIR RECORD}
rec=${2:?usage: e2e-fixed.sh KITDIR RECORD}
KIT_ROOT=${KIT_ROOT:-/tmp/gpu-kit}
driver_smi=/usr/local/nvidia/bin/nvidia-smi
[ -x "$driver_smi" ] || { echo "e2e-fixed: no $driver_smi: this host keeps its driver elsewhere; nothing to fix" >&2; exit 2; }
saved=$KIT_ROOT/e2e-fixed.saved
mkdir -p "$saved"
rm -f "$saved/nvidia-smi"
cp -a /usr/bin/nvidia-smi "$saved/nvidia-smi" 2>/dev/null  # (none: none is put back)
mapfile -t specs < <(ls /etc/cdi/nvidia*.yaml /var/run/cdi/nvidia*.yaml 2>/dev/null)
for s in "${specs[@]}"; do cp -p "$s" "$saved/$(echo "$s" | tr / _)"; done
restore() {
  # the link goes first: a copy onto it would write through it, over the driver's own binary
  rm -f /usr/bin/nvidia-smi
  if [ -e "$saved/nvidia-smi" ] || [ -L "$saved/nvidia-smi" ]; then cp -a "$saved/nvidia-smi" /usr/bin/nvidia-smi; fi
  for s in "${specs[@]}"; do cp -p "$saved/$(echo "$s" | tr / _)" "$s"; done
  rm -f "$KIT_ROOT/engine-path"
  bash "$here/dockerd.sh" restart "$KIT_ROOT"
}
trap restore EXIT
echo "e2e-fixed: /usr/bin/nvidia-smi was: $(file -b /usr/bin/nvidia-smi 2>/dev/null || head -c 80 /usr/bin/nvidia-smi)"
ln -sf "$driver_smi" /usr/bin/nvidia-smi
echo /usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin >"$KIT_ROOT/engine-path"
bash "$here/dockerd.sh" restart "$KIT_ROOT" || exit 1
for s in "${specs[@]}"; do
  PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin nvidia-ctk cdi generate --output="$s" >/dev/null 2>&1 \
    && echo "e2e-fixed: $s generated again: nvidia-smi at $(grep -o '[^" ]*/nvidia-smi' "$s" | sort -u | paste -sd' ')"
done
python3 -m runbook run --out "$rec"
echo "e2e-fixed: the runbook exited $?"
E2E_REC=$rec-e2e bash "$here/e2e.sh" "$kit" "$rec"
