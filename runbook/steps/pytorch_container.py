"""Step 4, PyTorch in a container: torch.cuda.is_available(), the devices, and a product checked on the CPU."""
from __future__ import annotations

from .. import cuda, engine, gpu_access, workloads
from ..diagnosis import NB_PYTORCH
from ..errors import ContainerFailed
from ..results import CheckResult, Passed, fail, run_check, skip
from . import container_failure, context, skipped
from .images import choose_and_pull

TITLES = {"pytorch.import": "PyTorch imports in the image",
          "pytorch.cuda_available": "torch.cuda.is_available() in the container",
          "pytorch.matmul": "A matrix product on the GPU matches the CPU"}


def run(progress=None, **values) -> list[CheckResult]:
    ctx = context(values)
    results, image = choose_and_pull(ctx, "pytorch", "pytorch_image", cuda.pytorch_image_for,
                                     "PyTorch CUDA image", progress)
    if image is None:
        reason = f"the PyTorch image is not available ({results[-1].id}: {results[-1].status.value})"
        return results + [skipped(i, t, reason) for i, t in TITLES.items()]
    probe: dict = {}

    def run_probe() -> Passed:
        nonlocal probe
        opts = gpu_access.options(ctx.params["gpu_mode"], ctx.params["gpus"], ctx.driver)
        command = ["python3", "-c", workloads.source("gpu_probe"), str(ctx.params["matmul_size"])]
        try:
            out = engine.run(ctx.client, image, command, timeout_s=ctx.params["timeout_s"], options=opts)
        except ContainerFailed as e:
            raise container_failure(str(e), e.evidence or str(e), ctx) from None
        probe = workloads.parse(out.output) or {}
        if not probe:
            raise container_failure(f"the probe printed no result (exit {out.exit_code})", out.output, ctx)
        if "error" in probe:
            raise fail(f"{probe['error']} (python {probe.get('python')})",
                       cause="The image has no working PyTorch.",
                       remediation="Use a PyTorch image (pytorch_image=auto picks one).", notebook=NB_PYTORCH,
                       evidence=out.output)
        return Passed(f"torch {probe['torch']} built for CUDA {probe['cuda']}, python {probe['python']}",
                      evidence=out.output, data=probe)

    imported = run_check("pytorch.import", TITLES["pytorch.import"], run_probe)
    results.append(imported)
    results.append(run_check("pytorch.cuda_available", TITLES["pytorch.cuda_available"],
                             lambda: check_available(ctx, imported, probe)))
    results.append(run_check("pytorch.matmul", TITLES["pytorch.matmul"], lambda: check_matmul(probe)))
    return results


def check_available(ctx, imported: CheckResult, probe: dict) -> Passed:
    if not imported.ok:
        raise skip(f"the probe did not run ({imported.id}: {imported.status.value})")
    if not probe.get("cuda_available"):
        if probe.get("cuda") is None:
            raise fail(f"False: torch {probe.get('torch')} is a CPU-only build", cause="The image's PyTorch has no CUDA.",
                       remediation="Use a CUDA build of PyTorch (a pytorch/pytorch:*-cuda* image).", notebook=NB_PYTORCH)
        raise container_failure(f"False: {probe.get('cuda_error') or 'torch sees no GPU'}",
                                probe.get("cuda_error", "") + f" (gpu_mode={ctx.params['gpu_mode']})", ctx)
    names = ", ".join(probe.get("devices", []))
    return Passed(f"True: {probe['device_count']} device(s): {names}", data={"devices": probe.get("devices", [])})


def check_matmul(probe: dict) -> Passed:
    m = probe.get("matmul")
    if not m:
        raise skip("CUDA is not available in the container (pytorch.cuda_available)")
    detail = f"{m['n']}x{m['n']} float32 product, relative error {m['relative_error']:.2e} against float64 on the CPU"
    if not m["ok"]:
        raise fail(detail + " (limit 1e-5)", cause="The GPU computed a wrong result: a faulty GPU, driver or library.",
                   remediation="Run `nvidia-smi -q -d ECC,ROW_REMAPPER`, update the driver, try another GPU.",
                   notebook=NB_PYTORCH)
    return Passed(detail, data=m)
