"""Containers the runbook runs: created with its labels, run with a deadline, always removed; and the
leftovers of killed runs, found by label and removed."""

from __future__ import annotations

import os
import socket
import time
import uuid
from dataclasses import dataclass

import docker
import requests
from docker.errors import APIError, ImageNotFound, NotFound

from .. import diagnosis
from ..errors import (
    ContainerFailed,
    ContainerTimeout,
    EngineError,
    ImageUnavailable,
)
from ..i18n import _
from .connection import LABEL, _engine_call, _raise_diagnosed, _read_timed_out, connect, error_text, run_id


@dataclass
class RunOutput:
    exit_code: int
    output: str  # stdout and stderr, interleaved as the engine logged them
    duration_s: float


def _create(client: docker.DockerClient, image: str, command: list[str], lifetime_s: float, options: dict):
    """Create a container labelled with the run, its owner, a deadline and an id of its own, with no
    network unless ``options`` name one. When the call is cut short (an interrupt, a lost connection),
    the engine may have made the container before its answer was read: it is found by its own id and
    removed before the error goes on."""
    own = uuid.uuid4().hex
    labels = {
        LABEL: "1",
        f"{LABEL}.run": run_id(),
        f"{LABEL}.deadline": str(int(time.time() + lifetime_s)),
        f"{LABEL}.owner": owner(),
        f"{LABEL}.container": own,
    }
    options = {"network_mode": "none", **options}  # no check needs the network; an engine may have no bridge
    try:
        return client.containers.create(image, command, labels=labels, **options)
    except BaseException:
        try:
            for c in client.api.containers(all=True, filters={"label": f"{LABEL}.container={own}"}):
                client.api.remove_container(c["Id"], force=True)
        except (APIError, requests.exceptions.RequestException):
            pass  # the labels still let remove_leftovers find it
        raise


@_engine_call("running a container")
def run(
    client: docker.DockerClient, image: str, command: list[str], *, timeout_s: float, options: dict | None = None
) -> RunOutput:
    """Run ``command`` in a new container of ``image`` and return its exit code and output.

    The container is labelled, killed at ``timeout_s`` (ContainerTimeout), and removed in every case,
    also when this process is interrupted. A container that cannot be created or started raises
    ContainerFailed with the diagnosis of the engine's message; a non-zero exit is returned, not raised.
    """
    start = time.monotonic()
    try:
        container = _create(client, image, command, timeout_s + 60, options or {})
    except ImageNotFound as e:
        raise ImageUnavailable(
            _("{image} is not on the engine").format(image=image),
            evidence=error_text(e),
            cause=_("The image was not pulled."),
            remediation=_("Pull it first (pull=missing)."),
        ) from e
    except APIError as e:
        _raise_diagnosed(
            ContainerFailed, _("the engine refused to create a container of {image}").format(image=image), error_text(e)
        )
    try:
        try:
            container.start()
        except APIError as e:
            _raise_diagnosed(
                ContainerFailed, _("the container of {image} did not start").format(image=image), error_text(e)
            )
        try:
            status = container.wait(timeout=timeout_s)
        except requests.exceptions.RequestException as e:
            if not _read_timed_out(e):
                raise EngineError(
                    _("the engine stopped answering while {image} ran").format(image=image),
                    evidence=str(e),
                    **diagnosis.by_key("engine_unreachable").fields(),
                ) from e
            output = _logs(container)
            _kill(container)
            raise ContainerTimeout(
                _("{command} in {image} ran past {seconds:.0f} s and was killed").format(
                    command=" ".join(command[:2]), image=image, seconds=timeout_s
                ),
                cause=_("The command hung or is slower than the step's timeout."),
                remediation=_("Raise timeout_s, or look at the output for where it stalled."),
                output=output,
                evidence=output,
            ) from None
        output = _logs(container)
        return RunOutput(int(status.get("StatusCode", -1)), output, time.monotonic() - start)
    finally:
        _remove(container)


def _kill(container) -> None:
    """Kill a container that may have exited meanwhile; its removal follows in any case."""
    try:
        container.kill()
    except (APIError, requests.exceptions.RequestException):
        pass


def _logs(container) -> str:
    try:
        return container.logs(stdout=True, stderr=True).decode("utf-8", errors="replace")
    except (APIError, requests.exceptions.RequestException):
        return ""


def _remove(container) -> None:
    """Remove a container; when the engine has stopped answering, its labels let a later
    ``remove_leftovers`` (the runner's, or ``runbook clean``) find it, and the error that is
    already being raised is not masked by this one."""
    try:
        container.remove(force=True)
    except (NotFound, requests.exceptions.RequestException):
        pass


@_engine_call("listing the runbook's containers")
def labelled(client: docker.DockerClient) -> list:
    return client.containers.list(all=True, filters={"label": LABEL})


OWNER_PID_ENV = "GPU_RUNBOOK_OWNER_PID"  # the runner's pid, for its notebooks' containers


def _boot_id() -> str:
    try:
        return open("/proc/sys/kernel/random/boot_id").read().strip()
    except OSError:
        return ""


def _started(pid: int) -> str:
    """When process ``pid`` started (clock ticks since boot), '' when there is no such process."""
    try:
        stat = open(f"/proc/{pid}/stat").read()
    except OSError:
        return ""
    return stat.rsplit(")", 1)[-1].split()[19]


def owner() -> str:
    """Who cleans up a container: this host, its boot, and the process (the runner's, or this one's)
    with its start time, so that a reused pid is not taken for the owner."""
    pid = int(os.environ.get(OWNER_PID_ENV) or os.getpid())
    return f"{socket.gethostname()}/{_boot_id()}/{pid}/{_started(pid)}"


def owner_gone(value: str) -> bool | None:
    """Whether the owner of a container has ended: True or False for an owner on this host, None when
    that cannot be told here (another host's run, or a container without an owner)."""
    try:
        hostname, boot, pid, started = value.split("/")
    except ValueError:
        return None
    if hostname != socket.gethostname() or not boot:
        return None
    return boot != _boot_id() or not started or _started(int(pid)) != started


def remove_leftovers(client: docker.DockerClient, run: str | None = None) -> int:
    """Remove the runbook's containers: all of run ``run``, or (run=None) every one whose owner has
    ended (at once) and, where the owner cannot be told, every one past its deadline. A live run's
    containers, running or merely created, are left alone."""
    removed = 0
    now = time.time()
    for c in labelled(client):
        labels = c.labels or {}
        if run is not None:
            doomed = labels.get(f"{LABEL}.run") == run
        else:
            gone = owner_gone(labels.get(f"{LABEL}.owner", ""))
            try:
                deadline = float(labels.get(f"{LABEL}.deadline", "0"))
            except ValueError:
                deadline = 0
            doomed = gone if gone is not None else deadline < now
        if doomed:
            _remove(c)
            removed += 1
    return removed


def clean(docker_host: str = "") -> int:
    """``gpu-runbook clean``: remove the runbook's containers whose run has ended (or is past its deadline)."""
    return remove_leftovers(connect(docker_host))


@_engine_call("looking into an image")
def files_in_image(client: docker.DockerClient, image: str, paths: list[str]) -> list[str]:
    """Which of ``paths`` exist in ``image``, read from a created (never started) container, so that
    images without a shell can be looked into too."""
    try:
        container = _create(client, image, ["true"], 120, {})
    except ImageNotFound as e:
        raise ImageUnavailable(_("{image} is not on the engine").format(image=image), evidence=error_text(e)) from e
    except APIError as e:
        _raise_diagnosed(
            ContainerFailed, _("the engine refused to create a container of {image}").format(image=image), error_text(e)
        )
    found = []
    try:
        for path in paths:
            try:
                container.get_archive(path)
                found.append(path)
            except NotFound:
                continue
    finally:
        _remove(container)
    return found
