"""MIG (Multi-Instance GPU): which GPUs are split, and the MIG devices a container can be given.

- ``nvidia-smi -q -x`` says each GPU's MIG mode (``mig_mode/current_mig``; ``pending_mig`` is the mode after
  the next GPU reset); ``N/A`` is a GPU without MIG (``host.Gpu.mig_mode`` is then '');
- ``nvidia-smi -L`` lists each MIG device under its GPU (``  MIG 1g.10gb     Device  0: (UUID: MIG-…)``): the
  only place its UUID is printed; drivers before R470 printed ``MIG-GPU-<gpu uuid>/<gi>/<ci>`` instead;
- a MIG device is named ``<gpu>:<device>`` (nvidia-smi's index form, which the toolkit takes in
  NVIDIA_VISIBLE_DEVICES and ``nvidia-ctk cdi generate`` names ``nvidia.com/gpu=0:1``) or by its UUID;
- what a container's ``nvidia-smi -L`` shows are its devices: a GPU's MIG devices where it lists some, else
  the GPU itself (``devices_seen``);
- the runbook never enables, disables or re-partitions MIG: a change of mode takes a GPU reset, which stops
  every process on that GPU, and the partitions are the operator's plan (``nvidia-smi mig``, mig-parted).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from . import LIST_LINE, DriverInfo, nvidia_smi_output

MIG_LINE = re.compile(r"^\s+MIG (\S+)\s+Device\s+(\d+): \(UUID: (MIG-[^)\s]+)\)")


@dataclass(frozen=True)
class MigDevice:
    gpu: int  # the index of its GPU
    index: int  # its index on that GPU
    profile: str  # 1g.10gb, 3g.40gb, ...
    uuid: str

    @property
    def name(self) -> str:
        """The index form a selection uses: '0:1'."""
        return f"{self.gpu}:{self.index}"


def parse_list(text: str) -> list[MigDevice]:
    """The MIG devices of ``nvidia-smi -L``, each with the index of the GPU line above it."""
    devices, gpu = [], None
    for line in text.splitlines():
        m = LIST_LINE.match(line)
        if m:
            gpu = int(m.group(1))
            continue
        m = MIG_LINE.match(line)
        if m and gpu is not None:
            devices.append(MigDevice(gpu, int(m.group(2)), m.group(1), m.group(3)))
    return devices


def devices_seen(text: str) -> list[str]:
    """The UUIDs of the devices ``nvidia-smi -L`` shows: each GPU's MIG devices where it lists any, else the
    GPU's own UUID (a container given one MIG device lists its GPU too, with only that device under it)."""
    seen: list[tuple[str, list[str]]] = []
    for line in text.splitlines():
        m = LIST_LINE.match(line)
        if m:
            seen.append((m.group(3), []))
            continue
        m = MIG_LINE.match(line)
        if m and seen:
            seen[-1][1].append(m.group(3))
    return [uuid for gpu, migs in seen for uuid in (migs or [gpu])]


def enabled(driver: DriverInfo | None) -> bool:
    """Whether any GPU of the driver's answer runs in MIG mode."""
    return driver is not None and any(g.mig_mode == "Enabled" for g in driver.gpus)


def host_devices(driver: DriverInfo | None, listing: str | None = None) -> list[MigDevice]:
    """The host's MIG devices: asked of ``nvidia-smi -L`` (or read from ``listing``) only where a GPU runs
    in MIG mode; [] otherwise, or when nvidia-smi does not answer."""
    if listing is None:
        if not enabled(driver):
            return []
        listing = nvidia_smi_output("-L") or ""
    return parse_list(listing)
