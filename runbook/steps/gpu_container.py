"""Step 3, the GPU in a container: run nvidia-smi in a CUDA base image with the chosen GPU access mode,
and try the other access modes too, so that the record shows which rungs of the ladder work."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from .. import host
from ..diagnosis import NB_GPU, by_key
from ..engine import ahead, gpu_access
from ..errors import ContainerFailed, HostError, RunbookError
from ..host import cuda, mig, readouts
from ..i18n import _, ngettext
from ..results import CheckResult, Outcome, Passed, Status, fail, run_check, skip, warn
from . import container_failure, context, cuda_probe, from_error, mode_refused, skipped
from .images import choose_and_pull, judge_requirement, planned_image

# the table, the list, then where the nvidia-smi that ran lives in the container (gpu.plain_path reads it)
COMMAND = ["sh", "-c", "nvidia-smi && echo && nvidia-smi -L && echo && command -v nvidia-smi"]
LIST_GPUS = ["nvidia-smi", "-L"]
ECHO_OK = ["sh", "-c", "echo ok"]  # gpu.container_runs: a container of the image, no GPU
# the PATH of images that set none of their own (ubuntu, debian: Docker's default); NVIDIA's CUDA images add
# /usr/local/nvidia/bin, where some hosts keep the driver
PLAIN_PATH = ("/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin")


def run(progress=None, **values) -> list[CheckResult]:
    ctx = context(values)
    chosen = {"mode": ctx.params["gpu_mode"]}  # recorded with gpu.nvidia_smi: the ladder reads the run's mode there
    titles = check_titles()
    results, image = choose_and_pull(ctx, "cuda", "cuda_image", "base", _("CUDA base image"), progress)
    if image is None:
        reason = _("the CUDA image is not available ({id}: {status})").format(
            id=results[-1].id, status=results[-1].status.value
        )
        return results + [skipped(i, t, reason, chosen if i == "gpu.nvidia_smi" else None) for i, t in titles.items()]
    results.append(run_check("cuda.requirement", titles["cuda.requirement"], lambda: judge_requirement(ctx, image)))
    # The containers of this step need nothing from one another: they run at once, and the step takes
    # about as long as its slowest container rather than the sum of them all (starting the chosen mode's
    # first and the others once it had started was slower on an H100: 1.05 s against 0.75 s,
    # records/h100x1-2026-12-07-kit-logs/step-costs-2.txt)
    checks = [("gpu.container_runs", titles["gpu.container_runs"], lambda: check_runs(ctx, image), None)]
    for mode in gpu_access.MODES:
        if mode != ctx.params["gpu_mode"]:
            title = _("GPU through gpu_mode={mode} (not the chosen mode)").format(mode=mode)
            checks.append((f"gpu.mode.{mode}", title, lambda mode=mode: check_other_mode(ctx, image, mode), None))
    shared: dict = {}  # the container gpu.nvidia_smi and gpu.cuda_init both read: its output, or why it did not run
    checks.append(("gpu.nvidia_smi", titles["gpu.nvidia_smi"], lambda: check_nvidia_smi(ctx, image, shared), chosen))
    with ThreadPoolExecutor(max_workers=len(checks)) as pool:
        done = [pool.submit(run_check, *check) for check in checks]
        results += [f.result() for f in done]
    results.append(run_check("gpu.cuda_init", titles["gpu.cuda_init"], lambda: cuda_probe.check(shared, image)))
    seen = next(r for r in results if r.id == "gpu.nvidia_smi")
    # the host's side of the comparison, recorded whatever the outcome: the checked cell sets it beside the container's
    expected = gpu_access.selected_gpus(ctx.driver, ctx.params["gpus"]) if ctx.driver else []
    host_side = {"host": [{"name": g.name, "uuid": g.uuid} for g in expected]} if ctx.driver else None
    results.append(run_check("gpu.same_gpus", titles["gpu.same_gpus"], lambda: check_same(ctx, seen), host_side))
    results.append(run_check("gpu.cuda_version", titles["gpu.cuda_version"], lambda: check_cuda_version(ctx, seen)))
    results.append(run_check("gpu.plain_path", titles["gpu.plain_path"], lambda: check_plain_path(seen)))
    return results


def planned(ctx) -> list[ahead.Planned]:
    """The containers ``run`` starts with ctx's parameters, as it will ask for them, for a run to start
    ahead: none without the image on the engine, and none for a mode ``run`` would not try."""
    image = planned_image(ctx, "cuda_image", "base", _("CUDA base image"))
    if image is None:
        return []
    timeout_s = ctx.params["timeout_s"]
    out = [ahead.Planned(image, ECHO_OK, {}, timeout_s)]
    for mode in gpu_access.MODES:
        try:
            command, opts = mode_container(ctx, mode)
        except (Outcome, HostError):
            continue  # the check starts no container for this mode either
        out.append(ahead.Planned(image, command, opts, timeout_s))
    return out


def check_titles() -> dict[str, str]:
    """The titles of the step's checks, in the active language."""
    return {
        "cuda.requirement": _("The driver meets the image's CUDA requirement"),
        "gpu.container_runs": _("The engine runs a container of the image (no GPU)"),
        "gpu.nvidia_smi": _("nvidia-smi in a container with GPU access"),
        "gpu.cuda_init": _("CUDA initialises in the container (cuInit, cuDeviceGetCount)"),
        "gpu.same_gpus": _("The container sees the host's GPUs"),
        "gpu.cuda_version": _("The CUDA version nvidia-smi reports in the container, beside the host's"),
        "gpu.plain_path": _("nvidia-smi is on the PATH of plain images (ubuntu, debian) too"),
    }


def check_runs(ctx, image: str) -> Passed:
    try:
        out = ahead.run(ctx.client, image, ECHO_OK, timeout_s=ctx.params["timeout_s"])
    except ContainerFailed as e:
        raise from_error(e, ctx) from None
    if out.exit_code != 0 or out.output.strip() != "ok":
        raise container_failure(
            _("`sh -c 'echo ok'` exited {code} in {image}").format(code=out.exit_code, image=image), out.output, ctx
        )
    return Passed(
        _("a container of {image} ran and was removed ({seconds:.1f} s)").format(image=image, seconds=out.duration_s)
    )


def check_other_mode(ctx, image: str, mode: str) -> Passed:
    """nvidia-smi -L with another access mode: a failure is a warning, since the chosen mode is what counts."""
    try:
        command, opts = mode_container(ctx, mode)
        out = ahead.run(ctx.client, image, command, timeout_s=ctx.params["timeout_s"], options=opts)
    except (ContainerFailed, HostError) as e:
        raise as_warning(from_error(e, ctx)) from None
    gpus = host.parse_nvidia_smi_list(out.output)
    if out.exit_code != 0 or not gpus:
        raise as_warning(
            container_failure(
                ngettext(
                    "nvidia-smi -L exited {code}, {count} GPU", "nvidia-smi -L exited {code}, {count} GPUs", len(gpus)
                ).format(code=out.exit_code, count=len(gpus)),
                out.output,
                ctx,
            )
        )
    return Passed(
        ngettext("{count} GPU seen: {uuids}", "{count} GPUs seen: {uuids}", len(gpus)).format(
            count=len(gpus), uuids=", ".join(g.uuid for g in gpus)
        ),
        evidence=out.output,
        data={"uuids": [g.uuid for g in gpus]},
    )


def as_warning(outcome):
    outcome.status = Status.WARN
    return outcome


def smi_and_probe_command(with_probe: bool) -> list[str]:
    """COMMAND, then (where a CUDA probe is built) the probe in the same container: one container gives
    gpu.nvidia_smi and gpu.cuda_init their evidence, so that the step starts one GPU container fewer."""
    return cuda_probe.following(COMMAND) if with_probe else COMMAND


def run_shared(ctx, image: str, shared: dict) -> tuple[int, str]:
    """Run the container of gpu.nvidia_smi and gpu.cuda_init with the chosen mode; returns nvidia-smi's exit
    code and output, and keeps the probe's output in ``shared`` (or, when the container did not run, why)."""
    try:
        command, opts = mode_container(ctx, ctx.params["gpu_mode"])
        try:
            out = ahead.run(ctx.client, image, command, timeout_s=ctx.params["timeout_s"], options=opts)
        except ContainerFailed as e:
            raise from_error(e, ctx) from None
    except (Outcome, RunbookError) as e:
        shared["error"] = e
        raise
    shared["built"] = command is not COMMAND
    text, shared["probe"], shared["probe_exit"] = (
        cuda_probe.split(out.output) if shared["built"] else (out.output, None, None)
    )
    return out.exit_code, text


def mode_container(ctx, mode: str) -> tuple[list[str], dict]:
    """The command and the options of the container the step starts for ``mode``: the chosen mode's is the
    one gpu.nvidia_smi and gpu.cuda_init read, another mode's lists the GPUs. Raises the outcome (a skip, the
    engine's refusal: a warning for a mode that is not the chosen one) or the HostError that means the step
    starts no container for ``mode``; ``planned`` asks here too, so a plan is always a check's request."""
    chosen = mode == ctx.params["gpu_mode"]
    if not chosen and mode == "manual" and ctx.driver is None:
        raise skip(_("gpu_mode=manual binds the host driver's files: {problem}").format(problem=ctx.driver_problem))
    refused = mode_refused(ctx, mode)
    if refused:
        raise refused if chosen else as_warning(refused)
    if chosen:
        return shared_container(mode, ctx.params["gpus"], ctx.driver)
    return LIST_GPUS, gpu_access.options(mode, ctx.params["gpus"], ctx.driver)


def shared_container(mode: str, gpus: str, driver) -> tuple[list[str], dict]:
    """The command and the options of the container gpu.nvidia_smi and gpu.cuda_init read, for ``mode``."""
    probe = cuda_probe.binary()
    opts = gpu_access.options(mode, gpus, driver)
    if probe:
        opts["volumes"] = {**opts.get("volumes", {}), probe: {"bind": cuda_probe.IN_CONTAINER, "mode": "ro"}}
    return smi_and_probe_command(probe is not None), opts


def check_nvidia_smi(ctx, image: str, shared: dict) -> Passed:
    exit_code, output = run_shared(ctx, image, shared)
    if exit_code != 0:
        raise container_failure(
            _("nvidia-smi exited {code} in {image}").format(code=exit_code, image=image), output, ctx
        )
    gpus = host.parse_nvidia_smi_list(output)
    return Passed(
        ngettext(
            "{count} GPU seen in the container (gpu_mode={mode}): {names}",
            "{count} GPUs seen in the container (gpu_mode={mode}): {names}",
            len(gpus),
        ).format(count=len(gpus), mode=ctx.params["gpu_mode"], names=", ".join(g.name for g in gpus)),
        evidence=output,
        data={
            "uuids": [g.uuid for g in gpus],
            "gpus": [{"name": g.name, "uuid": g.uuid} for g in gpus],
            "devices": mig.devices_seen(output),  # MIG devices in place of their GPU
        },
    )


def check_same(ctx, seen: CheckResult) -> Passed:
    if not seen.ok:
        raise skip(
            _("nvidia-smi did not run in the container ({id}: {status})").format(id=seen.id, status=seen.status.value)
        )
    if ctx.driver is None:
        raise skip(ctx.driver_problem)
    devices = gpu_access.chosen(ctx.driver, ctx.params["gpus"])
    expected = [c.uuid for c in devices]
    inside = seen.data.get("devices", seen.data["uuids"])
    if not gpu_access.same_devices(devices, mig.host_devices(ctx.driver), inside):
        raise fail(
            _("the container sees {inside}, expected {expected} (gpus={gpus})").format(
                inside=inside or _("no GPU"), expected=expected, gpus=ctx.params["gpus"]
            ),
            cause=_("The GPU selection did not reach the container as asked."),
            remediation=_("Check NVIDIA_VISIBLE_DEVICES in the image and the gpus parameter."),
            notebook=NB_GPU,
        )
    return Passed(
        ngettext(
            "the same {count} GPU as the host: {uuids}", "the same {count} GPUs as the host: {uuids}", len(inside)
        ).format(count=len(inside), uuids=", ".join(inside)),
        data={"chosen": expected, "container": inside},
    )


def check_cuda_version(ctx, seen: CheckResult) -> Passed:
    """The article's puzzle: nvidia-smi in cuda:11.7.1-base on a 470 driver (ceiling 11.4) said 11.7.
    nvidia-smi reports the CUDA of the libcuda it loaded; an nvidia/cuda image's cuda-compat libraries,
    put in by the toolkit (forward compatibility), are newer than the driver's own."""
    if not seen.ok:
        raise skip(
            _("nvidia-smi did not run in the container ({id}: {status})").format(id=seen.id, status=seen.status.value)
        )
    if ctx.driver is None:
        raise skip(ctx.driver_problem)
    inside = readouts.parse_nvidia_smi_table(seen.evidence)["cuda_version"].value
    if inside is None:
        raise skip(_("nvidia-smi's table in the container shows no CUDA Version"))
    host_ceiling = ctx.driver.cuda_version
    data = {"container": inside, "host": host_ceiling}
    if inside == host_ceiling:
        return Passed(
            _("CUDA Version {inside} in the container, as on the host: the driver's own ceiling").format(inside=inside),
            data=data,
        )
    detail = _(
        "CUDA Version {inside} in the container, {host} on the host: the container loaded the "
        "image's cuda-compat libcuda (forward compatibility), and nvidia-smi reports the CUDA of the "
        "libcuda it loaded, not the driver's ceiling"
    ).format(inside=inside, host=host_ceiling)
    if any(g.brand in cuda.CONSUMER_BRANDS for g in ctx.driver.gpus):
        raise warn(
            _("{detail}; on a GeForce such a container fails its first CUDA call with error 804").format(detail=detail),
            data=data,
            **by_key("forward_compat").fields(),
        )
    return Passed(detail, data=data)


def check_plain_path(seen: CheckResult) -> Passed:
    """`docker run --gpus all ubuntu nvidia-smi`, the command most guides (and NVIDIA's own tests) give, finds
    nvidia-smi only where the toolkit put it in a folder of the default PATH: it mounts the driver's copy at
    the host's path, and a host that keeps its driver in /usr/local/nvidia/bin works with NVIDIA's images
    (their PATH has it) and not with plain ones."""
    if not seen.ok:
        raise skip(
            _("nvidia-smi did not run in the container ({id}: {status})").format(id=seen.id, status=seen.status.value)
        )
    where = next((line.strip() for line in reversed(seen.evidence.splitlines()) if line.strip().startswith("/")), "")
    if not where.endswith("/nvidia-smi"):
        raise skip(_("the container did not say where its nvidia-smi is (`command -v nvidia-smi`)"))
    folder = where.rsplit("/", 1)[0]
    data = {"path": where, "plain_path": ":".join(PLAIN_PATH)}
    if folder in PLAIN_PATH:
        return Passed(
            _("nvidia-smi is {path} in the container: on the default PATH, so plain images find it too").format(
                path=where
            ),
            data=data,
        )
    d = by_key("nvidia_smi_absent")
    raise warn(
        _(
            "nvidia-smi is {path} in the container, outside the default PATH ({plain}): the CUDA image finds it, "
            "`docker run --gpus all ubuntu nvidia-smi` does not (`executable file not found`)"
        ).format(path=where, plain=":".join(PLAIN_PATH)),
        data=data,
        cause=d.cause,
        remediation=_(
            "In plain images call it by its path (`{path}`) or pass `-e PATH={folder}:{plain}`. For every image: "
            "make the host's /usr/bin/nvidia-smi the driver's binary (`sudo ln -sf {path} /usr/bin/nvidia-smi` "
            "where it is a wrapper script), keep /usr/bin before {folder} on the engine's PATH, restart the engine "
            "and generate the CDI spec again: the toolkit then mounts it at /usr/bin/nvidia-smi (a driver from "
            "the distribution's packages is there already)."
        ).format(path=where, folder=folder, plain=":".join(PLAIN_PATH)),
        notebook=d.notebook,
    )
