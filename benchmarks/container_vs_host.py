"""GPU throughput in a container against the host, and the runbook's wall time against the raw
container commands it wraps; each measured side by side in one run, several times, reported as
medians and ratios.

The wall-time comparison: steps 3 and 4 of the runbook (two notebooks under papermill, which also try
the other GPU access modes and a plain container) against the two containers they wrap, run directly
through the SDK: nvidia-smi in the CUDA image and the PyTorch probe in the PyTorch image. The runbook runs
twice each time: as it runs (the containers of steps 3 and 4 started ahead, while the kernel starts:
runbook.engine.ahead), and with each step starting its own containers.

On a GPU host with a Docker engine and the images (by default those cuda_image=auto and
pytorch_image=auto pick for the driver; the GPU host kit, tests/gpu/kit, serves them):

    python3 benchmarks/container_vs_host.py [--repeat 5] [--gpu-mode gpus]

--gpu-mode defaults to the runbook's own default (gpu_mode=gpus: `docker run --gpus all`, the article's
command), so that both sides start the containers a user's default run starts. With another mode the raw side
uses that mode too, while step 3 still tries the others (the ladder): with manual, whose containers start
without the toolkit, the toolkit's modes are the slowest of step 3's containers, and the ratio says so.
"""

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from runbook import engine, host, params, runner, workloads  # noqa: E402
from runbook.engine import gpu_access
from runbook.host import cuda
from runbook.steps.gpu_container import COMMAND as NVIDIA_SMI  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--gpu-mode", default=params.defaults()["gpu_mode"])
    ap.add_argument("--cuda-image", default="", help="default: the one cuda_image=auto picks for the driver")
    ap.add_argument("--pytorch-image", default="", help="default: the one pytorch_image=auto picks")
    ap.add_argument("--keep", default="", help="a folder to keep the runbook's records in (run-1, run-2, …)")
    a = ap.parse_args()
    client = engine.connect()
    driver = host.query_driver()
    ceiling = (driver.cuda_version if driver else "") or "13.0"
    a.cuda_image = a.cuda_image or cuda.cuda_image_for(ceiling)
    a.pytorch_image = a.pytorch_image or cuda.pytorch_image_for(ceiling)
    opts = gpu_access.options(a.gpu_mode, "all", driver)
    probe = workloads.source("gpu_probe")
    keys = (
        "host_tflops",
        "ctr_tflops",
        "host_gbps",
        "ctr_gbps",
        "runbook_s",
        "runbook_own_s",
        "raw_s",
        "raw_smi_s",
        "raw_probe_s",
    )
    rows = {k: [] for k in keys}
    for i in range(a.repeat):
        h = workloads.parse(
            subprocess.run(
                [sys.executable, "-c", probe, "2048", "--bench"], capture_output=True, text=True, check=True
            ).stdout
        )["bench"]
        c = workloads.parse(
            engine.run(
                client, a.pytorch_image, ["python3", "-c", probe, "2048", "--bench"], timeout_s=600, options=opts
            ).output
        )["bench"]
        rows["host_tflops"].append(h["bf16_matmul_tflops"])
        rows["ctr_tflops"].append(c["bf16_matmul_tflops"])
        rows["host_gbps"].append(h["copy_gb_per_s"])
        rows["ctr_gbps"].append(c["copy_gb_per_s"])
        # the raw commands the runbook's steps 3 and 4 wrap, then the runbook doing the same
        t0 = time.monotonic()
        engine.run(client, a.cuda_image, NVIDIA_SMI, timeout_s=300, options=opts)
        t1 = time.monotonic()
        engine.run(client, a.pytorch_image, ["python3", "-c", probe, "2048"], timeout_s=600, options=opts)
        rows["raw_s"].append(time.monotonic() - t0)
        rows["raw_smi_s"].append(t1 - t0)
        rows["raw_probe_s"].append(time.monotonic() - t1)
        # the runbook as it runs (containers started ahead), then with each step starting its own
        for name, ahead in (("runbook_s", True), ("runbook_own_s", False)):
            with tempfile.TemporaryDirectory() as tmp:
                where = Path(a.keep) / f"run-{i + 1}-{name}" if a.keep else Path(tmp) / "r"
                t0 = time.monotonic()
                # measure_throughput off: the raw commands above do not measure it either
                summary, _ = runner.run(
                    where,
                    {
                        "cuda_image": a.cuda_image,
                        "pytorch_image": a.pytorch_image,
                        "pull": "never",
                        "gpu_mode": a.gpu_mode,
                        "measure_throughput": False,
                    },
                    only=["3", "4"],
                    log=lambda m: None,
                    start_ahead=ahead,
                )
                rows[name].append(time.monotonic() - t0)
        print(f"run {i + 1}: " + ", ".join(f"{k} {v[-1]:.2f}" for k, v in rows.items()), flush=True)
    med = {k: statistics.median(v) for k, v in rows.items()}
    print(f"\nmedians over {a.repeat} runs (gpu_mode={a.gpu_mode}):")
    print(
        f"  bf16 matmul  host {med['host_tflops']:.1f} TFLOP/s  container {med['ctr_tflops']:.1f} TFLOP/s  "
        f"container/host {med['ctr_tflops'] / med['host_tflops']:.3f}"
    )
    print(
        f"  d2d copy     host {med['host_gbps']:.0f} GB/s  container {med['ctr_gbps']:.0f} GB/s  "
        f"container/host {med['ctr_gbps'] / med['host_gbps']:.3f}"
    )
    print(
        f"  steps 3+4    runbook {med['runbook_s']:.2f} s  raw containers {med['raw_s']:.2f} s  "
        f"runbook/raw {med['runbook_s'] / med['raw_s']:.2f}  (raw: nvidia-smi {med['raw_smi_s']:.2f} s, "
        f"PyTorch probe {med['raw_probe_s']:.2f} s)"
    )
    print(
        f"  steps 3+4, each step starting its own containers (none ahead): runbook {med['runbook_own_s']:.2f} s  "
        f"runbook/raw {med['runbook_own_s'] / med['raw_s']:.2f}"
    )
    print(f"  last runbook verdict: {summary['verdict']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
