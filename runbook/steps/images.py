"""Choosing and pulling the images the container steps use (shared by steps 3, 4 and 5)."""

from __future__ import annotations

from collections.abc import Callable

from .. import cuda, engine
from ..diagnosis import NB_GPU
from ..results import CheckResult, Passed, run_check, skip
from . import Context, skipped


def choose(ctx: Context, param: str, pick: Callable[[str], str | None], what: str) -> Passed:
    """The image named by parameter ``param``, or for 'auto' the one ``pick`` returns for the driver's CUDA."""
    given = ctx.params[param]
    if given != "auto":
        return Passed(f"{given} (given by {param})", data={"image": given})
    if ctx.driver is None or not ctx.driver.gpus:
        raise skip(
            f"{ctx.driver_problem}, so there is no CUDA version to match (see host.driver in 01-preflight); "
            f"set {param} to choose the {what}"
        )
    ceiling = ctx.driver.cuda_version or cuda.max_cuda_for_driver(ctx.driver.driver_version) or ""
    image = pick(ceiling) if ceiling else None
    if image is None:
        raise skip(f"no known {what} for CUDA {ceiling or '?'} (driver {ctx.driver.driver_version}); set {param}")
    return Passed(f"{image} (driver {ctx.driver.driver_version} supports CUDA up to {ceiling})", data={"image": image})


def choose_and_pull(
    ctx: Context, prefix: str, param: str, pick, what: str, progress=None
) -> tuple[list[CheckResult], str | None]:
    """The ``<prefix>.image`` and ``<prefix>.pull`` checks; returns them and the image when it is present."""
    chosen = run_check(f"{prefix}.image", f"Choose the {what}", lambda: choose(ctx, param, pick, what))
    if not chosen.ok:
        return [chosen, skipped(f"{prefix}.pull", f"Pull the {what}", f"no image chosen ({chosen.id})")], None
    image = chosen.data["image"]
    if ctx.client is None:
        return [chosen, skipped(f"{prefix}.pull", f"Pull the {what}", ctx.engine_problem)], None

    def do_pull() -> Passed:
        img = engine.pull(ctx.client, image, ctx.params["pull"], ctx.params["pull_timeout_s"], progress)
        size = img.attrs.get("Size") or 0
        return Passed(f"{image} present ({size / 1e9:.2f} GB, {img.short_id})", data={"id": img.id})

    pulled = run_check(f"{prefix}.pull", f"Pull the {what} (pull={ctx.params['pull']})", do_pull)
    if not pulled.notebook and not pulled.ok:
        pulled.notebook = NB_GPU
    return [chosen, pulled], image if pulled.ok else None
