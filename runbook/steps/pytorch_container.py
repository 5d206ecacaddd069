"""Step 4, PyTorch in a container: torch.cuda.is_available(), the devices, a product checked on the CPU,
and the throughput the container reaches beside the same probe run directly on the host."""

from __future__ import annotations

import os
import subprocess
import sys

from .. import datasheet, engine, gpu_access, workloads
from ..diagnosis import NB_PYTORCH
from ..errors import ContainerFailed
from ..results import CheckResult, Passed, chosen, fail, run_check, skip, warn
from . import container_failure, context, from_error, skipped
from .images import choose_and_pull, judge_requirement

TITLES = {
    "pytorch.requirement": "The driver meets the PyTorch image's CUDA",
    "pytorch.import": "PyTorch imports in the image",
    "pytorch.cuda_available": "torch.cuda.is_available() in the container",
    "pytorch.matmul": "A matrix product on the GPU matches the CPU",
    "pytorch.throughput": "bf16 matmul and memory bandwidth: container against host",
}
SLOWER = 0.9  # container/host below this is a warning: something throttles the container


def run(progress=None, **values) -> list[CheckResult]:
    ctx = context(values)
    results, image = choose_and_pull(ctx, "pytorch", "pytorch_image", "pytorch", "PyTorch CUDA image", progress)
    if image is None:
        reason = f"the PyTorch image is not available ({results[-1].id}: {results[-1].status.value})"
        return results + [skipped(i, t, reason) for i, t in TITLES.items()]
    results.append(
        run_check("pytorch.requirement", TITLES["pytorch.requirement"], lambda: judge_requirement(ctx, image))
    )
    probe: dict = {}

    def run_probe() -> Passed:
        nonlocal probe
        opts = gpu_access.options(ctx.params["gpu_mode"], ctx.params["gpus"], ctx.driver)
        command = ["python3", "-c", workloads.source("gpu_probe"), str(ctx.params["matmul_size"])]
        if ctx.params["measure_throughput"]:
            command.append("--bench")
        try:
            out = engine.run(ctx.client, image, command, timeout_s=ctx.params["timeout_s"], options=opts)
        except ContainerFailed as e:
            raise from_error(e, ctx) from None
        probe = workloads.parse(out.output) or {}
        if not probe:
            raise container_failure(f"the probe printed no result (exit {out.exit_code})", out.output, ctx)
        if "error" in probe:
            raise fail(
                f"{probe['error']} (python {probe.get('python')})",
                cause="The image has no working PyTorch.",
                remediation="Use a PyTorch image (pytorch_image=auto picks one).",
                notebook=NB_PYTORCH,
                evidence=out.output,
            )
        return Passed(
            f"torch {probe['torch']} built for CUDA {probe['cuda']}, python {probe['python']}",
            evidence=out.output,
            data=probe,
        )

    on_host = HostProbe(ctx) if ctx.params["measure_throughput"] else None
    try:
        imported = run_check("pytorch.import", TITLES["pytorch.import"], run_probe)
        results.append(imported)
        results.append(
            run_check(
                "pytorch.cuda_available",
                TITLES["pytorch.cuda_available"],
                lambda: check_available(ctx, imported, probe),
            )
        )
        results.append(run_check("pytorch.matmul", TITLES["pytorch.matmul"], lambda: check_matmul(probe)))
        results.append(
            run_check("pytorch.throughput", TITLES["pytorch.throughput"], lambda: check_throughput(ctx, probe, on_host))
        )
    finally:
        if on_host is not None:
            on_host.close()
    return results


def check_available(ctx, imported: CheckResult, probe: dict) -> Passed:
    if not imported.ok:
        raise skip(f"the probe did not run ({imported.id}: {imported.status.value})")
    if not probe.get("cuda_available"):
        if probe.get("cuda") is None:
            raise fail(
                f"False: torch {probe.get('torch')} is a CPU-only build",
                cause="The image's PyTorch has no CUDA.",
                remediation="Use a CUDA build of PyTorch (a pytorch/pytorch:*-cuda* image).",
                notebook=NB_PYTORCH,
            )
        raise container_failure(
            f"False: {probe.get('cuda_error') or 'torch sees no GPU'}",
            probe.get("cuda_error", "") + f" (gpu_mode={ctx.params['gpu_mode']})",
            ctx,
        )
    names = ", ".join(probe.get("devices", []))
    return Passed(f"True: {probe['device_count']} device(s): {names}", data={"devices": probe.get("devices", [])})


def check_matmul(probe: dict) -> Passed:
    m = probe.get("matmul")
    if probe.get("matmul_error"):
        raise fail(
            f"the product did not run: {probe['matmul_error']}",
            cause="CUDA is available but a computation on the GPU failed (out of memory, or a CUDA error).",
            remediation="Check `nvidia-smi` for other processes using the GPU's memory; lower matmul_size.",
            notebook=NB_PYTORCH,
        )
    if not m:
        raise skip("CUDA is not available in the container (pytorch.cuda_available)")
    detail = f"{m['n']}x{m['n']} float32 product, relative error {m['relative_error']:.2e} against float64 on the CPU"
    if not m["ok"]:
        raise fail(
            detail + " (limit 1e-5)",
            cause="The GPU computed a wrong result: a faulty GPU, driver or library.",
            remediation="Run `nvidia-smi -q -d ECC,ROW_REMAPPER`, update the driver, try another GPU.",
            notebook=NB_PYTORCH,
        )
    return Passed(detail, data=m)


class HostProbe:
    """The same probe run directly on the host (this Python), on the first selected GPU.

    It starts while the container's probe runs, so that importing torch and setting up CUDA on the host
    overlap with the container; it measures only when ``result`` gives the word, after the container's
    measurement has ended, so that the two never share the GPU while they measure."""

    def __init__(self, ctx):
        self.timeout_s = ctx.params["timeout_s"]
        env = dict(os.environ)
        ids = gpu_access.selected_ids(ctx.params["gpus"])
        if ids:
            env["CUDA_VISIBLE_DEVICES"] = ids[0]
        command = [sys.executable, "-c", workloads.source("gpu_probe"), str(ctx.params["matmul_size"])]
        self.proc = subprocess.Popen(
            [*command, "--bench", "--wait"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )

    def result(self) -> dict:
        """Measure now and return the probe's result; {"error": …} when it printed none."""
        try:
            out, err = self.proc.communicate("go\n", timeout=self.timeout_s)
        except subprocess.TimeoutExpired:
            self.close()
            return {"error": f"the host probe ran past {self.timeout_s:.0f} s"}
        return workloads.parse(out) or {"error": (err or out)[-500:]}

    def close(self) -> None:
        """Stop the probe if it still runs (the container's probe failed, or the step was interrupted)."""
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.communicate()


def check_throughput(ctx, probe: dict, host_probe: HostProbe | None) -> Passed:
    if not ctx.params["measure_throughput"]:
        raise chosen("measure_throughput is false")
    bench = probe.get("bench")
    if probe.get("bench_error"):
        raise warn(
            f"the measurement did not run in the container: {probe['bench_error']}",
            cause="The GPU computes (pytorch.matmul) but the larger benchmark failed: usually out of memory "
            "because another process holds the GPU's memory.",
            remediation="Check `nvidia-smi` for other processes; run again with the GPU idle.",
            notebook=NB_PYTORCH,
        )
    if not bench:
        raise skip("the GPU computation did not run in the container (pytorch.cuda_available, pytorch.matmul)")
    name = (probe.get("devices") or [""])[0]
    data = {"gpu": name, "container": bench, "datasheet": None, "host": None}
    sheet = datasheet.figures_for(name)
    if sheet:
        data["datasheet"] = {"bf16_matmul_tflops": sheet[0], "copy_gb_per_s": sheet[1]}
    detail = (
        f"container: {bench['bf16_matmul_tflops']:.0f} TFLOP/s bf16, {bench['copy_gb_per_s']:.0f} GB/s device-to-device"
    )
    on_host = host_probe.result()
    host = on_host.get("bench")
    if not host:
        if str(on_host.get("error", "")).startswith("import torch failed"):
            return Passed(detail + "; no PyTorch on the host, so no container/host ratio", data=data)
        why = (
            on_host.get("error")
            or on_host.get("bench_error")
            or on_host.get("matmul_error")
            or on_host.get("cuda_error")
            or "the host's PyTorch sees no GPU"
        )
        raise warn(
            detail + f"; the same probe on the host failed, so no container/host ratio: {why}",
            cause="The host's own PyTorch could not measure the GPU (see the error).",
            remediation="Check the host's PyTorch (`python3 -c 'import torch; print(torch.cuda.is_available())'`) "
            "or set measure_throughput=false.",
            notebook=NB_PYTORCH,
        )
    data["host"] = host
    ratios = {k: bench[k] / host[k] for k in ("bf16_matmul_tflops", "copy_gb_per_s")}
    data["ratios"] = ratios
    detail += (
        f"; host: {host['bf16_matmul_tflops']:.0f} TFLOP/s, {host['copy_gb_per_s']:.0f} GB/s; container/host "
        f"{ratios['bf16_matmul_tflops']:.3f} and {ratios['copy_gb_per_s']:.3f}"
    )
    if min(ratios.values()) < SLOWER:
        raise warn(
            detail,
            cause="The container is markedly slower than the host on the same GPU: another process "
            "on the GPU, a power or clock cap, or a different library build in the image.",
            remediation="Check `nvidia-smi` for other processes and clocks; compare torch and CUDA versions "
            "of the image and the host.",
            notebook=NB_PYTORCH,
        )
    return Passed(detail, data=data)
