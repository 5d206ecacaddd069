#!/usr/bin/env bash
# podman-runs.sh [KITDIR] REC: the runbook against Podman 5.4 on the GPU host, as root, from the
# repository's root, after the toolkit run (device.sh STEPS="up toolkit"; the toolkit's CDI spec is in
# /etc/cdi): the kit's Podman API service started (tests/gpu/kit/podman.sh), then
#   REC-podman-cdi    python3 -m runbook run -p docker_host unix:///run/podman/podman.sock -p gpu_mode cdi
#                     GPUs through CDI, Podman's own way: expected verdict pass
#   REC-podman-gpus   the same with gpu_mode gpus (--gpus-style device requests, which Podman's compat API
#                     ignores): expected verdict fail, gpu.nvidia_smi saying so and naming gpu_mode=cdi
# and the service stopped. The images come through the kit's registry (Podman's registries.conf). Exit
# code: 0 when both went as expected, 1 when one did not, 2 when Podman could not be started.
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../../.." && pwd)
cd "$repo" || exit 2
kit=${1:?usage: podman-runs.sh KITDIR REC}
rec=${2:?usage: podman-runs.sh KITDIR REC}
sock=${PODMAN_SOCK:-/run/podman/podman.sock}
bash "$here/podman.sh" start "$kit" || exit 2
trap 'bash "$here/podman.sh" stop "$kit"' EXIT
params=(-p docker_host "unix://$sock")
python3 -m runbook run --out "$rec-podman-cdi" "${params[@]}" -p gpu_mode cdi
python3 -m runbook run --out "$rec-podman-gpus" "${params[@]}" -p gpu_mode gpus
python3 - "$rec-podman-cdi" "$rec-podman-gpus" <<'PY'
import json, sys
cdi, gpus = (json.load(open(f"{r}/summary.json")) for r in sys.argv[1:])
smi = next((c for c in gpus["checks"] if c["id"] == "gpu.nvidia_smi"), {})
said = " ".join(str(smi.get(k) or "") for k in ("detail", "message", "cause", "remediation"))
print(f"{sys.argv[1]}: verdict {cdi['verdict']} (expected pass)")
print(f"{sys.argv[2]}: verdict {gpus['verdict']} (expected fail); gpu.nvidia_smi {smi.get('status')}: {said[:300]}")
ok = cdi["verdict"] == "pass" and gpus["verdict"] == "fail" and smi.get("status") == "fail" and "gpu_mode=cdi" in said
sys.exit(0 if ok else 1)
PY
