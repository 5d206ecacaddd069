"""The engine configured for the toolkit: daemon.json merged (never losing a setting), the runtime's
options, the CDI specification, and a restart that is checked against what the engine then reports.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shlex
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from ..errors import DaemonJsonError
from ..i18n import _
from . import daemon_json
from .plan import Step, run_ok
from .state import CDI_SPEC, cdi_spec_current

RUNTIME_CONFIG = "/etc/nvidia-container-runtime/config.toml"


@dataclass
class EngineSettings:
    """How the engine is configured for the toolkit and restarted afterwards."""

    daemon_json: str = daemon_json.SYSTEM_PATH
    rootless: bool = False
    set_as_default: bool = False
    cdi: bool = False
    registry_mirrors: list[str] = field(default_factory=list)
    restart: list[str] | None = None  # argv; None: systemd (the user's service when rootless); []: no restart
    engine_info: Callable[[], dict | None] | None = None  # the engine's `info`, None while it does not answer
    engine: str = "docker"  # "docker" or "podman" (engine_modes.plan_kind): what there is to configure
    selinux_enforcing: bool = False  # on the host the plan is for (Podman's CDI containers need label=disable)

    def changes(self) -> dict:
        """What ``nvidia-ctk runtime configure`` with these options merges into daemon.json."""
        return daemon_json.nvidia_runtime(set_as_default=self.set_as_default, cdi=self.cdi)


@dataclass
class Change:
    path: str  # the file changed (a symlink's target)
    changed: bool
    backup: str | None


def configure(target, path: str, changes: dict, now: dt.datetime | None = None) -> Change:
    """Merge ``changes`` into the daemon.json at ``path`` on ``target`` (created when absent), after a
    timestamped backup; a file that already holds them is left byte for byte. Nothing is written when
    the file cannot be parsed (DaemonJsonError)."""
    new = daemon_json.updated(read(target, path), changes, path)
    if new is None:
        return Change(path, False, None)
    try:
        real, backup = target.replace(path, new, now)
    except OSError as e:
        raise DaemonJsonError(
            _("cannot write {path}: {error}; the old file is unchanged").format(path=path, error=e.strerror),
            remediation=_("{fix} Free space if the disk is full.").format(fix=_access_fix()),
        ) from None
    return Change(real, True, backup)


def read(target, path: str) -> bytes | None:
    """daemon.json's content on the target (None: no file); what cannot be read is a DaemonJsonError."""
    try:
        return target.read(path)
    except OSError as e:
        raise DaemonJsonError(
            _("cannot read {path}: {error}; nothing was changed").format(path=path, error=e.strerror),
            remediation=_access_fix(),
        ) from None


def _access_fix() -> str:
    return _("Run as root (sudo).") if os.geteuid() != 0 else _("Check the path and the file system (read-only?).")


def in_effect(settings: EngineSettings, info: dict | None) -> bool:
    """Whether the engine's ``info`` shows every setting the configuration makes: the nvidia runtime, the
    default runtime, CDI and the registry mirrors (an engine that does not answer shows none)."""
    if not info:
        return False
    if "nvidia" not in (info.get("Runtimes") or {}):
        return False
    if settings.set_as_default and info.get("DefaultRuntime") != "nvidia":
        return False
    if settings.cdi and not info.get("CDISpecDirs"):
        return False
    mirrors = {m.rstrip("/") for m in (info.get("RegistryConfig") or {}).get("Mirrors") or []}
    return all(m.rstrip("/") in mirrors for m in settings.registry_mirrors)


def restart_argv(settings: EngineSettings) -> list[str]:
    if settings.restart is not None:
        return settings.restart
    return ["systemctl", "--user", "restart", "docker"] if settings.rootless else ["systemctl", "restart", "docker"]


def configure_command(settings: EngineSettings) -> str:
    """``nvidia-ctk runtime configure`` as a person would type it for these settings."""
    flags = " --set-as-default" if settings.set_as_default else ""
    flags += " --cdi.enabled" if settings.cdi else ""
    if settings.rootless or settings.daemon_json != daemon_json.SYSTEM_PATH:
        flags += f" --config={shlex.quote(settings.daemon_json)}"
    return f"{'' if settings.rootless else 'sudo '}nvidia-ctk runtime configure --runtime=docker{flags}"


def mirrors_step(settings: EngineSettings) -> Step:
    """The registry mirrors, a step of their own: nvidia-ctk has no option for them, so by hand they are
    an edit of daemon.json, shown with the exact lines to add."""
    path = settings.daemon_json
    changes = daemon_json.registry_mirrors(settings.registry_mirrors)
    fragment = json.dumps(changes)[1:-1]
    editor = "${EDITOR:-vi}" if settings.rootless else "sudoedit"

    def write(t) -> None:
        change = configure(t, path, changes)
        if change.backup:
            print("  " + _("{path} backed up to {backup}").format(path=path, backup=change.backup))

    return Step(
        _(
            "add the registry mirrors to {path} (after those already there); applied by the runbook as the "
            "same merge, after a backup (by hand: add this line)"
        ).format(path=path),
        f"{editor} {shlex.quote(path)}  # {fragment}",
        done=lambda t: daemon_json.updated(t.read(path), changes, path) is None,
        do=write,
    )


PODMAN_CDI_SPEC = "/etc/cdi/nvidia.yaml"  # where NVIDIA's Podman instructions put it


def podman_steps(settings: EngineSettings, driver_version: str | None = None) -> list[Step]:
    """Podman has no daemon to configure or restart: it reads CDI specifications itself, at each container."""
    return [
        Step(
            _(
                "generate the CDI specification Podman reads (no daemon.json, no restart: Podman resolves CDI "
                "devices itself; again after every driver upgrade, or let nvidia-cdi-refresh.service do it)"
            ),
            f"sudo nvidia-ctk cdi generate --output={PODMAN_CDI_SPEC}",
            done=lambda t: cdi_spec_current(t.read(PODMAN_CDI_SPEC), driver_version),
            do=lambda t: run_ok(
                t, ["nvidia-ctk", "cdi", "generate", f"--output={PODMAN_CDI_SPEC}"], "nvidia-ctk cdi generate"
            ),
        )
    ]


def engine_notes(settings: EngineSettings) -> list[str]:
    """What the plan cannot do for this engine, said beside its steps."""
    notes = []
    if settings.engine == "podman":
        notes.append(
            _(
                "Podman takes GPUs only through CDI (gpu_mode=cdi, `podman run --device nvidia.com/gpu=all`); "
                "it ignores --gpus and --runtime=nvidia over its Docker-compatible API"
            )
        )
        if settings.selinux_enforcing:
            notes.append(
                _(
                    "SELinux is enforcing: run GPU containers with `--security-opt label=disable`, or the "
                    "container cannot open the device nodes"
                )
            )
    if settings.engine == "docker" and settings.rootless:
        notes.append(
            _(
                "rootless Docker: the runtime runs without cgroup access (no-cgroups), so device limits are "
                "not enforced by cgroups; the configuration is the user's, at {path}"
            ).format(path=settings.daemon_json)
        )
    return notes


def engine_steps(settings: EngineSettings, driver_version: str | None = None) -> list[Step]:
    if settings.engine == "podman":
        return podman_steps(settings, driver_version)
    changes = settings.changes()
    path = settings.daemon_json

    def configured(t) -> bool:
        return daemon_json.updated(read(t, path), changes, path) is None

    def write(t) -> None:
        change = configure(t, path, changes)
        if change.backup:
            print("  " + _("{path} backed up to {backup}").format(path=path, backup=change.backup))

    steps = [
        Step(
            _(
                "register the nvidia runtime in {path}; applied by the runbook as a merge that keeps every "
                "other setting, after a timestamped backup (by hand: this command)"
            ).format(path=path),
            configure_command(settings),
            done=configured,
            do=write,
        )
    ]
    if settings.registry_mirrors:
        steps.append(mirrors_step(settings))
    if settings.rootless:
        steps.append(
            Step(
                _("let the runtime work without cgroup access (rootless)"),
                "sudo nvidia-ctk config --set nvidia-container-cli.no-cgroups --in-place",
                done=lambda t: b"no-cgroups = true" in (t.read(RUNTIME_CONFIG) or b""),
                do=lambda t: run_ok(
                    t,
                    ["nvidia-ctk", "config", "--set", "nvidia-container-cli.no-cgroups", "--in-place"],
                    "nvidia-ctk config",
                ),
            )
        )
    if settings.cdi:
        steps.append(
            Step(
                _("generate the CDI specification of the GPUs (again after every driver upgrade)"),
                f"sudo nvidia-ctk cdi generate --output={CDI_SPEC}",
                done=lambda t: cdi_spec_current(t.read(CDI_SPEC), driver_version),
                do=lambda t: run_ok(
                    t, ["nvidia-ctk", "cdi", "generate", f"--output={CDI_SPEC}"], "nvidia-ctk cdi generate"
                ),
            )
        )
    argv = restart_argv(settings)
    if argv:
        steps.append(_restart_step(settings, argv))
    return steps


def _restart_step(settings: EngineSettings, argv: list[str]) -> Step:
    """The restart is in effect when the engine reports every setting of the configuration."""

    def reported(t) -> bool:
        return settings.engine_info is not None and in_effect(settings, settings.engine_info())

    def restart(t) -> None:
        run_ok(t, argv, _("restarting the engine"))
        for _attempt in range(60):  # the engine takes a moment to answer again
            if reported(t):
                return
            time.sleep(1)

    sudo = "" if settings.rootless or argv != ["systemctl", "restart", "docker"] else "sudo "
    why = _("restart the engine so that it reads the new configuration and finds the toolkit")
    if argv[0] != "systemctl":
        why = _(
            "restart the engine so that it reads the new configuration and finds the toolkit (a command of your "
            "own, allowed by allow_restart_command: it runs as root, without a shell)"
        )
    return Step(why, sudo + " ".join(shlex.quote(a) for a in argv), done=reported, do=restart)
