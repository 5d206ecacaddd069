"""What each GPU access mode means on each engine: one table, read by step 3 and 4 (before a container is
asked for a GPU), the ladder (its rungs' names) and the toolkit plan (what to configure).

- a row is (engine, mode, from version, below version): the first row that matches an engine's identity
  and a mode decides; versions compare as numbers ("26.1.5+dfsg1" is 26.1.5)
- a row that ``works`` says how the engine gives the GPU that way and what it needs; one that does not
  says why, and the fix: the check fails before any container runs, since an engine that ignores the
  request would start a container without a GPU
- Podman's Docker-compatible API ignores ``--gpus`` device requests and ``Runtime=nvidia`` (seen: Podman
  4.3.1 ran such containers with no /dev/nvidia* and no error), and takes CDI device requests from 5.4
- Docker's CDI needs Docker 25 or newer with ``features.cdi`` (on by default from 28.2); an engine whose
  ``info`` says CDI is off (``CDISpecDirs`` empty) fails the cdi mode the same way
- an engine the table does not know (neither Docker nor Podman) is tried: every GPU check still compares
  the GPUs in the container with the host's, so a container without a GPU never passes
"""

from __future__ import annotations

from dataclasses import dataclass

from ..i18n import N_, translate
from . import Identity, version_tuple

RUNG_NAMES = {  # the ladder's rung of each mode (message ids, shown translated)
    "manual": N_("GPU reachable by hand (gpu_mode=manual: device nodes and driver files bound in)"),
    "gpus": N_("GPU through the toolkit: --gpus (gpu_mode=gpus)"),
    "runtime": N_("GPU through the toolkit: --runtime=nvidia (gpu_mode=runtime)"),
    "cdi": N_("GPU through the toolkit: CDI (gpu_mode=cdi)"),
}

PODMAN_GPUS = N_("Podman ignores --gpus device requests; use gpu_mode=cdi")
PODMAN_RUNTIME = N_("Podman ignores Runtime=nvidia over its Docker-compatible API; use gpu_mode=cdi")
PODMAN_OLD_CDI = N_(
    "Podman takes CDI devices over its Docker-compatible API only from 5.4; this one would start the "
    "container without the GPU"
)
DOCKER_OLD_CDI = N_("Docker takes CDI devices only from version 25")
CDI_OFF = N_("CDI is off in this engine (its info shows no CDI spec directories)")

CDI_SPEC_FIX = N_(
    "Generate the CDI specification (`sudo nvidia-ctk cdi generate --output=/etc/cdi/nvidia.yaml`, or enable "
    "nvidia-cdi-refresh.service), and run with gpu_mode=cdi."
)


@dataclass(frozen=True)
class Row:
    engine: str  # "docker", "podman", "*" (any)
    mode: str
    since: tuple[int, ...]  # the first version the row is for
    until: tuple[int, ...] | None  # the first version it is no longer for
    works: bool
    means: str  # how the engine gives the GPU this way (works) or why it cannot (does not work); message id
    fix: str = ""  # message id: what to do instead (rows that do not work) or what the mode needs


TABLE: tuple[Row, ...] = (
    Row(
        "*",
        "manual",
        (),
        None,
        True,
        N_("the driver's device nodes and files bound in by the runbook"),
        N_("Needs only the NVIDIA driver on the host."),
    ),
    Row("podman", "gpus", (), None, False, PODMAN_GPUS, CDI_SPEC_FIX),
    Row("podman", "runtime", (), None, False, PODMAN_RUNTIME, CDI_SPEC_FIX),
    Row(
        "podman",
        "cdi",
        (),
        (5, 4),
        False,
        PODMAN_OLD_CDI,
        N_("Upgrade Podman to 5.4 or newer, or use the manual mode (gpu_mode=manual)."),
    ),
    Row("podman", "cdi", (5, 4), None, True, N_("CDI devices, which Podman resolves natively"), CDI_SPEC_FIX),
    Row(
        "docker",
        "gpus",
        (),
        (29, 2),
        True,
        N_("a device request the daemon hands to nvidia-container-runtime-hook (or the nvidia default runtime)"),
        N_("Needs the NVIDIA Container Toolkit installed before the engine (re)started."),
    ),
    Row(
        "docker",
        "gpus",
        (29, 2),
        None,
        True,
        N_(
            "a device request the daemon turns into CDI devices when nvidia-cdi-hook is on its PATH, else "
            "hands to nvidia-container-runtime-hook"
        ),
        N_("Needs the NVIDIA Container Toolkit installed before the engine (re)started."),
    ),
    Row(
        "docker",
        "runtime",
        (),
        None,
        True,
        N_("the nvidia runtime registered in daemon.json"),
        N_("Needs `nvidia-ctk runtime configure --runtime=docker` and a restart."),
    ),
    Row(
        "docker",
        "cdi",
        (),
        (25,),
        False,
        DOCKER_OLD_CDI,
        N_("Upgrade Docker to 25 or newer (CDI on by default from 28.2), or use gpu_mode=gpus."),
    ),
    Row(
        "docker",
        "cdi",
        (25,),
        (28, 2),
        True,
        N_("CDI devices, resolved by the daemon (features.cdi)"),
        N_("Needs features.cdi in daemon.json (enable_cdi) and a generated CDI specification."),
    ),
    Row(
        "docker",
        "cdi",
        (28, 2),
        None,
        True,
        N_("CDI devices, resolved by the daemon (CDI on by default)"),
        N_("Needs a generated CDI specification."),
    ),
    Row("*", "gpus", (), None, True, N_("a device request; this engine is not one the runbook knows"), ""),
    Row("*", "runtime", (), None, True, N_("the nvidia runtime; this engine is not one the runbook knows"), ""),
    Row("*", "cdi", (), None, True, N_("CDI devices; this engine is not one the runbook knows"), ""),
)


@dataclass(frozen=True)
class Support:
    """What a mode means on one engine: whether the runbook may ask for the GPU so, and in words."""

    mode: str
    engine: str  # the engine's name and version, as the user sees it
    works: bool
    means: str  # translated
    fix: str  # translated


def row_for(identity: Identity, mode: str) -> Row:
    have = version_tuple(identity.version)
    for row in TABLE:
        if row.mode == mode and row.engine in (identity.engine, "*") and have >= row.since:
            if row.until is None or have < row.until:
                return row
    raise ValueError(f"no row for gpu_mode={mode!r}")


def support(identity: Identity, mode: str) -> Support:
    """What ``mode`` means on the engine of ``identity`` (the table's row, and the engine's own CDI switch)."""
    row = row_for(identity, mode)
    works, means, fix = row.works, translate(row.means), translate(row.fix) if row.fix else ""
    if works and mode == "cdi" and identity.engine == "docker" and identity.cdi_enabled is False:
        works, means = False, translate(CDI_OFF)
        fix = translate(N_("Set features.cdi in daemon.json (enable_cdi=true) and restart the engine."))
    return Support(mode, identity.name, works, means, fix)


def plan_kind(identity: Identity | None) -> str:
    """How the toolkit plan configures this engine: "docker" (daemon.json, restart), "docker-rootless" (the
    user's daemon.json, no-cgroups, the user's service) or "podman" (no daemon: a CDI specification)."""
    if identity is None or identity.engine not in ("docker", "podman"):
        return "docker"
    if identity.engine == "podman":
        return "podman"
    return "docker-rootless" if identity.rootless else "docker"
