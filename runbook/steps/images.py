"""Choosing and pulling the images the container steps use (shared by steps 3, 4 and 5)."""

from __future__ import annotations

from docker.errors import DockerException

from .. import engine
from ..diagnosis import NB_GPU, by_key
from ..errors import ImageNotPulled, RunbookError
from ..host import cuda
from ..i18n import _
from ..network import mirrors
from ..results import CheckResult, Outcome, Passed, Status, fail, run_check, skip, warn
from . import Context, engine_facts, skipped


def choose(ctx: Context, param: str, kind: str, what: str) -> Passed:
    """``pick`` with ``image_prefix`` applied: an image of nvcr.io or ghcr.io is pulled under the prefix
    mirror's name (m.daocloud.io/nvcr.io/…) when the user asks, and the detail says so."""
    try:
        picked = pick(ctx, param, kind, what)
    except Outcome as o:
        if o.status is Status.WARN:
            o.detail, o.data = _prefixed(ctx, o.detail, o.data)
        raise
    picked.detail, picked.data = _prefixed(ctx, picked.detail, picked.data)
    return picked


def _prefixed(ctx: Context, detail: str, data: dict) -> tuple[str, dict]:
    image = data["image"]
    renamed = mirrors.with_prefix(image, ctx.params["image_prefix"])
    if renamed == image:
        return detail, data
    note = _("pulled as {renamed} (image_prefix={prefix})").format(renamed=renamed, prefix=ctx.params["image_prefix"])
    return f"{detail}; {note}", {**data, "image": renamed, "named": image}


def pick(ctx: Context, param: str, kind: str, what: str) -> Passed:
    """The image named by parameter ``param``, or for 'auto' the image of ``kind`` (base, runtime, devel,
    pytorch) that cuda.choose finds for the driver, with why; a tag NVIDIA no longer supports is a warning."""
    given = ctx.params[param]
    if given != "auto":
        return Passed(_("{image} (given by {param})").format(image=given, param=param), data={"image": given})
    d = ctx.driver
    if d is None or not d.gpus:
        raise skip(
            _(
                "{problem}, so there is no CUDA version to match (see host.driver in 01-preflight); "
                "set {param} to choose the {what}"
            ).format(problem=ctx.driver_problem, param=param, what=what)
        )
    if not d.driver_version:
        raise skip(unknown_driver(d, param, what))
    ceiling = d.cuda_version or cuda.max_cuda_for_driver(d.driver_version) or ""
    brands = tuple(sorted({g.brand for g in d.gpus}))
    archs = sorted({g.architecture for g in d.gpus if g.architecture})
    choice = cuda.choose(kind, d.driver_version, ceiling, brands, archs)
    if choice is None:
        upgrade = cuda.upgrade_note(d.driver_version, archs)
        known = _(
            "no {what} is known for driver {version} (CUDA up to {ceiling}): the oldest images the "
            "runbook knows need CUDA 11 (driver >= {floor})"
        ).format(what=what, version=d.driver_version, ceiling=ceiling or "?", floor=cuda.family_floor("11.0"))
        choose_one = _("set {param} to choose one").format(param=param)
        raise skip("; ".join(part for part in (known, upgrade, choose_one) if part))
    newer = cuda.beyond_table(d.driver_version)
    notes = [*choice.notes, cuda.beyond_table_note(d.driver_version)] if newer else choice.notes
    detail = "; ".join([choice.detail, *notes])
    data = {"image": choice.image, "cuda": choice.cuda, "via": choice.via, "notes": notes}
    if newer:
        raise warn(
            detail,
            data=data,
            notebook=NB_GPU,
            remediation=_(
                "Update the runbook (its CUDA table, runbook/cuda_images.json), or set {param} to the image "
                "of the CUDA version this driver reports."
            ).format(param=param),
        )
    if not choice.tag_supported:
        raise warn(
            detail,
            data=data,
            notebook=NB_GPU,
            remediation=_(
                "If the pull finds the tag gone, upgrade the driver or set {param} to an image you keep."
            ).format(param=param),
        )
    return Passed(detail, data=data)


def unknown_driver(d, param: str, what: str) -> str:
    """Why there is no image to choose when nvidia-smi printed no driver version."""
    said = d.unknown.get("driver_version") or _("nothing")
    return _(
        "nvidia-smi printed no driver version ({said}), so there is no CUDA version to match; set {param} to "
        "choose the {what}"
    ).format(said=said, param=param, what=what)


def image_of(ctx: Context, param: str, kind: str, what: str) -> str:
    """The image ``choose`` names, also when the choice came with a warning (an unsupported tag)."""
    try:
        return choose(ctx, param, kind, what).data["image"]
    except Outcome as o:
        if o.status is Status.WARN:
            return o.data["image"]
        raise


def planned_image(ctx: Context, param: str, kind: str, what: str) -> str | None:
    """The image ``choose_and_pull`` will give its step without pulling anything: the one chosen, already
    on the engine, with a pull policy that keeps it (not always); None otherwise."""
    if ctx.client is None or ctx.params["pull"] == "always":
        return None
    try:
        image = image_of(ctx, param, kind, what)
        return image if engine.image_present(ctx.client, image) else None
    except (Outcome, RunbookError, DockerException, OSError):
        return None


def choose_and_pull(
    ctx: Context, prefix: str, param: str, kind: str, what: str, progress=None
) -> tuple[list[CheckResult], str | None]:
    """The ``<prefix>.image`` and ``<prefix>.pull`` checks; returns them and the image when it is present."""
    chosen = run_check(
        f"{prefix}.image", _("Choose the {what}").format(what=what), lambda: choose(ctx, param, kind, what)
    )
    pull_title = _("Pull the {what}").format(what=what)
    if not chosen.ok:
        return [chosen, skipped(f"{prefix}.pull", pull_title, _("no image chosen ({id})").format(id=chosen.id))], None
    image = chosen.data["image"]
    if ctx.client is None:
        return [chosen, skipped(f"{prefix}.pull", pull_title, ctx.engine_problem)], None

    def do_pull() -> Passed:
        try:
            img = engine.pull(ctx.client, image, ctx.params["pull"], ctx.params["pull_timeout_s"], progress)
        except ImageNotPulled as e:
            raise skip(
                _("{error}: nothing that needs it can be observed ({fix})").format(error=e, fix=e.remediation)
            ) from None
        size = img.attrs.get("Size") or 0
        return Passed(
            _("{image} present ({size:.2f} GB, {id})").format(image=image, size=size / 1e9, id=img.short_id),
            data={"id": img.id, "engine": engine_facts(ctx)},
        )

    pulled = run_check(
        f"{prefix}.pull",
        _("Pull the {what} (pull={policy})").format(what=what, policy=ctx.params["pull"]),
        do_pull,
    )
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
        raise skip(
            _("{problem}: no driver to hold {image}'s requirement against").format(
                problem=ctx.driver_problem, image=image
            )
        )
    if not d.driver_version:
        raise skip(
            _("nvidia-smi printed no driver version: no driver to hold {image}'s requirement against").format(
                image=image
            )
        )
    ceiling = d.cuda_version or cuda.max_cuda_for_driver(d.driver_version) or ""
    if req is None:
        built = cuda.cuda_of_tag(image)
        if built is None:
            raise skip(
                _("{image} declares no NVIDIA_REQUIRE_CUDA and its tag names no CUDA version").format(image=image)
            )
        if ceiling and cuda.version_tuple(built) <= cuda.version_tuple(ceiling)[:2]:
            return Passed(
                _(
                    "{image} declares no NVIDIA_REQUIRE_CUDA; built for CUDA {built}, which driver "
                    "{version} supports natively (up to {ceiling})"
                ).format(image=image, built=built, version=d.driver_version, ceiling=ceiling),
                data={"via": "native"},
            )
        if cuda.runs_by_minor_version(built, d.driver_version):
            return Passed(
                _(
                    "{image} declares no NVIDIA_REQUIRE_CUDA; built for CUDA {built}, above the driver's "
                    "{ceiling}: it runs through minor-version compatibility (driver {version} >= "
                    "{floor}), without JIT of newer PTX"
                ).format(
                    image=image, built=built, ceiling=ceiling, version=d.driver_version, floor=cuda.family_floor(built)
                ),
                data={"via": "minor-version"},
            )
        raise fail(
            _(
                "{image} is built for CUDA {built}; driver {version} supports up to {ceiling} and is "
                "below CUDA {major}.x's floor ({floor})"
            ).format(
                image=image,
                built=built,
                version=d.driver_version,
                ceiling=ceiling,
                major=built.split(".")[0],
                floor=cuda.family_floor(built) or _("unknown"),
            ),
            **by_key("cuda_requirement").fields(),
        )
    facts = [{"cuda": ceiling, "driver": d.driver_version, "brand": g.brand} for g in d.gpus]
    matched = [req.matching(f) for f in facts]
    others_met = all(o.matching(f) is not None for o in req.others for f in facts)
    brands = ", ".join(sorted({f"{g.product_brand or '?'} (brand={g.brand})" for g in d.gpus}))
    unchecked = _("with gpu_mode=cdi or runtime (jit-cdi) the toolkit does not check it")
    if None in matched or not others_met:
        raise fail(
            _(
                "{image} requires {requirement}; driver {version} supports up to {ceiling}, GPU {brands}: "
                "no alternative is met; --gpus refuses the container ({unchecked})"
            ).format(
                image=image,
                requirement=req.raw if len(req.raw) < 80 else f"CUDA >= {req.cuda}",
                version=d.driver_version,
                ceiling=ceiling,
                brands=brands,
                unchecked=unchecked,
            ),
            evidence=req.raw,
            **by_key("cuda_requirement").fields(),
        )
    alternative = matched[0]
    if alternative.startswith("cuda"):
        return Passed(
            _(
                "met natively: {alternative}; driver {version} supports up to {ceiling} "
                "(enforced by the toolkit on the --gpus path; {unchecked})"
            ).format(alternative=alternative, version=d.driver_version, ceiling=ceiling, unchecked=unchecked),
            evidence=req.raw,
            data={"via": "native", "alternative": alternative},
        )
    detail = _(
        "met by {alternative} for GPU {brands}: the image runs through forward compatibility (its "
        "cuda-compat libraries stand in for the driver's CUDA {ceiling})"
    ).format(alternative=alternative, brands=brands, ceiling=ceiling)
    data = {"via": "forward compatibility", "alternative": alternative}
    if any(g.brand in cuda.CONSUMER_BRANDS for g in d.gpus):
        raise warn(
            _("{detail}; on a GeForce, forward compatibility fails at run time with CUDA error 804").format(
                detail=detail
            ),
            evidence=req.raw,
            data=data,
            **by_key("forward_compat").fields(),
        )
    return Passed(detail, evidence=req.raw, data=data)
