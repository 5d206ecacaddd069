"""Step 2, the NVIDIA Container Toolkit: the plan for this host (shown; applied when toolkit_apply is
true), then what is in effect: nvidia-ctk installed, the engine's runtimes, CDI specs."""

from __future__ import annotations

import os
import shlex
import shutil
from pathlib import Path

from .. import daemon_json, engine, engine_modes, host, params, toolkit
from ..diagnosis import NB_TOOLKIT, by_key
from ..errors import EngineError, RunSetupError
from ..i18n import _, ngettext
from ..results import CheckResult, Passed, chosen, fail, run_check, skip, warn
from ..targets import FreshSystem, HostTarget
from . import Context, connect_engine, context, engine_identity, skipped


def run(progress=None, **values) -> list[CheckResult]:
    ctx = context(values)
    p = ctx.params
    os_info = host.os_release()
    plan = toolkit.install_plan(
        os_info,
        HostTarget(),
        source_of(p),
        engine_settings(ctx),
        ctx.driver.driver_version if ctx.driver else None,
        sudo_user() if p["add_docker_group"] else None,
    )
    results = [run_check("toolkit.plan", _("Install plan for this OS"), lambda: check_plan(plan, os_info))]
    results.append(
        run_check("toolkit.apply", _("Apply the install plan"), lambda: apply_plan(plan, p["toolkit_apply"]))
    )
    results.append(
        run_check("toolkit.installed", _("NVIDIA Container Toolkit installed (nvidia-ctk)"), check_installed)
    )
    if ctx.client is None:
        connect_engine(ctx)  # the plan may have started or restarted the engine
    if ctx.client is None:
        results.append(skipped("toolkit.engine_runtime", _("Engine knows the nvidia runtime"), ctx.engine_problem))
        results.append(skipped("toolkit.cdi", _("CDI specification for the GPUs"), ctx.engine_problem))
        return results
    results.append(
        run_check(
            "toolkit.engine_runtime",
            _("Engine knows the nvidia runtime"),
            lambda: check_runtime(ctx.client, p["gpu_mode"]),
        )
    )
    results.append(
        run_check(
            "toolkit.cdi",
            _("CDI specification for the GPUs"),
            lambda: check_cdi(p["gpu_mode"], ctx.driver.driver_version if ctx.driver else None),
        )
    )
    return results


def plan_for(values: dict, os_spec: str | None = None) -> toolkit.Plan:
    """The install plan with these parameters, for this host or, given ``os_spec`` (ID[:VERSION]), as
    on a fresh system of that OS. RunSetupError when that OS has no apt, dnf or zypper."""
    ctx = Context(params.validate(values))
    if os_spec:
        os_id, _sep, version = os_spec.partition(":")
        os_info, target = {"ID": os_id, "VERSION_ID": version, "PRETTY_NAME": os_spec}, FreshSystem()
    else:
        os_info, target = host.os_release(), HostTarget()
    plan = toolkit.install_plan(os_info, target, source_of(ctx.params), engine_settings(ctx, observe=not os_spec))
    if plan is None:
        raise RunSetupError(
            _("no plan for {os}: not an apt, dnf or zypper system").format(
                os=os_info.get("PRETTY_NAME") or os_info.get("ID") or _("this OS")
            )
        )
    return plan


def source_of(p: dict) -> toolkit.Source:
    return toolkit.Source(mirror=p["toolkit_mirror"], channel=p["toolkit_channel"], version=p["toolkit_version"])


def engine_settings(ctx: Context, observe: bool = True) -> toolkit.EngineSettings:
    """The engine's configuration from the parameters and, with ``observe``, from the engine that answers:
    Podman gets a CDI specification and no daemon.json; a Docker that reports itself rootless gets the
    user's daemon.json, no-cgroups and the user's service (engine_modes.plan_kind)."""
    p = ctx.params
    kind = engine_modes.plan_kind(observed_engine(ctx) if observe else None)
    rootless = p["rootless"] or kind == "docker-rootless"
    path = p["daemon_json"] or (daemon_json.rootless_path() if rootless else daemon_json.SYSTEM_PATH)
    named = {"systemd": None, "user": ["systemctl", "--user", "restart", "docker"], "none": []}
    restart = named[p["engine_restart"]] if p["engine_restart"] in named else shlex.split(p["engine_restart"])

    def engine_info() -> dict | None:
        try:
            return engine.engine_info(engine.connect(p["docker_host"], timeout=10))
        except EngineError:
            return None

    return toolkit.EngineSettings(
        daemon_json=path,
        rootless=rootless,
        set_as_default=p["set_as_default"],
        cdi=p["enable_cdi"],
        restart=restart,
        engine_info=engine_info,
        registry_mirrors=[m for m in p["registry_mirrors"].split(",") if m],
        engine="podman" if kind == "podman" else "docker",
        selinux_enforcing=host.selinux_enforcing() if observe else False,
    )


def observed_engine(ctx: Context) -> engine.Identity | None:
    """The identity of ctx's engine, or of the one that answers now; None when none does (the plan is then
    Docker's)."""
    try:
        if ctx.client is None:
            ctx.client = engine.connect(ctx.params["docker_host"], timeout=10)
        return engine_identity(ctx)
    except EngineError:
        return None


def sudo_user() -> str | None:
    """The user to add to the docker group: the one who ran sudo (root itself needs no group)."""
    user = os.environ.get("SUDO_USER") or host.docker_group_access().user
    return None if user == "root" else user


def check_plan(plan, os_info: dict) -> Passed:
    if plan is None:
        raise warn(
            _("no install plan for {os}: not an apt, dnf or zypper system").format(
                os=os_info.get("PRETTY_NAME") or _("this OS")
            ),
            remediation=_("Follow NVIDIA's install guide for the container toolkit for this distribution."),
        )
    evidence = plan.text()
    if shutil.which("dockerd") is None and shutil.which("docker") is None:
        engine_steps = toolkit.docker_engine_plan(os_info)
        if engine_steps:
            evidence = (
                "# "
                + _("Docker Engine is not installed: first install it from Docker's repository")
                + "\n"
                + "\n".join(engine_steps)
                + "\n"
                + evidence
            )
    return Passed(
        ngettext(
            "{manager} plan for {os}: {count} step", "{manager} plan for {os}: {count} steps", len(plan.steps)
        ).format(manager=plan.manager, os=plan.os_name, count=len(plan.steps)),
        evidence=evidence,
        data={"manager": plan.manager, "commands": plan.commands()},
    )


def apply_plan(plan, wanted: bool) -> Passed:
    if not wanted:
        raise chosen(_("toolkit_apply is false: the plan is shown, nothing was changed"))
    if plan is None:
        raise skip(_("no plan for this OS"))
    if os.geteuid() != 0:
        raise fail(
            _("applying the plan needs root"),
            remediation=_("Run the runbook with sudo, or apply the plan's commands by hand."),
            notebook=NB_TOOLKIT,
        )
    lines: list[str] = []
    done = toolkit.apply(plan, HostTarget(), log=lines.append)
    applied = sum(1 for d in done if d.outcome == "applied")
    if applied == 0:
        return Passed(
            _("nothing to change: all {count} steps were already in effect").format(count=len(done)),
            evidence="\n".join(lines),
        )
    return Passed(
        ngettext(
            "{applied} step applied and checked, {kept} already in effect",
            "{applied} steps applied and checked, {kept} already in effect",
            applied,
        ).format(applied=applied, kept=len(done) - applied),
        evidence="\n".join(lines),
    )


def check_installed() -> Passed:
    """nvidia-ctk answers; whether nvidia-container-cli is there too is said, since without it only the
    legacy hook path fails (its error is diagnosed as container_cli_missing)."""
    version = toolkit.ctk_version()
    if version is None:
        raise fail(
            _("nvidia-ctk not found: the NVIDIA Container Toolkit is not installed"),
            cause=_("Without the toolkit the engine cannot give containers a GPU (`--gpus` fails)."),
            remediation=_("Apply the install plan (toolkit.plan; toolkit_apply=true). {fix}").format(
                fix=by_key("toolkit_missing").remediation
            ),
            notebook=NB_TOOLKIT,
        )
    cli = shutil.which("nvidia-container-cli")
    if cli is None:
        return Passed(
            _(
                "nvidia-ctk {version}; no nvidia-container-cli (libnvidia-container-tools): the legacy hook path "
                "(--gpus with runc as the engine's runtime) cannot work here; CDI and the nvidia runtime can"
            ).format(version=version),
            data={"version": version, "nvidia_container_cli": None},
        )
    return Passed(f"nvidia-ctk {version}", data={"version": version, "nvidia_container_cli": cli})


def check_runtime(client, mode: str) -> Passed:
    info = engine.engine_info(client)
    if engine.identify(engine.engine_version(client), info).engine == "podman":
        raise skip(_("Podman has no nvidia runtime to register: it takes GPUs through CDI (gpu_mode=cdi)"))
    runtimes = sorted((info.get("Runtimes") or {}).keys())
    if "nvidia" in runtimes:
        return Passed(
            _("runtimes: {runtimes} (default: {default})").format(
                runtimes=", ".join(runtimes), default=info.get("DefaultRuntime")
            ),
            data={"runtimes": runtimes},
        )
    d = by_key("runtime_unknown")
    detail = _("no nvidia runtime; the engine has {runtimes}").format(runtimes=", ".join(runtimes) or _("none"))
    if mode == "runtime":
        raise fail(detail, cause=d.cause, remediation=d.remediation, notebook=NB_TOOLKIT)
    raise warn(
        _("{detail} (only gpu_mode=runtime needs it; --gpus uses the toolkit's hook)").format(detail=detail),
        remediation=d.remediation,
        notebook=NB_TOOLKIT,
    )


def check_cdi(mode: str, driver_version: str | None) -> Passed:
    specs = toolkit.cdi_specs()
    d = by_key("cdi_unresolvable")
    if specs:
        stale = [s for s in specs if not toolkit.cdi_spec_current(Path(s).read_bytes(), driver_version)]
        if stale:
            raise warn(
                _("CDI spec(s) {specs} were generated for another driver than {version}").format(
                    specs=", ".join(stale), version=driver_version
                ),
                cause=_("The driver was upgraded after the spec was generated: its library paths are stale."),
                remediation=d.remediation,
                notebook=NB_TOOLKIT,
            )
        return Passed(_("NVIDIA CDI spec(s): {specs}").format(specs=", ".join(specs)), data={"specs": specs})
    detail = _("no CDI spec for nvidia.com/gpu in /etc/cdi or /var/run/cdi")
    if mode == "cdi":
        raise fail(detail, cause=d.cause, remediation=d.remediation, notebook=NB_TOOLKIT)
    raise warn(
        _("{detail} (only gpu_mode=cdi needs one)").format(detail=detail),
        remediation=d.remediation,
        notebook=NB_TOOLKIT,
    )
