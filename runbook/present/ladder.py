"""The GPU access ladder: from "the host driver works" up to "PyTorch in the image computes right",
one rung per layer, read from a run's checks. The first rung that does not work names the layer to fix.

GPU access by hand (``manual``) needs only the driver; the toolkit's modes (``gpus``, ``runtime``,
``cdi``) need the NVIDIA Container Toolkit as well, so a host where the manual rung works and ``gpus``
does not has a toolkit problem, not a driver or cgroup one. What each mode means on the run's engine
(and which modes an engine cannot take: Podman's --gpus) is runbook/engine/modes.py's table.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..engine.modes import RUNG_NAMES
from ..i18n import N_, _, translate
from ..results import ORDER, CheckResult, Status

RUNGS: tuple[tuple[str, tuple[str, ...]], ...] = (  # the names are message ids, shown translated
    (N_("The host's NVIDIA driver works"), ("host.driver",)),
    (
        N_("The GPUs are healthy (ECC, memory repair, reset, clocks, PCIe, XID)"),
        (
            "health.persistence",
            "health.ecc",
            "health.memory",
            "health.reset",
            "health.clocks",
            "health.pcie",
            "health.xid",
            "health.dcgm",
        ),
    ),
    (N_("A registry or mirror answers for each image (the network)"), ("network.registries",)),
    (N_("The engine runs a container"), ("gpu.container_runs",)),
    *((RUNG_NAMES[mode], (f"mode:{mode}",)) for mode in ("manual", "gpus", "runtime", "cdi")),
    (N_("CUDA initialises in the container (cuInit)"), ("gpu.cuda_init",)),
    (N_("The image's CUDA requirement is met by the driver"), ("cuda.requirement",)),
    (N_("PyTorch in the image sees the GPU and computes right"), ("pytorch.cuda_available", "pytorch.matmul")),
)


@dataclass
class Rung:
    name: str
    status: Status | None  # None: none of its checks ran
    check: CheckResult | None  # the check that decided the status


def chosen_mode(by_id: dict[str, CheckResult]) -> str | None:
    """The run's gpu_mode, as step 3 recorded it with its nvidia-smi check."""
    seen = by_id.get("gpu.nvidia_smi")
    return seen.data.get("mode") if seen else None


def ladder(checks: list[CheckResult]) -> list[Rung]:
    by_id = {c.id: c for c in checks}
    chosen = chosen_mode(by_id)
    rungs = []
    for name, ids in RUNGS:
        found = []
        for i in ids:
            if i.startswith("mode:"):
                mode = i[5:]
                i = "gpu.nvidia_smi" if mode == chosen else f"gpu.mode.{mode}"
            if i in by_id:
                found.append(by_id[i])
        worst = max(found, key=lambda c: ORDER[c.status], default=None)
        rungs.append(Rung(translate(name), worst.status if worst else None, worst))
    return rungs


def first_broken(rungs: list[Rung]) -> Rung | None:
    """The first rung that was tried and failed: a break on the run's own path to the GPU."""
    return next((r for r in rungs if r.status is Status.FAIL), None)


def first_warning(rungs: list[Rung]) -> Rung | None:
    """The first rung that works only with a warning, or is an access mode the run did not choose and
    that does not work (say --gpus, when gpu_mode=manual reached the GPU without the toolkit)."""
    return next((r for r in rungs if r.status is Status.WARN), None)


def headline(rungs: list[Rung]) -> tuple[str, Rung | None]:
    """What the ladder says first: the break on the run's own path, else the first alternative or
    warning that does not work, else that all is well; with the rung it is about."""
    broken = first_broken(rungs)
    if broken:
        return _("first rung that does not work"), broken
    warned = first_warning(rungs)
    if warned:
        return _("every rung on this run's path works; the first that does not (a warning)"), warned
    if not any(r.status is Status.PASS for r in rungs):
        return _("no rung of the GPU access ladder was observed (the steps that ran check none of them)"), None
    return _("every rung that was tried works"), None
