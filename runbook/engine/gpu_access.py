"""GPU access modes: how a container is given the GPU, as keyword arguments for containers.create.

- ``gpus``: ``--gpus`` (a DeviceRequest); the article's way. Needs the NVIDIA Container Toolkit.
- ``runtime``: ``--runtime=nvidia`` with NVIDIA_VISIBLE_DEVICES. Needs the toolkit configured in the engine.
- ``cdi``: ``--device nvidia.com/gpu=…``. Needs Docker >= 25 with CDI and a generated spec.
- ``manual``: the driver's device nodes and user-space files put in by hand, read-only. Needs only the
  driver: the rung that tells a broken toolkit from a broken driver or cgroup setup.

The ``gpus`` parameter names the devices, the same way in every mode: ``all``, indices (``0,1``), UUIDs
(``GPU-…``), MIG devices by index (``0:1``) or UUID (``MIG-…``). ``--gpus device=…`` and NVIDIA_VISIBLE_DEVICES
pass the names on as written (the toolkit reads each form); in CDI mode each is a device of the spec
``nvidia-ctk cdi generate`` writes, whose default naming (index and UUID) gives every GPU and MIG device both
names under ``nvidia.com/gpu`` (``nvidia.com/gpu=0:1``, ``nvidia.com/gpu=MIG-…``; there is no ``nvidia.com/mig``
kind). Where the driver answered, a name the host lacks is an error before any container starts, saying what
the host has. Manual mode gives whole GPUs only: a MIG device needs, besides its GPU's node, the capability
nodes of its GPU and compute instances (``/dev/nvidia-caps/nvidia-cap<minor>``, minors from
``/proc/driver/nvidia-caps/mig-minors``), which the toolkit finds through NVML
(``internal/platform-support/dgpu/nvml.go``, ``internal/nvcaps``): that is the toolkit's work, not a rung's.
"""

from __future__ import annotations

import glob
import os
import platform
import subprocess
from dataclasses import dataclass, field

from docker.types import DeviceRequest

from .. import host
from ..diagnosis import NB_PREFLIGHT
from ..errors import HostError
from ..host import mig
from ..i18n import _

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


@dataclass(frozen=True)
class Chosen:
    """A device the ``gpus`` parameter names, as the host knows it."""

    id: str  # as the parameter wrote it
    index: str  # '0', or '0:1' for a MIG device
    uuid: str  # GPU-… or MIG-…
    name: str  # the GPU's name, with the MIG profile for a MIG device
    gpu: host.Gpu  # the GPU itself, or the MIG device's GPU

    @property
    def is_mig(self) -> bool:
        return self.uuid != self.gpu.uuid


def names_mig(item: str) -> bool:
    return ":" in item or item.startswith("MIG-")


def chosen(driver: host.DriverInfo, selection: str = "all", migs: list[mig.MigDevice] | None = None) -> list[Chosen]:
    """The host's devices that ``gpus=selection`` names, in its order; a HostError that says what the host
    has when it names one the host lacks. The MIG devices are asked of the host only when it names one."""
    ids = selected_ids(selection)
    if ids is None:
        return [Chosen(str(g.index), str(g.index), g.uuid, g.name, g) for g in driver.gpus]
    if migs is None:
        migs = mig.host_devices(driver) if any(names_mig(i) for i in ids) else []
    gpus = {str(g.index): g for g in driver.gpus}
    found, unknown = [], []
    for item in ids:
        gpu = gpus.get(item) or next((g for g in driver.gpus if g.uuid == item), None)
        device = next((d for d in migs if item in (d.name, d.uuid) and str(d.gpu) in gpus), None)
        if gpu is not None:
            found.append(Chosen(item, str(gpu.index), gpu.uuid, gpu.name, gpu))
        elif device is not None:
            parent = gpus[str(device.gpu)]
            name = f"{parent.name} MIG {device.profile}"
            found.append(Chosen(item, device.name, device.uuid, name, parent))
        else:
            unknown.append(item)
    if unknown:
        has = [f"{g.index} ({g.uuid})" for g in driver.gpus] + [f"{d.name} ({d.uuid})" for d in migs]
        raise HostError(
            _("gpus={selection} names {unknown}, which this host does not have; it has {devices}").format(
                selection=selection, unknown=", ".join(unknown), devices=", ".join(has) or _("no GPU")
            ),
            cause=_("The gpus parameter names a GPU index or UUID (or MIG device) that nvidia-smi does not list."),
            remediation=_("Pick indices or UUIDs from `nvidia-smi -L` (a MIG device as 0:1 or its MIG-… UUID)."),
            notebook=NB_PREFLIGHT,
        )
    return found


def selected_gpus(driver: host.DriverInfo, selection: str = "all") -> list[host.Gpu]:
    """The host's GPUs a container is given with ``gpus=selection`` (a MIG device's GPU for a MIG device),
    each once: the GPUs it should see; [] when the selection names a device the host lacks."""
    try:
        devices = chosen(driver, selection)
    except HostError:
        return []
    return list({c.gpu.index: c.gpu for c in devices}.values())


def same_devices(devices: list[Chosen], migs: list[mig.MigDevice], seen: list[str]) -> bool:
    """Whether a container's devices (``mig.devices_seen`` of its ``nvidia-smi -L``) are exactly the chosen
    ones, by UUID: a MIG device as itself; a whole GPU that has MIG devices as itself or as all of them."""
    rest = list(seen)
    for c in devices:
        parts = [] if c.is_mig else [d.uuid for d in migs if d.gpu == c.gpu.index]
        option = next((o for o in ([c.uuid], parts) if o and all(u in rest for u in o)), None)
        if option is None:
            return False
        for u in option:
            rest.remove(u)
    return not rest


def cuda_visible(driver: host.DriverInfo | None, selection: str) -> str | None:
    """CUDA_VISIBLE_DEVICES for a process on the host given the first chosen device (CUDA takes an index or
    a GPU-…/MIG-… UUID, not the 0:1 form); None for 'all'."""
    ids = selected_ids(selection)
    if not ids:
        return None
    if driver is None or not names_mig(ids[0]):
        return ids[0]
    try:
        return chosen(driver, ids[0])[0].uuid
    except HostError:
        return ids[0]


def options(mode: str, selection: str = "all", driver: host.DriverInfo | None = None) -> dict:
    """containers.create keyword arguments giving a container the selected GPUs by ``mode``; a HostError
    first when the driver answered and the selection names a device it lacks."""
    ids = selected_ids(selection)
    if ids is not None and driver is not None and mode != "manual":
        chosen(driver, selection)
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
        soname, _paren, flags = name.partition(" (")
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
    devices = chosen(driver, selection)
    migs = [c for c in devices if c.is_mig]
    if migs:
        raise HostError(
            _("gpu_mode=manual gives whole GPUs only, and gpus={selection} names MIG device(s) {names}").format(
                selection=selection, names=", ".join(c.id for c in migs)
            ),
            cause=_(
                "A MIG device needs the capability nodes of its GPU and compute instances besides its GPU's node; "
                "the NVIDIA Container Toolkit finds them through NVML, the manual rung does not."
            ),
            remediation=_("Use gpu_mode=gpus, runtime or cdi for a MIG device, or name its whole GPU here."),
            notebook=NB_PREFLIGHT,
        )
    mounts = ManualMounts()
    for g in {c.gpu.index: c.gpu for c in devices}.values():
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
