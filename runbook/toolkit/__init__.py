"""The NVIDIA Container Toolkit: the plan that installs it and configures the engine, and what of it is
in effect. The plan is shown first and applied only when asked; each step is idempotent and checked.

- ``plan``: steps, plans and applying them through a target
- ``repos``: the package repositories and the package steps (apt, dnf, yum, zypper)
- ``systems``: the OS names ``plan --os`` takes (image names, os-release ids) and their package manager
- ``engine_config``: daemon.json, the runtime's options, CDI, the engine's restart (Docker, rootful or
  rootless); Podman's CDI specification
- ``state``: nvidia-ctk's version and the CDI specifications on this host
- ``cdi``: the CDI spec's driver and cdiVersion, the refresh units
- ``security``: the packages' versions judged against the bulletins, leftovers of older installs
- ``bulletins``: NVIDIA's security bulletins and the versions they affect
- ``versions``: versions compared as dpkg and rpm compare them
- ``daemon_json``: the engine's daemon.json, parsed, merged and written (pure)
- ``targets``: where a plan acts (this host, a chroot, a container), with atomic writes and backups
- ``docker_install``: Docker Engine's own install commands, shown when no engine is installed
"""

from __future__ import annotations

from .docker_install import docker_engine_plan
from .engine_config import EngineSettings, engine_notes, engine_steps
from .plan import Applied, Plan, Step, apply, docker_group_step
from .repos import Source, apt_steps, rpm_steps
from .state import cdi_spec_current, cdi_specs, ctk_version
from .systems import package_manager

__all__ = [
    "Applied",
    "EngineSettings",
    "Plan",
    "Source",
    "Step",
    "apply",
    "cdi_spec_current",
    "cdi_specs",
    "ctk_version",
    "docker_engine_plan",
    "engine_steps",
    "install_plan",
    "package_manager",
]


def install_plan(
    os_info: dict[str, str],
    target,
    source: Source | None = None,
    engine: EngineSettings | None = None,
    driver_version: str | None = None,
    docker_group_user: str | None = None,
) -> Plan | None:
    """The steps that install the toolkit on ``target`` (and, given ``engine``, configure the engine);
    None for an OS without apt, dnf or zypper."""
    manager = package_manager(os_info)
    if manager is None:
        return None
    source = source or Source()
    plan = Plan(manager, os_info.get("PRETTY_NAME", os_info.get("ID", "?")))
    plan.steps = apt_steps(target, source) if manager == "apt" else rpm_steps(manager, source)
    if engine is not None:
        plan.steps += engine_steps(engine, driver_version)
        plan.notes += engine_notes(engine)
    if docker_group_user:
        plan.steps.append(docker_group_step(docker_group_user))
    return plan
