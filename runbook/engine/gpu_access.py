"""GPU access modes: how a container is given the GPU, as keyword arguments for containers.create.

- ``gpus``: ``--gpus`` (a DeviceRequest); the article's way. Needs the NVIDIA Container Toolkit.
- ``runtime``: ``--runtime=nvidia`` with NVIDIA_VISIBLE_DEVICES. Needs the toolkit configured in the engine.
- ``cdi``: ``--device nvidia.com/gpu=…``. Needs Docker >= 25 with CDI and a generated spec.
- ``manual``: the driver's device nodes and user-space files put in by hand, read-only. Needs only the
  driver: the rung that tells a broken toolkit from a broken driver or cgroup setup.
"""

from __future__ import annotations

import glob
import os
import platform
import subprocess
from dataclasses import dataclass, field

from docker.types import DeviceRequest

from .. import host
from ..errors import HostError

MODES = ("gpus", "runtime", "cdi", "manual")
CAPABILITIES = "compute,utility"

# The driver's user-space libraries a CUDA program and nvidia-smi load, by soname.
REQUIRED_LIBS = ("libnvidia-ml.so.1", "libcuda.so.1")
OPTIONAL_LIBS = (
    "libnvidia-ptxjitcompiler.so.1",
    "libnvidia-nvvm.so.4",
    "libcudadebugger.so.1",
    "libnvidia-cfg.so.1",
    "libnvidia-allocator.so.1",
)
CONTROL_NODES = ("/dev/nvidiactl", "/dev/nvidia-uvm", "/dev/nvidia-uvm-tools", "/dev/nvidia-modeset")


def selected_ids(selection: str) -> list[str] | None:
    """None for 'all', else the listed indices/UUIDs."""
    return None if selection == "all" else selection.split(",")


def selected_gpus(driver: host.DriverInfo, selection: str = "all") -> list[host.Gpu]:
    """The host's GPUs a container is given with ``gpus=selection``: the GPUs it should see."""
    ids = selected_ids(selection)
    return [g for g in driver.gpus if ids is None or str(g.index) in ids or g.uuid in ids]


def options(mode: str, selection: str = "all", driver: host.DriverInfo | None = None) -> dict:
    """containers.create keyword arguments giving a container the selected GPUs by ``mode``."""
    ids = selected_ids(selection)
    env = {"NVIDIA_DRIVER_CAPABILITIES": CAPABILITIES}
    if mode == "gpus":
        req = (
            DeviceRequest(count=-1, capabilities=[["gpu"]])
            if ids is None
            else DeviceRequest(device_ids=ids, capabilities=[["gpu"]])
        )
        return {"device_requests": [req], "environment": env}
    if mode == "runtime":
        env["NVIDIA_VISIBLE_DEVICES"] = "all" if ids is None else ",".join(ids)
        return {"runtime": "nvidia", "environment": env}
    if mode == "cdi":
        names = ["nvidia.com/gpu=all"] if ids is None else [f"nvidia.com/gpu={i}" for i in ids]
        return {"device_requests": [DeviceRequest(driver="cdi", device_ids=names)]}
    if mode == "manual":
        return manual_mounts(selection, driver).options()
    raise ValueError(f"gpu_mode must be one of {', '.join(MODES)}, not {mode!r}")


@dataclass
class ManualMounts:
    devices: list[str] = field(default_factory=list)  # host paths of device nodes
    files: dict[str, str] = field(default_factory=dict)  # host file (real path) -> path in the container

    def options(self) -> dict:
        return {
            "devices": [f"{d}:{d}:rwm" for d in self.devices],
            "volumes": {src: {"bind": dst, "mode": "ro"} for src, dst in self.files.items()},
        }


def multiarch_libdir() -> str:
    """Where Debian and Ubuntu images (nvidia/cuda, pytorch/pytorch) keep libraries: /usr/lib/<triplet>."""
    return f"/usr/lib/{platform.machine()}-linux-gnu"


def ldconfig_cache(text: str | None = None) -> dict[str, list[str]]:
    """soname -> paths from ``ldconfig -p`` (the loader's cache), for this machine's word size."""
    if text is None:
        exe = "/sbin/ldconfig" if os.path.exists("/sbin/ldconfig") else "ldconfig"
        try:
            text = subprocess.run([exe, "-p"], capture_output=True, text=True, timeout=30).stdout
        except (OSError, subprocess.TimeoutExpired):
            text = ""
    cache: dict[str, list[str]] = {}
    for line in text.splitlines()[1:]:
        name, sep, path = line.strip().partition(" => ")
        if not sep:
            continue
        soname, _, flags = name.partition(" (")
        if platform.machine() == "x86_64" and "x86-64" not in flags:
            continue
        cache.setdefault(soname.strip(), []).append(path.strip())
    return cache


def find_library(soname: str, cache: dict[str, list[str]]) -> str | None:
    """The file the host's loader would load for ``soname``: LD_LIBRARY_PATH first, then its cache."""
    for d in filter(None, os.environ.get("LD_LIBRARY_PATH", "").split(":")):
        p = os.path.join(d, soname)
        if os.path.exists(p):
            return p
    for p in cache.get(soname, []):
        if os.path.exists(p):
            return p
    return None


def manual_mounts(
    selection: str, driver: host.DriverInfo | None, cache: dict[str, list[str]] | None = None
) -> ManualMounts:
    """The device nodes and driver files for the selected GPUs, found on this host."""
    if driver is None:
        raise HostError(
            "gpu_mode=manual needs the host's NVIDIA driver, and nvidia-smi was not found",
            cause="No NVIDIA driver on the host.",
            remediation="Install the NVIDIA driver first.",
            notebook="01-preflight.ipynb",
        )
    ids = selected_ids(selection)
    gpus = driver.gpus if ids is None else [g for g in driver.gpus if str(g.index) in ids or g.uuid in ids]
    if ids is not None and len(gpus) != len(ids):
        known = ", ".join(f"{g.index} ({g.uuid})" for g in driver.gpus)
        raise HostError(
            f"gpus={selection} names a GPU the host does not have; it has {known}",
            remediation="Pick indices or UUIDs from nvidia-smi -L.",
        )
    mounts = ManualMounts()
    for g in gpus:
        if g.minor_number is None:
            raise HostError(f"nvidia-smi reported no minor number for GPU {g.index}, so its /dev node is unknown")
        mounts.devices.append(f"/dev/nvidia{g.minor_number}")
    mounts.devices += [d for d in CONTROL_NODES if os.path.exists(d)]
    mounts.devices += sorted(glob.glob("/dev/nvidia-caps/nvidia-cap*"))
    missing = [d for d in mounts.devices if not os.path.exists(d)]
    if missing:
        raise HostError(
            f"device nodes missing on the host: {', '.join(missing)}",
            cause="The NVIDIA kernel modules are not loaded, or the nodes were never created.",
            remediation="Load the modules (`sudo modprobe nvidia nvidia-uvm`) or run `nvidia-smi` once as root.",
        )
    smi = host.driver_nvidia_smi()
    if smi:
        mounts.files[smi] = "/usr/bin/nvidia-smi"
    cache = ldconfig_cache() if cache is None else cache
    libdir = multiarch_libdir()
    gpucomp = f"libnvidia-gpucomp.so.{driver.driver_version}"
    for soname in REQUIRED_LIBS + OPTIONAL_LIBS + (gpucomp,):
        path = find_library(soname, cache)
        if path is None:
            if soname in REQUIRED_LIBS:
                raise HostError(
                    f"the driver library {soname} was not found by the host's loader",
                    cause="The NVIDIA driver's user-space libraries are missing or not in the loader's path.",
                    remediation="Reinstall the driver; check `ldconfig -p | grep nvidia`.",
                )
            continue
        mounts.files[os.path.realpath(path)] = f"{libdir}/{soname}"
    return mounts
