"""One module per notebook: each ``run(**parameters)`` checks its own preconditions and returns results.

A check whose precondition failed is skipped with the reason and the notebook that fixes it, never
left out and never a traceback.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import docker

from .. import engine, host, params
from ..diagnosis import NB_GPU, diagnose
from ..errors import EngineError, HostError
from ..results import CheckResult, Outcome, Status, fail


# The notebooks, in the order they run; the last one summarises the others.
STEPS = ("01-preflight", "02-container-toolkit", "03-gpu-in-container", "04-pytorch-in-container",
         "05-why-no-nvcc", "06-report")
REPORT = "06-report"
OVERVIEW = "00-overview"  # for JupyterLab: the path as a picture; not part of a headless run


@dataclass
class Context:
    """What every container step needs to know first: parameters, the driver, the engine."""

    params: dict[str, Any]
    driver: host.DriverInfo | None = None
    driver_problem: str = ""  # why there is no driver info
    client: docker.DockerClient | None = None
    engine_problem: str = ""  # why there is no client


def context(values: dict[str, Any], with_engine: bool = True) -> Context:
    ctx = Context(params.validate(values))
    try:
        ctx.driver = host.query_driver()
        if ctx.driver is None:
            ctx.driver_problem = "no NVIDIA driver/GPU found on this host (nvidia-smi is not installed)"
        elif not ctx.driver.gpus:
            ctx.driver_problem = "the NVIDIA driver reports no GPU"
    except HostError as e:
        ctx.driver_problem = f"the NVIDIA driver does not answer ({e})"
    if with_engine:
        try:
            ctx.client = engine.connect(ctx.params["docker_host"])
        except EngineError as e:
            ctx.engine_problem = f"{e} (see engine.reachable in 01-preflight)"
    return ctx


def skipped(check_id: str, title: str, reason: str) -> CheckResult:
    return CheckResult(check_id, title, Status.SKIP, reason)


def container_failure(message: str, text: str, ctx) -> Outcome:
    """A failed container run as a fail outcome with its diagnosis (and the host's missing driver, if so)."""
    d = diagnose(text)
    cause = d.cause if d else "The container's command failed; its output (evidence) says why."
    if ctx.driver is None:
        cause += f" Also: {ctx.driver_problem} (see host.driver in 01-preflight)."
    remediation = d.remediation if d else ("Read the container's output below for the error it names; make "
                                           "sure step 3 (nvidia-smi in a container) passes first.")
    return fail(message, cause=cause, remediation=remediation, notebook=d.notebook if d else NB_GPU,
                evidence=text)
