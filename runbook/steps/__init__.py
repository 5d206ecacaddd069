"""One module per notebook: each ``run(progress=None, **parameters)`` builds the same ``Context``, checks
its own preconditions and returns results.

A check whose precondition failed is skipped with the reason and the notebook that fixes it, never
left out and never a traceback.

Its modules:

- ``preflight``: step 1: the OS, the GPUs on the bus, the driver, the engine, access and disk
- ``toolkit_state``: step 2: the NVIDIA Container Toolkit's plan, what of it is in effect, applying it
- ``gpu_container``: step 3: nvidia-smi in a CUDA container, by each GPU access mode
- ``cuda_probe``: step 3's CUDA driver-API probe, run after nvidia-smi in its container, and its answer judged
- ``pytorch_container``: step 4: torch.cuda in a PyTorch image, a matmul checked against the CPU, throughput
- ``nvcc``: step 5: why base and runtime images have no nvcc, and the devel image that has it
- ``images``: choosing an image for the driver and pulling it, for steps 3 to 5
- ``registries``: the network rung of step 1: a registry or mirror answers for each image
- ``multigpu``: step 1's checks of several GPUs: the devices ``gpus`` names, MIG modes and devices, topology
- ``toolkit_security``: step 2's trust checks: one version for the four packages, the bulletins, leftovers
- ``ahead``: the containers of steps 3 and 4 a headless run starts as it begins (engine.ahead)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import docker

from .. import diagnosis, engine, host, params
from ..engine import modes as engine_modes
from ..errors import EngineError, HostError, RunbookError
from ..i18n import _
from ..results import CheckResult, Outcome, Status, fail


@dataclass
class Context:
    """What every step needs to know first: parameters, the driver, the engine (and why one is missing)."""

    params: dict[str, Any]
    driver: host.DriverInfo | None = None
    driver_problem: str = ""  # why there is no usable driver info
    driver_error: HostError | None = None  # the driver's own error, when nvidia-smi failed
    client: docker.DockerClient | None = None
    engine_problem: str = ""  # why there is no client
    engine_error: EngineError | None = None
    identity: engine.Identity | None = None  # the engine's, once asked (engine_identity)


def context(values: dict[str, Any], with_engine: bool = True) -> Context:
    ctx = Context(params.validate(values))
    try:
        ctx.driver = host.query_driver()
        if ctx.driver is None:
            ctx.driver_problem = _("no NVIDIA driver/GPU found on this host (nvidia-smi is not installed)")
        elif not ctx.driver.gpus:
            ctx.driver_problem = _("the NVIDIA driver reports no GPU")
    except HostError as e:
        ctx.driver_error = e
        ctx.driver_problem = _("the NVIDIA driver does not answer ({error})").format(error=e)
    if with_engine:
        connect_engine(ctx)
    return ctx


def connect_engine(ctx: Context) -> None:
    """(Re)connect ctx.client, e.g. after a step restarted the engine."""
    try:
        ctx.client, ctx.engine_error, ctx.engine_problem = engine.connect(ctx.params["docker_host"]), None, ""
    except EngineError as e:
        ctx.client, ctx.engine_error = None, e
        ctx.engine_problem = _("{error} (see engine.reachable in 01-preflight)").format(error=e)


def engine_identity(ctx: Context) -> engine.Identity | None:
    """The identity of ctx's engine, asked once per context; None without an engine."""
    if ctx.identity is None and ctx.client is not None:
        ctx.identity = engine.identity(ctx.client)
    return ctx.identity


def engine_facts(ctx: Context) -> dict | None:
    """The engine's identity as data, for a check that used the engine (an image pulled there), so that a
    run of only some steps still records which engine it talked to; None when the engine does not say."""
    try:
        who = engine_identity(ctx)
    except (docker.errors.DockerException, RunbookError, OSError):
        return None
    return who.data() if who else None


def mode_refused(ctx: Context, mode: str) -> Outcome | None:
    """A fail outcome when ctx's engine cannot give a container the GPU by ``mode`` (the engine's row in
    engine_modes), before any container runs: an engine that ignores the request would start one without
    the GPU. None when the mode is to be tried (the GPUs seen inside are still compared with the host's)."""
    who = engine_identity(ctx)
    if who is None:
        return None
    support = engine_modes.support(who, mode)
    if support.works:
        return None
    return fail(
        _("{engine}: {reason}").format(engine=support.engine, reason=support.means),
        cause=support.means,
        remediation=support.fix,
        notebook=diagnosis.NB_GPU,
        data={"engine": who.engine, "engine_version": who.version},
    )


def skipped(check_id: str, title: str, reason: str, data: dict | None = None) -> CheckResult:
    return CheckResult(check_id, title, Status.SKIP, reason, data=data or {})


def container_failure(message: str, text: str, ctx: Context) -> Outcome:
    """A failed container run as a fail outcome with its diagnosis (and the host's missing driver, if so)."""
    fields = diagnosis.explain(
        text,
        default_cause=_("The container's command failed; its output (evidence) says why."),
        default_fix=_(
            "Read the container's output below for the error it names; make sure "
            "step 3 (nvidia-smi in a container) passes first."
        ),
        default_notebook=diagnosis.NB_GPU,
    )
    if ctx.driver is None:
        fields["cause"] += " " + _("Also: {problem} (see host.driver in 01-preflight).").format(
            problem=ctx.driver_problem
        )
    return fail(message, evidence=text, **fields)


def from_error(e: RunbookError, ctx: Context, message: str = "") -> Outcome:
    """An error of a container run (or of gathering what it needs) as a diagnosed fail outcome."""
    return container_failure(message or str(e), e.evidence or str(e), ctx)
