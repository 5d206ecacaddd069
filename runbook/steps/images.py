"""Choosing and pulling the images the container steps use (shared by steps 3, 4 and 5)."""

from __future__ import annotations

from .. import cuda, engine
from ..diagnosis import NB_GPU, by_key
from ..errors import ImageNotPulled
from ..results import CheckResult, Outcome, Passed, Status, fail, run_check, skip, warn
from . import Context, skipped


def choose(ctx: Context, param: str, kind: str, what: str) -> Passed:
    """The image named by parameter ``param``, or for 'auto' the image of ``kind`` (base, runtime, devel,
    pytorch) that cuda.choose finds for the driver, with why; a tag NVIDIA no longer supports is a warning."""
    given = ctx.params[param]
    if given != "auto":
        return Passed(f"{given} (given by {param})", data={"image": given})
    d = ctx.driver
    if d is None or not d.gpus:
        raise skip(
            f"{ctx.driver_problem}, so there is no CUDA version to match (see host.driver in 01-preflight); "
            f"set {param} to choose the {what}"
        )
    ceiling = d.cuda_version or cuda.max_cuda_for_driver(d.driver_version) or ""
    brands = tuple(sorted({g.brand for g in d.gpus}))
    archs = sorted({g.architecture for g in d.gpus if g.architecture})
    choice = cuda.choose(kind, d.driver_version, ceiling, brands, archs)
    if choice is None:
        upgrade = cuda.upgrade_note(d.driver_version, archs)
        raise skip(
            f"no {what} is known for driver {d.driver_version} (CUDA up to {ceiling or '?'}): the oldest images the "
            f"runbook knows need CUDA 11 (driver >= {cuda.family_floor('11.0')})"
            + (f"; {upgrade}" if upgrade else "")
            + f"; set {param} to choose one"
        )
    detail = "; ".join([choice.detail, *choice.notes])
    data = {"image": choice.image, "cuda": choice.cuda, "via": choice.via, "notes": choice.notes}
    if not choice.tag_supported:
        raise warn(
            detail,
            data=data,
            notebook=NB_GPU,
            remediation=f"If the pull finds the tag gone, upgrade the driver or set {param} to an image you keep.",
        )
    return Passed(detail, data=data)


def image_of(ctx: Context, param: str, kind: str, what: str) -> str:
    """The image ``choose`` names, also when the choice came with a warning (an unsupported tag)."""
    try:
        return choose(ctx, param, kind, what).data["image"]
    except Outcome as o:
        if o.status is Status.WARN:
            return o.data["image"]
        raise


def choose_and_pull(
    ctx: Context, prefix: str, param: str, kind: str, what: str, progress=None
) -> tuple[list[CheckResult], str | None]:
    """The ``<prefix>.image`` and ``<prefix>.pull`` checks; returns them and the image when it is present."""
    chosen = run_check(f"{prefix}.image", f"Choose the {what}", lambda: choose(ctx, param, kind, what))
    if not chosen.ok:
        return [chosen, skipped(f"{prefix}.pull", f"Pull the {what}", f"no image chosen ({chosen.id})")], None
    image = chosen.data["image"]
    if ctx.client is None:
        return [chosen, skipped(f"{prefix}.pull", f"Pull the {what}", ctx.engine_problem)], None

    def do_pull() -> Passed:
        try:
            img = engine.pull(ctx.client, image, ctx.params["pull"], ctx.params["pull_timeout_s"], progress)
        except ImageNotPulled as e:
            raise skip(f"{e}: nothing that needs it can be observed ({e.remediation})") from None
        size = img.attrs.get("Size") or 0
        return Passed(f"{image} present ({size / 1e9:.2f} GB, {img.short_id})", data={"id": img.id})

    pulled = run_check(f"{prefix}.pull", f"Pull the {what} (pull={ctx.params['pull']})", do_pull)
    if not pulled.notebook and not pulled.ok:
        pulled.notebook = NB_GPU
    return [chosen, pulled], image if pulled.ok else None


def judge_requirement(ctx: Context, image: str) -> Passed:
    """The image's NVIDIA_REQUIRE_CUDA against this driver and its GPUs, as the toolkit evaluates it on
    the --gpus path: which alternative is met (natively, or through forward compatibility), or why none
    is. An image that declares none (PyTorch's) is judged by the CUDA its tag names."""
    req = cuda.parse_require_cuda(engine.image_env(ctx.client, image))
    d = ctx.driver
    if d is None or not d.gpus:
        raise skip(f"{ctx.driver_problem}: no driver to hold {image}'s requirement against")
    ceiling = d.cuda_version or cuda.max_cuda_for_driver(d.driver_version) or ""
    if req is None:
        built = cuda.cuda_of_tag(image)
        if built is None:
            raise skip(f"{image} declares no NVIDIA_REQUIRE_CUDA and its tag names no CUDA version")
        if ceiling and cuda.version_tuple(built) <= cuda.version_tuple(ceiling)[:2]:
            return Passed(
                f"{image} declares no NVIDIA_REQUIRE_CUDA; built for CUDA {built}, which driver "
                f"{d.driver_version} supports natively (up to {ceiling})",
                data={"via": "native"},
            )
        if cuda.runs_by_minor_version(built, d.driver_version):
            return Passed(
                f"{image} declares no NVIDIA_REQUIRE_CUDA; built for CUDA {built}, above the driver's "
                f"{ceiling}: it runs through minor-version compatibility (driver {d.driver_version} >= "
                f"{cuda.family_floor(built)}), without JIT of newer PTX",
                data={"via": "minor-version"},
            )
        raise fail(
            f"{image} is built for CUDA {built}; driver {d.driver_version} supports up to {ceiling} and is "
            f"below CUDA {built.split('.')[0]}.x's floor ({cuda.family_floor(built) or 'unknown'})",
            **by_key("cuda_requirement").fields(),
        )
    facts = [{"cuda": ceiling, "driver": d.driver_version, "brand": g.brand} for g in d.gpus]
    matched = [req.matching(f) for f in facts]
    others_met = all(o.matching(f) is not None for o in req.others for f in facts)
    brands = ", ".join(sorted({f"{g.product_brand or '?'} (brand={g.brand})" for g in d.gpus}))
    unchecked = "with gpu_mode=cdi or runtime (jit-cdi) the toolkit does not check it"
    if None in matched or not others_met:
        raise fail(
            f"{image} requires {req.raw if len(req.raw) < 80 else 'CUDA >= ' + req.cuda}; driver "
            f"{d.driver_version} supports up to {ceiling}, GPU {brands}: no alternative is met; "
            f"--gpus refuses the container ({unchecked})",
            evidence=req.raw,
            **by_key("cuda_requirement").fields(),
        )
    alternative = matched[0]
    if alternative.startswith("cuda"):
        return Passed(
            f"met natively: {alternative}; driver {d.driver_version} supports up to {ceiling} "
            f"(enforced by the toolkit on the --gpus path; {unchecked})",
            evidence=req.raw,
            data={"via": "native", "alternative": alternative},
        )
    detail = (
        f"met by {alternative} for GPU {brands}: the image runs through forward compatibility (its "
        f"cuda-compat libraries stand in for the driver's CUDA {ceiling})"
    )
    data = {"via": "forward compatibility", "alternative": alternative}
    if any(g.brand in cuda.CONSUMER_BRANDS for g in d.gpus):
        raise warn(
            detail + "; on a GeForce, forward compatibility fails at run time with CUDA error 804",
            evidence=req.raw,
            data=data,
            **by_key("forward_compat").fields(),
        )
    return Passed(detail, evidence=req.raw, data=data)
