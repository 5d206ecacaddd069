"""Step 2, the NVIDIA Container Toolkit: the plan for this host (shown; applied when toolkit_apply is
true), then what is in effect: nvidia-ctk installed, the engine's runtimes, CDI specs."""

from __future__ import annotations

import os
import shlex
import shutil
from pathlib import Path

from .. import engine, host, params, toolkit
from ..diagnosis import NB_TOOLKIT, by_key
from ..engine import modes as engine_modes
from ..errors import EngineError, RunbookError, RunSetupError
from ..i18n import _, ngettext
from ..network import mirrors
from ..results import CheckResult, Passed, chosen, fail, run_check, skip, warn
from ..toolkit import bulletins, cdi, daemon_json
from ..toolkit.targets import FreshSystem, HostTarget
from . import Context, connect_engine, context, engine_identity, skipped
from .toolkit_security import refuse_vulnerable, security_checks, vulnerable_version_text


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
    version = p["toolkit_version"]
    results = [run_check("toolkit.plan", _("Install plan for this OS"), lambda: check_plan(plan, os_info, version))]
    results.append(
        run_check("toolkit.apply", _("Apply the install plan"), lambda: apply_plan(plan, p["toolkit_apply"], version))
    )
    results.append(
        run_check("toolkit.installed", _("NVIDIA Container Toolkit installed (nvidia-ctk)"), check_installed)
    )
    results += security_checks(HostTarget(), source_of(p))
    if ctx.client is None:
        connect_engine(ctx)  # the plan may have started or restarted the engine
    if ctx.client is None:
        results.append(skipped("toolkit.engine_runtime", _("Engine knows the nvidia runtime"), ctx.engine_problem))
        results.append(skipped("toolkit.cdi", _("CDI specification for the GPUs"), ctx.engine_problem))
        results.append(cdi_refresh_result())
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
            lambda: check_cdi(
                p["gpu_mode"], ctx.driver.driver_version if ctx.driver else None, engine_version(ctx.client)
            ),
        )
    )
    results.append(cdi_refresh_result())
    return results


def engine_version(client) -> str:
    try:
        return str(engine.engine_info(client).get("ServerVersion") or "")
    except EngineError:
        return ""


def cdi_refresh_result() -> CheckResult:
    def check() -> Passed:
        systemd = cdi.systemd_running()
        try:
            ctk = toolkit.ctk_version()
        except RunbookError:
            ctk = None
        states = {u: cdi.unit_state(u) for u in cdi.REFRESH_UNITS} if systemd and ctk else {}
        return check_cdi_refresh(systemd, ctk, states)

    return run_check("toolkit.cdi_refresh", _("The CDI spec is refreshed after driver upgrades"), check)


def plan_for(values: dict, os_spec: str | None = None) -> toolkit.Plan:
    """The install plan with these parameters, for this host or, given ``os_spec`` (ID[:VERSION]), as
    on a fresh system of that OS. RunSetupError when the toolkit's repository does not serve that OS."""
    ctx = Context(params.validate(values))
    if os_spec:
        os_info, target = toolkit.systems.os_info(os_spec), FreshSystem()
    else:
        os_info, target = host.os_release(), HostTarget()
    plan = toolkit.install_plan(os_info, target, source_of(ctx.params), engine_settings(ctx, observe=not os_spec))
    if plan is None:
        raise RunSetupError(
            _("no plan for {os}: not an apt, dnf or zypper system").format(
                os=os_info.get("PRETTY_NAME") or os_info.get("ID") or _("this OS")
            )
        )
    rows = bulletins.affecting(ctx.params["toolkit_version"], plan.manager) if ctx.params["toolkit_version"] else []
    if rows:
        raise RunSetupError(vulnerable_version_text(ctx.params["toolkit_version"], rows))
    return plan


def source_of(p: dict) -> toolkit.Source:
    return toolkit.Source(
        mirror=mirrors.resolve("toolkit_mirror", p["toolkit_mirror"]),
        channel=p["toolkit_channel"],
        version=p["toolkit_version"],
    )


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
        registry_mirrors=kept_mirrors(p),
        engine="podman" if kind == "podman" else "docker",
        selinux_enforcing=host.selinux_enforcing() if observe else False,
    )


def kept_mirrors(p: dict) -> list[str]:
    """The registry mirrors asked for (a preset's candidates or the URLs given) that answer, in order:
    a mirror that does not answer would make every Docker Hub pull wait on it first."""
    candidates = mirrors.registry_candidates(p["registry_mirrors"])
    return mirrors.answering(candidates, p["probe_timeout_s"])[0] if candidates else []


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


def check_plan(plan, os_info: dict, version: str = "") -> Passed:
    if version:
        refuse_vulnerable(version, plan.manager if plan else "apt")
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


def apply_plan(plan, wanted: bool, version: str = "") -> Passed:
    if not wanted:
        raise chosen(_("toolkit_apply is false: the plan is shown, nothing was changed"))
    if plan is None:
        raise skip(_("no plan for this OS"))
    if version and bulletins.affecting(version, plan.manager):
        raise skip(_("the plan pins a vulnerable version ({version}): nothing was applied").format(version=version))
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


def check_cdi(mode: str, driver_version: str | None, engine_version: str = "") -> Passed:
    """The NVIDIA CDI specs: present, generated for the running driver, in a cdiVersion the engine reads."""
    specs = toolkit.cdi_specs()
    d = by_key("cdi_unresolvable")
    if not specs:
        detail = _("no CDI spec for nvidia.com/gpu in /etc/cdi or /var/run/cdi")
        if mode == "cdi":
            raise fail(detail, cause=d.cause, remediation=d.remediation, notebook=NB_TOOLKIT)
        raise warn(
            _("{detail} (only gpu_mode=cdi needs one)").format(detail=detail),
            remediation=d.remediation,
            notebook=NB_TOOLKIT,
        )
    seen, stale, unreadable, unknown = [], [], [], []
    for path in specs:
        doc = cdi.load(Path(path).read_text(errors="replace"))
        if doc is None:
            unreadable.append(_("{spec} (not valid YAML or JSON)").format(spec=path))
            continue
        version, spec_version = cdi.driver_version(doc), cdi.cdi_version(doc)
        seen.append({"spec": path, "driver_version": version, "cdi_version": spec_version})
        if version is None:
            unknown.append(path)
        elif driver_version and version != driver_version:
            stale.append(_("{spec} (driver {version})").format(spec=path, version=version))
        if cdi.readable(spec_version, engine_version) is False:
            unreadable.append(
                _("{spec} (cdiVersion {cdi_version}; Docker {engine} reads up to {highest})").format(
                    spec=path, cdi_version=spec_version, engine=engine_version, highest=cdi.engine_reads(engine_version)
                )
            )
    data = {"specs": seen, "driver_version": driver_version, "engine_version": engine_version}
    if stale:
        raise fail(
            _("CDI spec(s) generated for another driver than the running {version}: {specs}").format(
                version=driver_version, specs=", ".join(stale)
            ),
            cause=_(
                "The driver was upgraded after the spec was generated: `--device nvidia.com/gpu=all` (and, on Docker "
                "29.2 and newer, plain `--gpus`) fails or puts the old driver's libraries into the container."
            ),
            remediation=_(
                "Regenerate it: `sudo nvidia-ctk cdi generate --output=/var/run/cdi/nvidia.yaml` (with toolkit 1.18 "
                "and newer: `sudo systemctl restart nvidia-cdi-refresh.service`)."
            ),
            notebook=NB_TOOLKIT,
            data=data,
        )
    if unreadable:
        raise fail(
            _("the engine cannot read CDI spec(s): {specs}").format(specs=", ".join(unreadable)),
            cause=_("The engine skips a spec it cannot parse, so its devices are unresolvable."),
            remediation=_(
                "Upgrade Docker Engine to 26.1 or newer, or regenerate the spec with the installed nvidia-ctk "
                "(`sudo nvidia-ctk cdi generate --output=/var/run/cdi/nvidia.yaml`)."
            ),
            notebook=NB_TOOLKIT,
            data=data,
        )
    if unknown or not driver_version:
        raise warn(
            _("CDI spec(s) {specs}: which driver they were generated for cannot be told").format(
                specs=", ".join(unknown or specs)
            ),
            remediation=d.remediation,
            notebook=NB_TOOLKIT,
            data=data,
        )
    return Passed(
        _("NVIDIA CDI spec(s) for driver {version}: {specs}").format(
            version=driver_version,
            specs=", ".join(f"{s['spec']} (cdiVersion {s['cdi_version']})" for s in seen),
        ),
        data=data,
    )


def check_cdi_refresh(systemd: bool, ctk: str | None, states: dict[str, tuple[str, str]]) -> Passed:
    """The toolkit's units that regenerate the CDI spec after a driver upgrade (toolkit 1.18 and newer)."""
    if not systemd:
        raise skip(_("systemd does not run here: the CDI refresh units cannot run"))
    if ctk is None:
        raise skip(_("the toolkit is not installed"))
    enabled, active = states.get("nvidia-cdi-refresh.path", ("unknown", "unknown"))
    data = {unit: {"enabled": e, "active": a} for unit, (e, a) in states.items()}
    if enabled == "not-found":
        raise warn(
            _("nvidia-cdi-refresh.path is not installed (toolkit {version}; the units came with 1.18)").format(
                version=ctk
            ),
            cause=_("Nothing regenerates the CDI spec after a driver upgrade: it goes stale."),
            remediation=_(
                "Upgrade the toolkit to 1.18 or newer, or run `sudo nvidia-ctk cdi generate "
                "--output=/var/run/cdi/nvidia.yaml` after every driver upgrade."
            ),
            notebook=NB_TOOLKIT,
            data=data,
        )
    if enabled != "enabled" or active != "active":
        raise warn(
            _("nvidia-cdi-refresh.path is {enabled} and {active}").format(enabled=enabled, active=active),
            cause=_("Nothing regenerates the CDI spec after a driver upgrade: it goes stale."),
            remediation=_("Enable it: `sudo systemctl enable --now nvidia-cdi-refresh.path`."),
            notebook=NB_TOOLKIT,
            data=data,
        )
    return Passed(_("nvidia-cdi-refresh.path is enabled and active"), data=data)
