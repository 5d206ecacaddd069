"""Step 3, the GPU in a container: run nvidia-smi in a CUDA base image with the chosen GPU access mode,
and try the other access modes too, so that the record shows which rungs of the ladder work."""

from __future__ import annotations

import re
import threading
from concurrent.futures import ThreadPoolExecutor

from .. import engine, host, workloads
from ..diagnosis import NB_GPU, by_key
from ..engine import gpu_access
from ..errors import ContainerFailed, HostError, RunbookError
from ..host import cuda, mig, readouts
from ..i18n import _, ngettext
from ..results import CheckResult, Outcome, Passed, Status, fail, run_check, skip, warn
from . import container_failure, context, from_error, mode_refused, skipped
from .images import choose_and_pull, judge_requirement

# the table, the list, then where the nvidia-smi that ran lives in the container (gpu.plain_path reads it)
COMMAND = ["sh", "-c", "nvidia-smi && echo && nvidia-smi -L && echo && command -v nvidia-smi"]
PROBE_MARK = "== gpu-runbook: the CUDA probe"  # after COMMAND's output, before the probe's
LIST_GPUS = ["nvidia-smi", "-L"]
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
    # The containers of this step need nothing from one another: they run side by side, and the step takes
    # about as long as its slowest container rather than the sum of them all. The chosen mode's container
    # starts first and alone (its start, the toolkit's hook, is what engines serialise); the others start
    # once it has.
    shared: dict = {}  # the container gpu.nvidia_smi and gpu.cuda_init both read: its output, or why it did not run
    started = threading.Event()
    smi = ("gpu.nvidia_smi", titles["gpu.nvidia_smi"], lambda: check_nvidia_smi(ctx, image, shared, started), chosen)
    checks = [("gpu.container_runs", titles["gpu.container_runs"], after(started, ctx, lambda: check_runs(ctx, image)))]
    for mode in gpu_access.MODES:
        if mode != ctx.params["gpu_mode"]:
            title = _("GPU through gpu_mode={mode} (not the chosen mode)").format(mode=mode)
            other = after(started, ctx, lambda mode=mode: check_other_mode(ctx, image, mode))
            checks.append((f"gpu.mode.{mode}", title, other))
    with ThreadPoolExecutor(max_workers=len(checks) + 1) as pool:
        first = pool.submit(run_check, *smi)
        done = [pool.submit(run_check, *check) for check in checks]
        results += [f.result() for f in done] + [first.result()]
    results.append(run_check("gpu.cuda_init", titles["gpu.cuda_init"], lambda: check_cuda_init(shared, image)))
    seen = next(r for r in results if r.id == "gpu.nvidia_smi")
    # the host's side of the comparison, recorded whatever the outcome: the checked cell sets it beside the container's
    expected = gpu_access.selected_gpus(ctx.driver, ctx.params["gpus"]) if ctx.driver else []
    host_side = {"host": [{"name": g.name, "uuid": g.uuid} for g in expected]} if ctx.driver else None
    results.append(run_check("gpu.same_gpus", titles["gpu.same_gpus"], lambda: check_same(ctx, seen), host_side))
    results.append(run_check("gpu.cuda_version", titles["gpu.cuda_version"], lambda: check_cuda_version(ctx, seen)))
    results.append(run_check("gpu.plain_path", titles["gpu.plain_path"], lambda: check_plain_path(seen)))
    return results


def after(started: threading.Event, ctx, check):
    """``check``, once the chosen mode's container has started (or could not), or timeout_s has passed."""

    def waiting():
        started.wait(ctx.params["timeout_s"])
        return check()

    return waiting


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
        out = engine.run(ctx.client, image, ["sh", "-c", "echo ok"], timeout_s=ctx.params["timeout_s"])
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
    if mode == "manual" and ctx.driver is None:
        raise skip(_("gpu_mode=manual binds the host driver's files: {problem}").format(problem=ctx.driver_problem))
    refused = mode_refused(ctx, mode)
    if refused:
        raise as_warning(refused)
    try:
        opts = gpu_access.options(mode, ctx.params["gpus"], ctx.driver)
        out = engine.run(ctx.client, image, LIST_GPUS, timeout_s=ctx.params["timeout_s"], options=opts)
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
    """COMMAND, then (where a CUDA probe is built) the probe in the same container, after a line of its own
    and followed by its exit code: one container gives gpu.nvidia_smi and gpu.cuda_init their evidence, so
    that the step starts one GPU container fewer. The container exits with COMMAND's code."""
    if not with_probe:
        return COMMAND
    probe = f'echo "{PROBE_MARK}"; {PROBE_IN_CONTAINER}; echo "{PROBE_MARK} exit $?"'
    # one stream: the engine logs stdout and stderr apart, and an error could come after the probe's line
    return ["sh", "-c", f"exec 2>&1; {COMMAND[-1]}; s=$?; {probe}; exit $s"]


def split_probe(output: str) -> tuple[str, str | None, int | None]:
    """The output of smi_and_probe_command as (COMMAND's, the probe's, the probe's exit code); the probe's
    is None when its line never came (the container stopped before), its code None when only that is missing."""
    head, mark, rest = output.partition(PROBE_MARK + "\n")
    if not mark:
        return output, None, None
    end = re.search(rf"^{re.escape(PROBE_MARK)} exit (\d+)\s*\Z", rest, re.MULTILINE)
    if end is None:
        return head, rest, None
    return head, rest[: end.start()], int(end.group(1))


def run_shared(ctx, image: str, shared: dict, started: threading.Event | None = None) -> tuple[int, str]:
    """Run the container of gpu.nvidia_smi and gpu.cuda_init with the chosen mode; returns nvidia-smi's exit
    code and output, and keeps the probe's output in ``shared`` (or, when the container did not run, why)."""
    try:
        refused = mode_refused(ctx, ctx.params["gpu_mode"])
        if refused:
            raise refused
        command, opts = shared_container(ctx.params["gpu_mode"], ctx.params["gpus"], ctx.driver)
        try:
            out = engine.run(
                ctx.client, image, command, timeout_s=ctx.params["timeout_s"], options=opts, started=started
            )
        except ContainerFailed as e:
            raise from_error(e, ctx) from None
    except (Outcome, RunbookError) as e:
        shared["error"] = e
        raise
    shared["built"] = command is not COMMAND
    text, shared["probe"], shared["probe_exit"] = (
        split_probe(out.output) if shared["built"] else (out.output, None, None)
    )
    return out.exit_code, text


def shared_container(mode: str, gpus: str, driver) -> tuple[list[str], dict]:
    """The command and the options of the container gpu.nvidia_smi and gpu.cuda_init read, for ``mode``."""
    probe = probe_binary()
    opts = gpu_access.options(mode, gpus, driver)
    if probe:
        opts["volumes"] = {**opts.get("volumes", {}), probe: {"bind": PROBE_IN_CONTAINER, "mode": "ro"}}
    return smi_and_probe_command(probe is not None), opts


def check_nvidia_smi(ctx, image: str, shared: dict, started: threading.Event | None = None) -> Passed:
    try:
        exit_code, output = run_shared(ctx, image, shared, started)
    finally:
        if started is not None:  # also when no container was started (a refused mode)
            started.set()
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


PROBE_IN_CONTAINER = "/run/gpu-runbook/cuda_probe"
GLIBC_TOO_OLD = re.compile(r"GLIBC_2\.\d+' not found")


def cuda_errors() -> dict[int, tuple[str, str]]:
    """CUDA driver API error codes (cuda.h's CUresult) that a container's cuInit returns, with what
    usually causes each and its fix."""
    return {
        100: (
            _("CUDA_ERROR_NO_DEVICE: the container sees no GPU although libcuda.so.1 is there."),
            _("Check the GPU selection (gpus, NVIDIA_VISIBLE_DEVICES) and that /dev/nvidia0 is in the container."),
        ),
        999: (
            _(
                "CUDA_ERROR_UNKNOWN: usually a device node the container may not open (device cgroup rules dropped "
                "after `systemctl daemon-reload`) or /dev/nvidia-uvm missing (the nvidia-uvm module not loaded)."
            ),
            _("Run `sudo nvidia-modprobe -u -c=0` on the host and start a new container; see gpu.nvidia_smi."),
        ),
        803: (
            _(
                "CUDA_ERROR_SYSTEM_DRIVER_MISMATCH: the libcuda.so.1 in the container is not the running kernel "
                "module's version (the image's cuda-compat package, or a driver upgraded without a reboot)."
            ),
            _("Reboot after a driver upgrade; use an image whose CUDA the host driver supports without compat."),
        ),
        804: (
            _(
                "CUDA_ERROR_COMPAT_NOT_SUPPORTED_ON_DEVICE: forward compatibility was attempted on a GPU that "
                "does not support it (GeForce, most workstation GPUs)."
            ),
            _("Pick an image whose CUDA version the host driver supports natively, or upgrade the driver."),
        ),
        34: (
            _(
                "CUDA_ERROR_STUB_LIBRARY: the container loaded the CUDA toolkit's stub libcuda (from the image) "
                "instead of the driver's."
            ),
            _("Take the stubs folder out of LD_LIBRARY_PATH and ld.so.conf: the toolkit injects the real one."),
        ),
        35: (
            _("CUDA_ERROR_INSUFFICIENT_DRIVER: the driver is older than the CUDA the call needs."),
            _("Upgrade the host driver."),
        ),
    }


def probe_binary() -> str | None:
    """The CUDA probe built for this machine's architecture, or None when there is none."""
    import platform
    from importlib import resources

    path = resources.files("runbook.workloads").joinpath(f"cuda_probe.{platform.machine()}")
    return str(path) if path.is_file() else None


def check_cuda_init(shared: dict, image: str) -> Passed:
    """cuInit and cuDeviceGetCount in the container, through the driver API (libcuda.so.1), beside
    nvidia-smi (NVML): a toolkit can give a working nvidia-smi while CUDA itself cannot start. The probe
    is a small C program bound in read-only: the CUDA base image has no Python and needs no compiler. It
    runs in gpu.nvidia_smi's container, after nvidia-smi and whatever nvidia-smi's exit code."""
    if "error" in shared:  # the container did not run: neither check observed anything else
        raise shared["error"]
    if not shared:
        raise skip(_("the container of gpu.nvidia_smi did not run"))
    if not shared["built"]:
        import platform

        raise skip(_("no CUDA probe is built for {machine}").format(machine=platform.machine()))
    code = shared["probe_exit"]
    return judge_cuda_probe(-1 if code is None else code, shared["probe"] or "", image)


def judge_cuda_probe(exit_code: int, output: str, image: str) -> Passed:
    result = workloads.parse(output)
    if result is None:
        if GLIBC_TOO_OLD.search(output):
            raise skip(_("the CUDA probe needs glibc 2.34 or newer; {image} has an older one").format(image=image))
        raise fail(
            _("the CUDA probe printed no result in {image} (exit {code})").format(image=image, code=exit_code),
            cause=_("The probe could not run in the container; its output (evidence) says why."),
            remediation=_("Read the output; make sure gpu.nvidia_smi passes first."),
            notebook=NB_GPU,
            evidence=output,
        )
    if result.get("call") in ("dlopen", "dlsym"):
        raise fail(
            _("libcuda.so.1 cannot be loaded in the container: {error}").format(error=result.get("error", "")),
            cause=_(
                "The toolkit did not put the driver's CUDA library into the container: the image or the access "
                "mode asks for the `utility` capability (nvidia-smi) but not `compute`."
            ),
            remediation=_("Set NVIDIA_DRIVER_CAPABILITIES=compute,utility (or all); check the toolkit with step 2."),
            notebook=NB_GPU,
            evidence=output,
            data=result,
        )
    if result.get("code") != 0:
        cause, fix = cuda_errors().get(
            result.get("code"),
            (
                _("CUDA's {call} returned {code} ({name}).").format(
                    call=result.get("call"), code=result.get("code"), name=result.get("name") or "?"
                ),
                _("Look the error up in the CUDA driver API's CUresult list; compare with gpu.nvidia_smi."),
            ),
        )
        raise fail(
            _("{call} failed in the container: {code} {name}").format(
                call=result.get("call"), code=result.get("code"), name=result.get("name") or ""
            ),
            cause=cause,
            remediation=fix,
            notebook=NB_GPU,
            evidence=output,
            data=result,
        )
    return Passed(
        _("cuInit and cuDeviceGetCount succeed: {count} device(s), driver API {version}").format(
            count=result.get("devices"), version=result.get("driver_api")
        ),
        evidence=output,
        data=result,
    )


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
