"""Step 3's CUDA driver-API probe (gpu.cuda_init): a small C program (runbook/workloads/cuda_probe.c) bound
into the CUDA image read-only and run after nvidia-smi in gpu.nvidia_smi's container, and its answer judged."""

from __future__ import annotations

import re

from .. import workloads
from ..diagnosis import NB_GPU
from ..i18n import _
from ..results import Passed, fail, skip

MARK = "== gpu-runbook: the CUDA probe"  # after the first command's output, before the probe's
IN_CONTAINER = "/run/gpu-runbook/cuda_probe"
GLIBC_TOO_OLD = re.compile(r"GLIBC_2\.\d+' not found")


def following(command: list[str]) -> list[str]:
    """``command`` (an ``sh -c`` command), then the probe in the same container, after a line of its own and
    followed by its exit code; the container exits with ``command``'s code. One stream: the engine logs
    stdout and stderr apart, and an error could come after the probe's line."""
    probe = f'echo "{MARK}"; {IN_CONTAINER}; echo "{MARK} exit $?"'
    return ["sh", "-c", f"exec 2>&1; {command[-1]}; s=$?; {probe}; exit $s"]


def split(output: str) -> tuple[str, str | None, int | None]:
    """The output of a ``following`` command as (the first command's, the probe's, the probe's exit code):
    the probe's is None when its line never came (the container stopped before), its code None when only
    that is missing."""
    head, mark, rest = output.partition(MARK + "\n")
    if not mark:
        return output, None, None
    end = re.search(rf"^{re.escape(MARK)} exit (\d+)\s*\Z", rest, re.MULTILINE)
    if end is None:
        return head, rest, None
    return head, rest[: end.start()], int(end.group(1))


def errors() -> dict[int, tuple[str, str]]:
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


def binary() -> str | None:
    """The CUDA probe built for this machine's architecture, or None when there is none."""
    import platform
    from importlib import resources

    path = resources.files("runbook.workloads").joinpath(f"cuda_probe.{platform.machine()}")
    return str(path) if path.is_file() else None


def check(shared: dict, image: str) -> Passed:
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
    return judge(-1 if code is None else code, shared["probe"] or "", image)


def judge(exit_code: int, output: str, image: str) -> Passed:
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
        cause, fix = errors().get(
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
