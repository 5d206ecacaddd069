"""Where steps 3 and 4 spend their time beside the raw containers they wrap: each step run in this process
(no kernel, no notebook) with its checks' own times, each of step 3's containers alone and all of them at
once as the step starts them, and the runbook's import; medians over several runs, side by side.

On a GPU host with a Docker engine and the images (tests/gpu/kit serves them):

    python3 benchmarks/step_costs.py [--repeat 5] [--gpu-mode gpus] [--cuda-image IMG] [--pytorch-image IMG]

What the lines mean:
  raw ...              the article's container (nvidia-smi) and the PyTorch probe, through the SDK
  alone ...            one of step 3's containers at a time
  together             step 3's containers all at once, as the step starts them: the slowest sets the wall
  step 3 / step 4      gpu_container.run / pytorch_container.run in this process, then each check's own time
  import in a kernel   a fresh interpreter importing what the notebooks' first cells import
"""

import argparse
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from runbook import engine, host, params, workloads  # noqa: E402
from runbook.engine import gpu_access  # noqa: E402
from runbook.errors import HostError, RunbookError  # noqa: E402
from runbook.host import cuda  # noqa: E402
from runbook.steps import gpu_container, pytorch_container  # noqa: E402

TIMES: dict[str, list[float]] = defaultdict(list)


def timed(name: str, fn, *args, **kwargs):
    start = time.monotonic()
    try:
        return fn(*args, **kwargs)
    finally:
        TIMES[name].append(time.monotonic() - start)


def step3_containers(mode: str, driver) -> dict[str, tuple[list[str], dict]]:
    """The containers step 3 starts, by name: the command and the options each runs with."""
    out = {
        "no GPU, echo ok": (["sh", "-c", "echo ok"], {}),
        f"{mode}: nvidia-smi and the CUDA probe": gpu_container.shared_container(mode, "all", driver),
    }
    for other in gpu_access.MODES:
        if other != mode:
            try:
                out[f"{other}: nvidia-smi -L"] = (gpu_container.LIST_GPUS, gpu_access.options(other, "all", driver))
            except HostError as e:  # (manual without a driver) the step warns and starts no container
                print(f"  ({other}: {e})")
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--gpu-mode", default=params.defaults()["gpu_mode"])
    ap.add_argument("--cuda-image", default="")
    ap.add_argument("--pytorch-image", default="")
    a = ap.parse_args()
    client = engine.connect()
    driver = host.query_driver()
    ceiling = (driver.cuda_version if driver else "") or "13.0"
    cuda_image = a.cuda_image or cuda.cuda_image_for(ceiling)
    pytorch_image = a.pytorch_image or cuda.pytorch_image_for(ceiling)
    opts = gpu_access.options(a.gpu_mode, "all", driver)
    probe = workloads.source("gpu_probe")
    containers = step3_containers(a.gpu_mode, driver)
    values = {
        "cuda_image": cuda_image,
        "pytorch_image": pytorch_image,
        "pull": "never",
        "gpu_mode": a.gpu_mode,
        "measure_throughput": False,
    }

    def run(name: str) -> float:
        command, options = containers[name]
        start = time.monotonic()
        try:
            out = engine.run(client, cuda_image, command, timeout_s=300, options=options)
        except RunbookError as e:  # timed all the same, and said
            print(f"  ({name}: {e})")
            return time.monotonic() - start
        if out.exit_code != 0:
            print(f"  ({name} exited {out.exit_code}: {out.output[-300:]!r})")
        return out.duration_s

    for i in range(a.repeat):
        timed(
            "raw: nvidia-smi (the article's container)",
            engine.run,
            client,
            cuda_image,
            gpu_container.COMMAND,
            timeout_s=300,
            options=opts,
        )
        timed(
            "raw: the PyTorch probe",
            engine.run,
            client,
            pytorch_image,
            ["python3", "-c", probe, "2048"],
            timeout_s=600,
            options=opts,
        )
        for name in containers:
            TIMES[f"alone: {name}"].append(run(name))
        with ThreadPoolExecutor(max_workers=len(containers)) as pool:
            start = time.monotonic()
            each = dict(zip(containers, pool.map(run, containers), strict=True))
            TIMES["together (wall)"].append(time.monotonic() - start)
        for name, seconds in each.items():
            TIMES[f"  together: {name}"].append(seconds)
        for label, step in (("step 3", gpu_container.run), ("step 4", pytorch_container.run)):
            results = timed(f"{label} (in this process)", step, **values)
            for r in results:
                TIMES[f"  {label}: {r.id} ({r.status.value})"].append(r.duration_s)
        timed(
            "import in a kernel (a fresh interpreter)",
            subprocess.run,
            [
                sys.executable,
                "-c",
                "from runbook import ui; from runbook.steps import gpu_container, pytorch_container",
            ],
            check=True,
            cwd=Path(__file__).resolve().parent.parent,
        )
        print(f"run {i + 1} done", flush=True)
    print(f"\nmedians over {a.repeat} runs (gpu_mode={a.gpu_mode}):")
    for name, seconds in TIMES.items():
        print(f"  {name:64} {statistics.median(seconds):7.3f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
