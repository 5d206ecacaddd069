#!/usr/bin/env bash
# device.sh [KITDIR]: on the GPU host, as root, from the repository's root, in one go: the rig
# (tests/gpu/kit/up.sh KITDIR, default build/gpu-kit), then the runbook as README.md runs it, with the
# NVIDIA Container Toolkit installed from the kit's apt repository and the images pulled through the
# kit's registry, then the same once for each GPU access mode, nbval over the GPU cells, and the GPU tests:
#
#   toolkit   python3 -m runbook run --out records/GPUS-DATE-toolkit  -p toolkit_apply true
#               -p toolkit_mirror http://127.0.0.1:8700 -p registry_mirrors http://127.0.0.1:5000
#               -p engine_restart "bash $PWD/tests/gpu/kit/dockerd.sh restart /tmp/gpu-kit"
#               -p allow_restart_command true -p enable_cdi true -p set_as_default true  [-p pull_devel true]
#   gpus, runtime, cdi, manual
#             the same with -p gpu_mode MODE, into records/GPUS-DATE-toolkit-MODE (the toolkit is then
#             already there: each of its steps says "already done")
#   nbval-manual, nbval-gpus
#             bash tests/gpu/nbval.sh with GPU_MODE=manual and GPU_MODE=gpus, on the images the runs pulled
#   pytest-gpu  python3 -m pytest tests/gpu
#   withheld  the probes of steps 3 and 4 run in the CUDA and PyTorch images with no GPU access at all, their
#             output kept in withheld.txt (the logs): what a container that is given no GPU prints
# and, when STEPS names them:
#   e2e       NVIDIA's own end-to-end suite after the runbook (tests/gpu/kit/e2e.sh), into records/GPUS-DATE-e2e
#   verify    python3 -m runbook verify RECORD --out records/GPUS-DATE-toolkit-verify-RECORD for each record of
#             VERIFY (default: the committed records of other GPU models' toolkit runs, records/*-toolkit
#             not made on this host's GPUs): the drift another model shows
#   podman    the runbook against Podman 5.4's Docker-compatible API (tests/gpu/kit/podman-runs.sh: needs
#             KITDIR/podman from make-podman-kit.sh) with gpu_mode cdi into records/GPUS-DATE-toolkit-podman-cdi
#             (expected pass) and with gpu_mode gpus into ...-podman-gpus (expected fail, diagnosed)
#   stale-cdi the NVIDIA CDI specs rewritten as a driver upgrade leaves them, steps 2 and 3 with gpu_mode cdi
#             into records/GPUS-DATE-toolkit-stale-cdi, the specs put back (tests/gpu/kit/stale-cdi.sh)
#   e2e-fixed the runbook's gpu.plain_path fix applied (/usr/bin/nvidia-smi the driver's binary, the engine's
#             default PATH), then the runbook into records/GPUS-DATE-toolkit-fixed and NVIDIA's suite into
#             records/GPUS-DATE-toolkit-fixed-e2e, the host put back (tests/gpu/kit/e2e-fixed.sh)
#   store     the runbook with its defaults against the engine switched to the containerd image store
#             (tests/gpu/kit/image-store.sh), into records/GPUS-DATE-toolkit-store
#   bench     benchmarks/container_vs_host.py --gpu-mode gpus and benchmarks/run_phases.py --only 3 --only 4,
#             five runs each, their output in bench.txt (the logs and $OUT)
#   costs     benchmarks/step_costs.py --gpu-mode gpus: steps 3 and 4 in-process with their checks' times, each of
#             step 3's containers alone and all at once, beside the raw containers (median of 5), in
#             step-costs.txt (the logs and $OUT)
#   health-bench  benchmarks/health_rung.py: what the GPU health rung adds to a run (median of 5), its output in
#             health-rung.txt (the logs and $OUT)
#   captures  this host's own tool output, for fixtures: nvidia-smi -q -x, nvidia-smi -q, nvidia-smi topo -m,
#             nvidia-smi -L, the kernel's NVRM lines, dcgmi (where installed), locale -a; in captures.tar.gz
#   fleet     benchmarks/fleet_scale.py over eight test-fleet hosts on this machine's cores
#             (tests/gpu/kit/fleet-scale.sh: needs KITDIR/fleet from make-fleet-kit.sh, sent apart), its
#             output in fleet-scale.txt ($OUT) and its figures in the logs (records.tar.gz)
#
# RECORDS (default records) is the folder the records are written in; REC names the toolkit run's record
# (default RECORDS/GPUS-DATE-toolkit, with the time added when it exists) so that a later call can go on
# from an earlier one's (e2e, verify, store after toolkit).
# GPUS names what this host's driver lists, by model and count (runbook.host.gpu_tag: h100x1, h200x1,
# a100x2-l4x1, nogpu), asked once the rig is up: a record is named by the host it was made on.
#
# PULL_DEVEL=1 (the default) adds -p pull_devel true to the toolkit run, so that nvcc --version runs in the
# devel image (the kit's has the real nvcc); PULL_DEVEL=0 runs the README's defaults only. STEPS (default
# "up toolkit gpus runtime cdi manual nbval-manual nbval-gpus pytest-gpu withheld") picks steps. A step that needs
# more time than is left of BUDGET_S (default 560: a device call may take 600 s) is skipped and says so;
# each step is stopped when the budget runs out.
#
# Writes into $OUT (default build/device-out): summary.txt (each step, its exit code and time, and each
# record's verdict and counts), records.tar.gz (records/GPUS-DATE-toolkit*, every step's log, and the rig's
# logs: dockerd.log, registry.log, apt-repo.log, images.json, images.files.txt.gz (every layer's files with
# their digests), daemon.json), up.log, toolkit.log. They are written again after every step, so a
# call cut short still brings back what was done. Exit code: that of
# the toolkit run (0 pass, 1 a check failed, 2 the run could not be made), or the first failing step's.
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../../.." && pwd)
cd "$repo" || exit 2
kit=${1:-build/gpu-kit}
out=${OUT:-$repo/build/device-out}
mkdir -p "$out"
out=$(cd "$out" && pwd)
KIT_ROOT=${KIT_ROOT:-/tmp/gpu-kit}
APT_PORT=${APT_PORT:-8700}
REGISTRY_PORT=${REGISTRY_PORT:-5000}
export KIT_ROOT APT_PORT REGISTRY_PORT
start=$(date +%s)
deadline=$((start + ${BUDGET_S:-560}))
day=$(date -u +%F)
rec=""  # named once the rig is up, by the GPUs the driver lists
logs=$repo/build/device-logs
rm -rf "$logs" && mkdir -p "$logs"
summary=$out/summary.txt
echo "# tests/gpu/kit/device.sh on $(hostname), $(date -u +%FT%TZ)" >"$summary"
first_rc=""

params=(-p toolkit_apply true -p toolkit_mirror "http://127.0.0.1:$APT_PORT"
  -p registry_mirrors "http://127.0.0.1:$REGISTRY_PORT"
  -p engine_restart "bash $here/dockerd.sh restart $KIT_ROOT" -p allow_restart_command true
  -p enable_cdi true -p set_as_default true)

pack() {
  local f
  for f in dockerd.log registry.log apt-repo.log images.json images.files.txt.gz rig.env; do
    [ -f "$KIT_ROOT/$f" ] && cp "$KIT_ROOT/$f" "$logs/" 2>/dev/null
  done
  [ -f "${DAEMON_JSON:-/etc/docker/daemon.json}" ] && cp "${DAEMON_JSON:-/etc/docker/daemon.json}" "$logs/daemon.json"
  [ -d "$logs/captures" ] && tar -czf "$out/captures.tar.gz" -C "$logs" captures
  # shellcheck disable=SC2046
  tar -czf "$out/records.tar.gz.part" $([ -z "$rec" ] || ls -d "$rec"* 2>/dev/null) -C "$repo/build" device-logs 2>/dev/null \
    && mv "$out/records.tar.gz.part" "$out/records.tar.gz"
  for f in up toolkit; do [ -f "$logs/$f.log" ] && cp "$logs/$f.log" "$out/$f.log"; done
}

verdict() {  # one line from a record's summary.json
  python3 - "$1" <<'PY' 2>/dev/null || echo "  $1: no summary.json"
import json, sys
s = json.load(open(sys.argv[1] + "/summary.json"))
bad = [f"{c['id']}={c['status']}" for c in s["checks"] if c["status"] in ("fail", "warn")]
print(f"  {sys.argv[1]}: verdict {s['verdict']} {s['counts']}" + (f"; {' '.join(bad)}" if bad else ""))
PY
}

step() {  # NAME SECONDS-IT-NEEDS COMMAND...
  local name=$1 need=$2 left t rc
  shift 2
  case " ${STEPS:-up toolkit gpus runtime cdi manual nbval-manual nbval-gpus pytest-gpu withheld} " in
    *" $name "*) ;;
    *) return 0 ;;
  esac
  left=$((deadline - $(date +%s)))
  if [ "$left" -lt "$need" ]; then
    echo "$name: SKIPPED, ${left} s left of the budget and it needs about ${need} s" | tee -a "$summary"
    return 0
  fi
  t=$(date +%s)
  echo "== $name: $*" | tee "$logs/$name.log"
  timeout -k 10 "$left" "$@" >>"$logs/$name.log" 2>&1 </dev/null
  rc=$?
  echo "$name: exit $rc in $(($(date +%s) - t)) s" | tee -a "$summary"
  [ "$rc" = 0 ] || [ -n "$first_rc" ] || first_rc=$rc
  pack
  return "$rc"
}

step up 200 bash "$here/up.sh" "$kit" || { echo "device.sh: the rig is not up; see up.log" | tee -a "$summary"; pack; exit 1; }
export DOCKER_HOST=unix://${DOCKER_SOCK:-/var/run/docker.sock}
gpus=$(python3 -c 'from runbook import host; d = host.query_driver(); print(host.gpu_tag(d.gpus if d else []))' 2>>"$logs/up.log") \
  || gpus=unknown
records=${RECORDS:-records}
mkdir -p "$records"
if [ -n "${REC:-}" ]; then
  rec=$REC
else
  rec=$records/$gpus-$day-toolkit
  if [ -e "$rec" ]; then rec=$rec-$(date -u +%H%M%S); fi  # a folder of an earlier call today stays as it is
fi
echo "# GPUs (as the driver lists them): $gpus; records: $rec*" | tee -a "$summary"
devel=()
[ "${PULL_DEVEL:-1}" = 0 ] || devel=(-p pull_devel true)
step toolkit 150 python3 -m runbook run --out "$rec" "${params[@]}" "${devel[@]}"
toolkit_rc=$?
[ -d "$rec" ] && verdict "$rec" | tee -a "$summary"
for mode in gpus runtime cdi manual; do
  step "$mode" 50 python3 -m runbook run --out "$rec-$mode" "${params[@]}" -p gpu_mode "$mode"
  [ -d "$rec-$mode" ] && verdict "$rec-$mode" | tee -a "$summary"
done
step e2e 150 bash "$here/e2e.sh" "$kit" "$rec"  # NVIDIA's own suite after the runbook (STEPS must name it)
read -r _ cuda_image < <(python3 "$here/images.py" --names --only base)
read -r _ pytorch_image < <(python3 "$here/images.py" --names --only pytorch)
export CUDA_IMAGE=$cuda_image PYTORCH_IMAGE=$pytorch_image
step nbval-manual 60 env GPU_MODE=manual bash tests/gpu/nbval.sh
step nbval-gpus 60 env GPU_MODE=gpus bash tests/gpu/nbval.sh
step pytest-gpu 90 env RUNBOOK_GPU_CUDA_IMAGE="$cuda_image" RUNBOOK_GPU_PYTORCH_IMAGE="$pytorch_image" \
  python3 -m pytest -p no:cacheprovider -q tests/gpu
step withheld 40 python3 "$here/withheld.py" "$cuda_image" "$pytorch_image" "$logs/withheld.txt"
others=${VERIFY:-$(ls -d records/*-toolkit 2>/dev/null | grep -v "^records/$gpus-")}
# shellcheck disable=SC2016,SC2086
[ -z "$others" ] || step verify 60 bash -c 'rec=$1; shift; rc=0
  for r; do echo "== verify $r"; python3 -m runbook verify "$r" --out "$rec-verify-$(basename "$r")" || rc=$?; done
  exit $rc' verify "$rec" $others
step podman 240 bash "$here/podman-runs.sh" "$kit" "$rec"
for r in "$rec-podman-cdi" "$rec-podman-gpus"; do [ -d "$r" ] && verdict "$r" | tee -a "$summary"; done
step stale-cdi 60 bash "$here/stale-cdi.sh" "$rec-stale-cdi"
step e2e-fixed 200 bash "$here/e2e-fixed.sh" "$kit" "$rec-fixed"
step store 150 bash "$here/image-store.sh" "$rec-store"
[ -d "$rec-store" ] && verdict "$rec-store" | tee -a "$summary"
# shellcheck disable=SC2016
step bench 240 bash -c 'python3 benchmarks/container_vs_host.py --repeat 5 --gpu-mode gpus --cuda-image "$1" \
  --pytorch-image "$2"; a=$?; for mode in gpus manual; do echo "== run_phases.py, gpu_mode $mode"
  python3 benchmarks/run_phases.py --repeat 5 --only 3 --only 4 -p cuda_image "$1" -p pytorch_image "$2" \
    -p pull never -p gpu_mode $mode -p measure_throughput false || a=1; done; exit $a' bench "$cuda_image" "$pytorch_image"
[ -f "$logs/bench.log" ] && cp "$logs/bench.log" "$out/bench.txt"
step costs 120 python3 benchmarks/step_costs.py --repeat 5 --gpu-mode gpus --cuda-image "$cuda_image" \
  --pytorch-image "$pytorch_image"
[ -f "$logs/costs.log" ] && cp "$logs/costs.log" "$out/step-costs.txt"
step health-bench 30 python3 benchmarks/health_rung.py
[ -f "$logs/health-bench.log" ] && cp "$logs/health-bench.log" "$out/health-rung.txt"
step captures 30 bash "$here/captures.sh" "$logs/captures"
step fleet 300 env OUT="$logs/fleet" bash "$here/fleet-scale.sh" "$kit" all
[ -f "$logs/fleet/fleet-scale.txt" ] && cp "$logs/fleet/fleet-scale.txt" "$out/fleet-scale.txt"
echo "device.sh: done in $(($(date +%s) - start)) s" | tee -a "$summary"
pack
if [ "$toolkit_rc" != 0 ]; then exit "$toolkit_rc"; fi
exit "${first_rc:-0}"
