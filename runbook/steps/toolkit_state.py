"""Step 2, the NVIDIA Container Toolkit: installed? known to the engine? CDI specs? And the plan to install it."""
from __future__ import annotations

from .. import engine, host, toolkit
from ..diagnosis import NB_TOOLKIT, by_key
from ..errors import EngineError
from ..results import CheckResult, Passed, fail, run_check, warn
from . import context, skipped


def run(**values) -> list[CheckResult]:
    ctx = context(values)
    mode = ctx.params["gpu_mode"]
    results = [run_check("toolkit.installed", "NVIDIA Container Toolkit installed (nvidia-ctk)", check_installed)]
    if ctx.client is None:
        results.append(skipped("toolkit.engine_runtime", "Engine knows the nvidia runtime", ctx.engine_problem))
        results.append(skipped("toolkit.cdi", "CDI specification for the GPUs", ctx.engine_problem))
    else:
        info = {}
        try:
            info = engine.engine_info(ctx.client)
        except EngineError:
            pass
        results.append(run_check("toolkit.engine_runtime", "Engine knows the nvidia runtime",
                                 lambda: check_runtime(info, mode)))
        results.append(run_check("toolkit.cdi", "CDI specification for the GPUs", lambda: check_cdi(info, mode)))
    results.append(run_check("toolkit.plan", "Install plan for this OS", check_plan))
    return results


def check_installed() -> Passed:
    version = toolkit.ctk_version()
    if version is None:
        d = by_key("toolkit_missing")
        raise fail("nvidia-ctk not found: the NVIDIA Container Toolkit is not installed",
                   cause="Without the toolkit the engine cannot give containers a GPU (`--gpus` fails).",
                   remediation="Follow the install plan (toolkit.plan). " + d.remediation, notebook=NB_TOOLKIT)
    return Passed(f"nvidia-ctk {version}", data={"version": version})


def check_runtime(info: dict, mode: str) -> Passed:
    runtimes = sorted((info.get("Runtimes") or {}).keys())
    if "nvidia" in runtimes:
        return Passed(f"runtimes: {', '.join(runtimes)} (default: {info.get('DefaultRuntime')})",
                      data={"runtimes": runtimes})
    d = by_key("runtime_unknown")
    detail = f"no nvidia runtime; the engine has {', '.join(runtimes) or 'none'}"
    if mode == "runtime":
        raise fail(detail, cause=d.cause, remediation=d.remediation, notebook=NB_TOOLKIT)
    raise warn(detail + " (only gpu_mode=runtime needs it; --gpus uses the toolkit's hook)",
               remediation=d.remediation, notebook=NB_TOOLKIT)


def check_cdi(info: dict, mode: str) -> Passed:
    specs = toolkit.cdi_specs()
    if specs:
        return Passed(f"NVIDIA CDI spec(s): {', '.join(specs)}", data={"specs": specs})
    d = by_key("cdi_unresolvable")
    detail = "no CDI spec for nvidia.com/gpu in /etc/cdi or /var/run/cdi"
    if mode == "cdi":
        raise fail(detail, cause=d.cause, remediation=d.remediation, notebook=NB_TOOLKIT)
    raise warn(detail + " (only gpu_mode=cdi needs one)", remediation=d.remediation, notebook=NB_TOOLKIT)


def check_plan() -> Passed:
    info = host.os_release()
    plan = toolkit.install_plan(info)
    if plan is None:
        raise warn(f"no install plan for {info.get('PRETTY_NAME', 'this OS')}: not an apt, dnf or zypper system",
                   remediation="Follow NVIDIA's install guide for the container toolkit for this distribution.")
    lines = [f"# {why}\n{cmd}" for why, cmd in plan.steps]
    return Passed(f"{plan.manager} plan for {plan.os_name}: {len(plan.steps)} steps (shown, not run)",
                  evidence="\n".join(lines), data={"manager": plan.manager, "commands": plan.commands()})
