"""Containers a headless run starts ahead: as the run begins, while the notebooks' kernel starts and imports
the runbook, the runner starts the containers of the steps whose commands follow from the parameters, the
driver's answer and the images already on the engine alone; a step that then asks for the same container
(image, command, options and timeout, on the same engine) takes its output, or its error, instead of
starting another.

- the runner's side, ``Ahead``: the run's private folder of outputs, one file per container, each written
  whole once its container has ended; a ``measures`` container (a throughput probe) starts only once the
  others have ended, so that it never shares the GPU with them while it measures
- the step's side, ``run``: containers.run, or the output of the same container started ahead; each output
  is taken once, and a container nobody planned, or whose output cannot be read back, runs as always
- a container started ahead that no step asks for is removed when the run ends, as every container is

Outside a headless run (JupyterLab, a test calling a step) nothing is planned and ``run`` is containers.run.
The folder holds only exit codes, outputs and the runbook's error texts: nothing in it is ever run.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path

from .. import errors
from .containers import RunOutput, remove_leftovers
from .containers import run as run_container

AHEAD_ENV = "GPU_RUNBOOK_AHEAD"  # the run's folder of outputs, set by the runner for its kernel
PLANNING = "planning"  # present in the folder while the runner is still choosing what to start
PLANNING_S = 60.0  # the longest a step waits for the runner's plan before it runs its own container
POLL_S = 0.01

# the errors containers.run raises, as they are rebuilt on the step's side (any other: the step runs it again)
ERRORS = {
    cls.__name__: cls
    for cls in (
        errors.ContainerTimeout,
        errors.ContainerFailed,
        errors.ImageNotPulled,
        errors.ImageUnavailable,
        errors.EnginePermissionDenied,
        errors.EngineUnreachable,
        errors.EngineError,
        errors.HostError,
    )
}


@dataclass(frozen=True)
class Planned:
    """A container a step will start, as it will ask for it."""

    image: str
    command: list[str]
    options: dict = field(default_factory=dict)
    timeout_s: float = 300.0
    measures: bool = False  # it measures the GPU: it starts once the run's other planned containers have ended


def key(address: str, image: str, command: list[str], options: dict | None, timeout_s: float) -> str:
    """The name of a container's output: the same for the same request on the same engine, whoever asks."""
    request = [address, image, list(command), options or {}, float(timeout_s)]
    return hashlib.sha256(json.dumps(request, sort_keys=True, default=str).encode()).hexdigest()[:32]


def address_of(client) -> str:
    return getattr(client, "address", "") or client.api.base_url


class Ahead:
    """The runner's side: ``plan`` starts the planned containers, each output written whole to the folder
    when its container ends; ``close`` removes what still runs and waits for the threads."""

    def __init__(self, folder: Path, run_id: str):
        self.folder, self.run_id = folder, run_id
        self.folder.mkdir(mode=0o700)
        (self.folder / PLANNING).touch()
        self.client = None
        self.closed = False
        self.lock = threading.Lock()
        self.pool: ThreadPoolExecutor | None = None
        self.futures: list[Future] = []
        self.started = self.taken = 0  # containers started ahead, and those a step took (counted at close)

    def __enter__(self) -> Ahead:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def plan(self, make: Callable[[], tuple[object, list[Planned]]]) -> int:
        """Start the containers ``make`` plans, as (client, planned), the measuring ones once the others have
        ended; returns how many were started. The plan is done once this returns, whatever happened (an
        engine that does not answer, an error in ``make``: nothing is started): the steps stop waiting."""
        try:
            client, planned = make()
            with self.lock:
                if self.closed or client is None or not planned:
                    return 0
                self.client = client
                names: dict[int, str] = {}
                for plan in planned:
                    name = key(address_of(client), plan.image, plan.command, plan.options, plan.timeout_s)
                    if name not in names.values():
                        names[id(plan)] = name
                        (self.folder / f"{name}.planned").touch()
                first = [p for p in planned if not p.measures and id(p) in names]
                later = [p for p in planned if p.measures and id(p) in names]
                self.pool = ThreadPoolExecutor(max_workers=len(first) + 1, thread_name_prefix="ahead")
                self.futures = [self.pool.submit(self._run, p, names[id(p)]) for p in first]
                if later:
                    self.futures.append(self.pool.submit(self._after, list(self.futures), later, names))
                self.started = len(names)
                return self.started
        except Exception:  # noqa: BLE001 (nothing started ahead: every step runs its own containers)
            return 0
        finally:
            (self.folder / PLANNING).unlink(missing_ok=True)

    def _after(self, before: list[Future], later: list[Planned], names: dict) -> None:
        wait(before)
        for plan in later:
            self._run(plan, names[id(plan)])

    def _run(self, plan: Planned, name: str) -> None:
        if self.closed:
            result: dict = {"error": None}
        else:
            try:
                out = run_container(
                    self.client, plan.image, plan.command, timeout_s=plan.timeout_s, options=plan.options
                )
                result = {"exit_code": out.exit_code, "output": out.output, "duration_s": out.duration_s}
            except errors.RunbookError as e:
                result = {"error": error_fields(e)}
            except Exception:  # noqa: BLE001 (not the runbook's own: the step runs the container itself)
                result = {"error": None}
        part = self.folder / f"{name}.part"
        try:
            part.write_text(json.dumps(result), encoding="utf-8")
            part.rename(self.folder / f"{name}.json")
        except OSError:  # a full disk: the step stops waiting and runs the container itself
            with contextlib.suppress(OSError):
                (self.folder / f"{name}.lost").touch()

    def close(self) -> None:
        """Remove the run's containers that still run (started ahead and asked for by no step), then wait."""
        with self.lock:
            self.closed = True
            running = any(not f.done() for f in self.futures)
        if running and self.client is not None:
            with contextlib.suppress(Exception):
                remove_leftovers(self.client, self.run_id)
        if self.pool is not None:
            self.pool.shutdown(wait=True)
        (self.folder / PLANNING).unlink(missing_ok=True)
        self.taken = len(list(self.folder.glob("*.taken")))

    def counts(self) -> dict:
        """For the record: how many containers were started ahead, and how many of them a step took."""
        return {"started": self.started, "taken": self.taken}


def error_fields(e: errors.RunbookError) -> dict:
    return {
        "type": type(e).__name__,
        "message": str(e),
        "cause": e.cause,
        "remediation": e.remediation,
        "notebook": e.notebook,
        "evidence": e.evidence,
        "exit_code": getattr(e, "exit_code", None),
        "output": getattr(e, "output", ""),
    }


def rebuilt(fields) -> errors.RunbookError | None:
    """The error a container started ahead ended with, as the runbook raised it; None when it is not one
    of containers.run's (the step then runs the container itself)."""
    if not isinstance(fields, dict) or fields.get("type") not in ERRORS:
        return None
    cls = ERRORS[fields["type"]]
    kw = {k: str(fields.get(k) or "") for k in ("cause", "remediation", "notebook", "evidence")}
    if issubclass(cls, errors.ContainerFailed):
        code = fields.get("exit_code")
        kw.update(exit_code=code if isinstance(code, int) else None, output=str(fields.get("output") or ""))
    return cls(str(fields.get("message") or ""), **kw)


def take(
    client, image: str, command: list[str], timeout_s: float, options: dict | None
) -> RunOutput | Exception | None:
    """The output (or error) of the same container started ahead for this run, once it has ended; None when
    none was planned, another step took it, or what it left cannot be read."""
    folder = os.environ.get(AHEAD_ENV)
    if not folder:
        return None
    folder = Path(folder)
    deadline = time.monotonic() + PLANNING_S
    while (folder / PLANNING).exists() and time.monotonic() < deadline:
        time.sleep(POLL_S)
    name = key(address_of(client), image, command, options, timeout_s)
    try:
        (folder / f"{name}.planned").rename(folder / f"{name}.taken")
    except OSError:
        return None
    done, lost = folder / f"{name}.json", folder / f"{name}.lost"
    deadline = time.monotonic() + timeout_s + 120  # its own deadline, its logs and its removal
    while not done.exists():
        if time.monotonic() > deadline or lost.exists() or not folder.is_dir():
            return None
        time.sleep(POLL_S)
    try:
        result = json.loads(done.read_text(encoding="utf-8"))
        if "error" in result:
            return rebuilt(result["error"])
        return RunOutput(int(result["exit_code"]), str(result["output"]), float(result["duration_s"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def run(client, image: str, command: list[str], *, timeout_s: float, options: dict | None = None) -> RunOutput:
    """containers.run, or the output of the same container this run started ahead (its error raised as the
    engine's would have been)."""
    taken = take(client, image, command, timeout_s, options)
    if isinstance(taken, Exception):
        raise taken
    if taken is not None:
        return taken
    return run_container(client, image, command, timeout_s=timeout_s, options=options)
