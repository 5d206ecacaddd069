"""Step 5, why there is no nvcc: base and runtime images have no compiler; devel images do."""

from __future__ import annotations

from .. import engine
from ..diagnosis import NB_GPU, NB_NVCC, NB_PYTORCH
from ..errors import ContainerFailed
from ..host import cuda
from ..i18n import _
from ..results import CheckResult, Passed, chosen, fail, run_check, skip, warn
from . import context, from_error
from .images import image_of

CUDA_BIN = "/usr/local/cuda/bin"  # where CUDA images keep nvcc, also when it is not on PATH
CUDA_ENV = ("CUDA_VERSION", "NVIDIA_REQUIRE_CUDA", "NV_CUDA_LIB_VERSION")


def run(progress=None, **values) -> list[CheckResult]:
    ctx = context(values)
    results = []
    for check_id, param, kind, what, notebook in (
        ("nvcc.cuda_image", "cuda_image", "base", _("CUDA base image"), NB_GPU),
        ("nvcc.pytorch_image", "pytorch_image", "pytorch", _("PyTorch image"), NB_PYTORCH),
    ):
        results.append(
            run_check(
                check_id,
                _("nvcc in the {what}").format(what=what),
                lambda: check_image(ctx, param, kind, what, notebook),
            )
        )
    results.append(run_check("nvcc.devel_image", _("nvcc in a CUDA devel image"), lambda: check_devel(ctx, progress)))
    return results


def holdings(ctx, image: str) -> dict:
    """What an image holds of CUDA: nvcc on its PATH or in /usr/local/cuda/bin, the /usr/local/cuda
    folder, its compat libraries, and the CUDA variables of its environment (read without starting it)."""
    env = dict(item.partition("=")[::2] for item in engine.image_env(ctx.client, image))
    dirs = dict.fromkeys([d.rstrip("/") for d in env.get("PATH", "").split(":") if d.startswith("/")] + [CUDA_BIN])
    nvccs = [f"{d}/nvcc" for d in dirs]
    try:
        found = engine.files_in_image(
            ctx.client, image, [*nvccs, "/usr/local/cuda", CUDA_BIN, "/usr/local/cuda/compat"]
        )
    except ContainerFailed as e:
        raise from_error(e, ctx, _("could not look inside {image}: {error}").format(image=image, error=e)) from None
    return {
        "nvcc": next((p for p in nvccs if p in found), ""),
        "cuda_dir": "/usr/local/cuda" in found,
        "cuda_bin": CUDA_BIN in found,
        "compat": "/usr/local/cuda/compat" in found,
        "env": {k: env[k] for k in CUDA_ENV if k in env},
    }


def what_it_is(h: dict) -> tuple[str, str]:
    """The kind of image its content shows (devel, base or runtime, own runtime), and why."""
    cuda_env = ", ".join(f"{k}={v[:40]}" for k, v in h["env"].items() if k != "NVIDIA_REQUIRE_CUDA")
    if h["nvcc"]:
        return "devel", _("nvcc at {path}: a devel image ({flavour})").format(
            path=h["nvcc"], flavour=cuda.flavour_text("devel")
        )
    if not h["cuda_dir"]:
        return "own runtime", _(
            "no /usr/local/cuda: the image brings its own CUDA runtime (as pytorch/pytorch:*-runtime, "
            "whose PyTorch carries its CUDA libraries), and no compiler"
        )
    bin_note = _("its /usr/local/cuda has no bin/") if not h["cuda_bin"] else _("its /usr/local/cuda/bin holds no nvcc")
    return "base or runtime", _(
        "{note} ({variables}): a base or runtime image, or one built "
        "FROM one; those carry the CUDA runtime (and libraries), not the compiler"
    ).format(note=bin_note, variables=cuda_env or _("no CUDA variables"))


def check_image(ctx, param: str, kind: str, what: str, notebook: str) -> Passed:
    if ctx.client is None:
        raise skip(ctx.engine_problem)
    image = image_of(ctx, param, kind, what)
    if not engine.image_present(ctx.client, image):
        raise skip(_("{image} is not on the engine (pulled in {notebook})").format(image=image, notebook=notebook))
    h = holdings(ctx, image)
    shown, why = what_it_is(h)
    data = {"nvcc": h["nvcc"], "content": shown, **h}
    flavour = cuda.flavour_of(image)
    if flavour is not None and (flavour == "devel") != bool(h["nvcc"]):
        raise warn(
            _("{image}: its tag says {flavour}, but {why}").format(image=image, flavour=flavour, why=why), data=data
        )
    answer = _("nvcc is there, as in every devel image") if h["nvcc"] else _("no nvcc, as expected")
    return Passed(_("{image}: {answer}: {why}").format(image=image, answer=answer, why=why), data=data)


def check_devel(ctx, progress) -> Passed:
    if ctx.client is None:
        raise skip(ctx.engine_problem)
    image = image_of(ctx, "devel_image", "devel", _("CUDA devel image"))
    if not ctx.params["pull_devel"] and not engine.image_present(ctx.client, image):
        raise chosen(
            _("{image} would be pulled (several GB): set pull_devel=true to pull it and run nvcc --version").format(
                image=image
            )
        )
    engine.pull(ctx.client, image, ctx.params["pull"], ctx.params["pull_timeout_s"], progress)
    try:
        out = engine.run(ctx.client, image, ["nvcc", "--version"], timeout_s=ctx.params["timeout_s"])
    except ContainerFailed as e:
        raise from_error(e, ctx, _("nvcc did not run in {image}: {error}").format(image=image, error=e)) from None
    if out.exit_code != 0:
        raise fail(
            _("nvcc --version exited {code} in {image}").format(code=out.exit_code, image=image),
            cause=_("The image has no working nvcc: not a CUDA devel image, or its PATH lacks /usr/local/cuda/bin."),
            remediation=_("Use an nvidia/cuda:*-devel-* image (devel_image=auto picks one for the driver)."),
            notebook=NB_NVCC,
            evidence=out.output,
        )
    release = next((line for line in out.output.splitlines() if "release" in line), out.output.strip()[:200])
    return Passed(f"{image}: {release.strip()}", evidence=out.output)
