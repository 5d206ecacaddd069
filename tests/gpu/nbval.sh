#!/usr/bin/env bash
# nbval over the GPU cells (nvidia-smi in a container, torch.cuda in a container) on a GPU host with
# a Docker engine: the notebooks are parameterised with papermill (not executed), then nbval runs them
# and compares the cells marked NBVAL_CHECK_OUTPUT with their stored reference outputs.
#   bash tests/gpu/nbval.sh                    # the GPU given to the containers by hand: must pass
#   GPU_MODE=gpus bash tests/gpu/nbval.sh      # without the NVIDIA Container Toolkit the GPU is withheld: must fail
#   (with the NVIDIA Container Toolkit installed, as the GPU host kit's device.sh does, GPU_MODE=gpus passes too)
# Images: CUDA_IMAGE and PYTORCH_IMAGE, by default those cuda_image=auto and pytorch_image=auto pick for this
# host's driver (the GPU host kit, tests/gpu/kit, serves them); they must be on the engine (pull never).
set -euo pipefail
cd "$(dirname "$0")/../.."
python=${PYTHON:-python3}
case $python in /*) ;; */*) python="$PWD/$python" ;; esac  # a relative path still works after the cd below
if ! "$python" -c 'import nbval, papermill' 2>/dev/null; then
  echo "nbval.sh: $python lacks nbval or papermill; install the project's test extra: $python -m pip install -e '.[test]'" >&2
  exit 2
fi
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"  # the kernels import this checkout's runbook
[ -n "${CUDA_IMAGE:-}" ] || read -r _ CUDA_IMAGE < <("$python" tests/gpu/kit/images.py --names --only base)
[ -n "${PYTORCH_IMAGE:-}" ] || read -r _ PYTORCH_IMAGE < <("$python" tests/gpu/kit/images.py --names --only pytorch)
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
for nb in 03-gpu-in-container 04-pytorch-in-container; do
  "$python" -m papermill --prepare-only notebooks/$nb.ipynb "$work/$nb.ipynb" \
    -p cuda_image "$CUDA_IMAGE" -p pytorch_image "$PYTORCH_IMAGE" \
    -p pull never -p gpu_mode "${GPU_MODE:-manual}" -p interactive False >/dev/null 2>&1
done
cd "$work"
exec "$python" -m pytest -p no:cacheprovider --rootdir "$work" --nbval-lax \
  --nbval-sanitize-with "$OLDPWD/runbook/nbval-sanitize.cfg" "$work"/*.ipynb "$@"
