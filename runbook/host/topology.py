"""``nvidia-smi topo -m``: how each pair of GPUs is connected, as data.

- the matrix's first line names its columns (GPU0 … GPUn, then NICs such as mlx5_0 or NIC0, then CPU Affinity,
  NUMA Affinity, GPU NUMA ID); each GPU row gives the link to each column's device: ``X`` (itself), ``NV#``
  (a bonded set of # NVLinks), else a PCIe path, nearest first: ``PIX``, ``PXB``, ``PHB``, ``NODE``, ``SYS``
  (``SOC`` in old drivers);
- the rows of NICs and the legend are not links between GPUs and are left out; the underline codes nvidia-smi
  prints on a terminal are removed; nvidia-smi's empty cells (a doubled tab) in the affinity columns are
  dropped;
- a host with one GPU has no pair: ``pairs`` is empty, which the check reports as a skip, never a pass.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ..i18n import _

ESCAPES = re.compile(r"\x1b\[[0-9;]*m")
GPU_NAME = re.compile(r"^GPU(\d+)$")


@dataclass
class Topology:
    gpus: list[int] = field(default_factory=list)  # the GPU indices of the matrix, in its order
    links: dict[tuple[int, int], str] = field(default_factory=dict)  # (i, j) -> NV12, SYS, ... for i != j
    affinity: dict[int, dict[str, str]] = field(default_factory=dict)  # GPU -> {"CPU Affinity": "0-63", ...}

    def pairs(self) -> list[tuple[int, int, str]]:
        """Each pair of GPUs once (i < j) with its link as GPU i's row says it."""
        return [(i, j, link) for (i, j), link in sorted(self.links.items()) if i < j]

    def data(self) -> dict:
        """As JSON: links keyed 'i-j'."""
        return {
            "gpus": self.gpus,
            "links": {f"{i}-{j}": link for i, j, link in self.pairs()},
            "affinity": {str(k): v for k, v in self.affinity.items()},
        }


def parse(text: str) -> Topology:
    """The GPU-to-GPU part of ``nvidia-smi topo -m``; an empty Topology when there is no matrix in ``text``."""
    lines = [ESCAPES.sub("", line) for line in text.splitlines()]
    header = next((line.split("\t") for line in lines if "GPU0" in line.split("\t")), None)
    topo = Topology()
    if header is None:
        return topo
    columns = [c.strip() for c in header[1:]]
    gpu_columns = [int(m.group(1)) for m in map(GPU_NAME.match, columns) if m]
    devices = [c for c in columns if c and not c.endswith(("Affinity", "NUMA ID"))]
    extra = columns[len(devices) :]
    for line in lines:
        cells = line.split("\t")
        m = GPU_NAME.match(cells[0].strip())
        if not m or len(cells) < len(devices) + 1:
            continue
        i = int(m.group(1))
        topo.gpus.append(i)
        for j, cell in zip(gpu_columns, cells[1 : len(gpu_columns) + 1], strict=True):
            if i != j:
                topo.links[(i, j)] = cell.strip()
        rest = [c.strip() for c in cells[len(devices) + 1 :] if c.strip()]
        topo.affinity[i] = dict(zip(extra, rest, strict=False))
    return topo


def describe(link: str) -> str:
    """A link of the matrix in words, as nvidia-smi's legend has it."""
    m = re.fullmatch(r"NV(\d+)", link)
    if m:
        return _("{count} bonded NVLinks").format(count=m.group(1))
    words = {
        "PIX": _("PCIe, at most one PCIe bridge"),
        "PXB": _("PCIe, several PCIe bridges, no host bridge"),
        "PHB": _("PCIe and a PCIe host bridge (the CPU)"),
        "NODE": _("PCIe and the interconnect between host bridges of one NUMA node"),
        "SYS": _("PCIe and the interconnect between NUMA nodes (QPI/UPI)"),
        "SOC": _("PCIe and the interconnect between NUMA nodes (QPI/UPI)"),
    }
    return words.get(link, link)
