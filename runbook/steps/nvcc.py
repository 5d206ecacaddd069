"""Step 5, why there is no nvcc: base and runtime images have no compiler; devel images do."""

from __future__ import annotations

from .. import cuda, engine
from ..diagnosis import NB_GPU, NB_NVCC, NB_PYTORCH
from ..errors import ContainerFailed
from ..results import CheckResult, Passed, fail, run_check, skip, warn
from . import context, from_error
from .images import choose

CUDA_BIN = "/usr/local/cuda/bin"  # where CUDA images keep nvcc, also when it is not on PATH


def run(progress=None, **values) -> list[CheckResult]:
    ctx = context(values)
    results = []
    for check_id, param, pick, what, notebook in (
        ("nvcc.cuda_image", "cuda_image", cuda.cuda_image_for, "CUDA base image", NB_GPU),
        ("nvcc.pytorch_image", "pytorch_image", cuda.pytorch_image_for, "PyTorch image", NB_PYTORCH),
    ):
        results.append(
            run_check(check_id, f"nvcc in the {what}", lambda: check_image(ctx, param, pick, what, notebook))
        )
    results.append(run_check("nvcc.devel_image", "nvcc in a CUDA devel image", lambda: check_devel(ctx, progress)))
    return results


def _find_nvcc(ctx, image: str) -> str:
    """The first nvcc on the image's PATH or in /usr/local/cuda/bin, or '' when there is none."""
    env = dict(item.partition("=")[::2] for item in engine.image_env(ctx.client, image))
    dirs = [d for d in env.get("PATH", "").split(":") if d.startswith("/")] + [CUDA_BIN]
    try:
        found = engine.files_in_image(ctx.client, image, [f"{d.rstrip('/')}/nvcc" for d in dict.fromkeys(dirs)])
    except ContainerFailed as e:
        raise from_error(e, ctx, f"could not look inside {image}: {e}") from None
    return found[0] if found else ""


def check_image(ctx, param: str, pick, what: str, notebook: str) -> Passed:
    if ctx.client is None:
        raise skip(ctx.engine_problem)
    image = choose(ctx, param, pick, what).data["image"]
    if not engine.image_present(ctx.client, image):
        raise skip(f"{image} is not on the engine (pulled in {notebook})")
    found = _find_nvcc(ctx, image)
    flavour = cuda.flavour_of(image)
    seen = f"nvcc at {found}" if found else "no nvcc"
    if flavour is None:
        raise skip(
            f"{image}: {seen}; its tag names no flavour (base, runtime, devel), so there is no "
            "expectation to check it against"
        )
    expected = flavour == "devel"
    if bool(found) != expected:
        raise warn(f"{image}: {seen}, unexpected for a {flavour} image ({cuda.FLAVOURS[flavour]})")
    return Passed(
        f"{image}: {seen}, as expected: a {flavour} image has {cuda.FLAVOURS[flavour]}",
        data={"nvcc": found, "flavour": flavour},
    )


def check_devel(ctx, progress) -> Passed:
    if ctx.client is None:
        raise skip(ctx.engine_problem)
    image = choose(ctx, "devel_image", lambda ceiling: cuda.cuda_image_for(ceiling, "devel"), "CUDA devel image").data[
        "image"
    ]
    if not ctx.params["pull_devel"] and not engine.image_present(ctx.client, image):
        raise skip(f"{image} would be pulled (several GB): set pull_devel=true to pull it and run nvcc --version")
    engine.pull(ctx.client, image, ctx.params["pull"], ctx.params["pull_timeout_s"], progress)
    try:
        out = engine.run(ctx.client, image, ["nvcc", "--version"], timeout_s=ctx.params["timeout_s"])
    except ContainerFailed as e:
        raise from_error(e, ctx, f"nvcc did not run in {image}: {e}") from None
    if out.exit_code != 0:
        raise fail(
            f"nvcc --version exited {out.exit_code} in {image}",
            cause="The image has no working nvcc: not a CUDA devel image, or its PATH lacks /usr/local/cuda/bin.",
            remediation="Use an nvidia/cuda:*-devel-* image (devel_image=auto picks one for the driver).",
            notebook=NB_NVCC,
            evidence=out.output,
        )
    release = next((line for line in out.output.splitlines() if "release" in line), out.output.strip()[:200])
    return Passed(f"{image}: {release.strip()}", evidence=out.output)
