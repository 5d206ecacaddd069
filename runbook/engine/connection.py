"""Connecting to the Docker engine (its address from the whole Docker environment), docker-py's errors
mapped to the runbook's own, and what the engine says it is.

Every container the runbook creates carries the label ``io.gpu-runbook`` with the run's id, a
deadline and an id of its own, so that leftovers (from a killed run, or a create cut short) can be
found and removed without touching anything else on the engine. docker-py's errors are caught
narrowly and re-raised as the runbook's own, with the cause and fix from the diagnosis table.
"""

from __future__ import annotations

import functools
import os
import socket
import uuid

import docker
import requests
import urllib3
from docker.context import ContextAPI
from docker.errors import DockerException
from docker.utils import kwargs_from_env

from .. import diagnosis
from ..errors import (
    EngineError,
    EnginePermissionDenied,
    EngineUnreachable,
    RunbookError,
)
from ..i18n import _
from ..params import masked

LABEL = "io.gpu-runbook"
RUN_ID_ENV = "GPU_RUNBOOK_RUN_ID"
DEFAULT_HOST = "unix:///var/run/docker.sock"
PODMAN_HOST = "unix:///run/podman/podman.sock"


def run_id() -> str:
    """The id of this run: set by the runner for all its notebooks, else one per process."""
    if RUN_ID_ENV not in os.environ:
        os.environ[RUN_ID_ENV] = uuid.uuid4().hex[:12]
    return os.environ[RUN_ID_ENV]


def error_text(e: Exception) -> str:
    """The engine's own words for an error (APIError.explanation), else the exception's text."""
    return str(getattr(e, "explanation", None) or e)


def _raise_diagnosed(cls, message: str, text: str, default_key: str | None = None, **kw):
    raise cls(message, evidence=text, **diagnosis.explain(text, key=default_key), **kw)


def _engine_call(what: str):
    """Errors of the engine's connection, raised anywhere in the decorated call, as the runbook's own: an
    engine that dies, restarts or stops answering mid-step is a diagnosed EngineError, not a traceback.
    The runbook's own errors, and an interrupt, pass through unchanged."""

    def wrap(fn):
        @functools.wraps(fn)
        def call(*args, **kwargs):
            try:
                return fn(*args, **kwargs)
            except RunbookError:
                raise
            except (requests.exceptions.RequestException, urllib3.exceptions.HTTPError, DockerException) as e:
                text = error_text(e)
                key = "engine_stalled" if "timed out" in text.lower() else "engine_unreachable"
                raise EngineError(
                    _("the engine did not answer ({what})").format(what=what),
                    evidence=text,
                    **diagnosis.explain(text, key=key),
                ) from e

        return call

    return wrap


def local_sockets(environ=None) -> list[str]:
    """The sockets a local engine listens on, in the order a user of ``docker context`` expects them
    tried: rootful Docker, rootless Docker, rootful Podman, rootless Podman (its Docker-compatible API)."""
    environ = os.environ if environ is None else environ
    runtime = environ.get("XDG_RUNTIME_DIR") or f"/run/user/{os.getuid()}"
    return [DEFAULT_HOST, f"unix://{runtime}/docker.sock", PODMAN_HOST, f"unix://{runtime}/podman/podman.sock"]


def _listening(url: str) -> bool:
    """Whether something accepts connections on a unix socket (a refused permission counts: it is the
    engine the user must be let into)."""
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(2)
    try:
        s.connect(url.removeprefix("unix://"))
        return True
    except PermissionError:
        return True
    except OSError:
        return False
    finally:
        s.close()


def resolve(docker_host: str = "", environ=None) -> tuple[dict, str]:
    """``connection_params`` and where its address came from, in words (for engine.reachable)."""
    environ = os.environ if environ is None else environ
    params = kwargs_from_env(environment=environ)
    if docker_host:
        return {**params, "base_url": docker_host}, _("the docker_host parameter")
    if "base_url" in params:
        return params, _("DOCKER_HOST")
    name = environ.get("DOCKER_CONTEXT") or None
    try:
        ctx = ContextAPI.get_context(name)
    except DockerException as e:
        raise EngineUnreachable(
            _("the Docker context {name} cannot be read: {error}").format(name=repr(name), error=e),
            evidence=str(e),
            remediation=_("Choose an existing context (`docker context ls`) or set docker_host."),
            notebook=diagnosis.NB_PREFLIGHT,
        ) from None
    if ctx is None and name:
        raise EngineUnreachable(
            _("there is no Docker context {name} (DOCKER_CONTEXT)").format(name=repr(name)),
            remediation=_("Choose an existing context (`docker context ls`) or set docker_host."),
            notebook=diagnosis.NB_PREFLIGHT,
        )
    if ctx is not None and ctx.Host and ctx.Name != "default":
        params["base_url"] = ctx.Host
        if ctx.TLSConfig is not None:
            params["tls"] = ctx.TLSConfig
        return params, _("the Docker context {name}").format(name=ctx.Name)
    tried = local_sockets(environ)
    found = next((url for url in tried if _listening(url)), None)
    params["base_url"] = found or DEFAULT_HOST
    if found is None:
        return params, _("no engine socket answers (tried {sockets})").format(sockets=", ".join(tried))
    return params, _("the first local engine socket that answers, of {sockets}").format(sockets=", ".join(tried))


def connection_params(docker_host: str = "", environ=None) -> dict:
    """DockerClient arguments for the engine the Docker CLI would use: ``docker_host``, else DOCKER_HOST
    (with DOCKER_TLS_VERIFY and DOCKER_CERT_PATH, as docker-py's ``from_env``), else the context named by
    DOCKER_CONTEXT or the CLI's current context (``docker context use``), else the first local socket
    that answers (``local_sockets``: Docker rootful, rootless, Podman rootful, rootless)."""
    return resolve(docker_host, environ)[0]


PING_S = 10  # an engine that does not answer a ping this fast is not going to answer the checks


def connect(docker_host: str = "", timeout: float = 60) -> docker.DockerClient:
    """A client for the engine ``connection_params`` names that has answered a ping (within PING_S); its
    ``address`` is where it answered, ``found_by`` where that address came from."""
    params, found_by = resolve(docker_host)
    address = masked(params["base_url"])
    ssh = params["base_url"].startswith("ssh://")
    ssh_errors: tuple = ()
    if ssh:  # paramiko's own errors escape docker-py over ssh://
        import paramiko

        ssh_errors = (paramiko.SSHException,)
    try:
        client = docker.DockerClient(timeout=min(timeout, PING_S), **params)  # asks the engine's API version
        client.ping()
        client.api.timeout = timeout
        client.address, client.found_by = params["base_url"], found_by
        return client
    except (DockerException, requests.exceptions.RequestException, ValueError, OSError, *ssh_errors) as e:
        if ssh:  # tell SSH's failures apart, and when SSH works ask the remote host why no engine answers
            from . import ssh as remote

            err = remote.explain(params["base_url"], e, timeout)
            raise type(err)(
                masked(str(err)),
                cause=err.cause,
                remediation=err.remediation,
                notebook=err.notebook,
                evidence=masked(err.evidence),
            ) from e
        text = masked(error_text(e))
        if "permission denied" in text.lower() or "PermissionError" in text:
            raise EnginePermissionDenied(
                _("permission denied on the Docker engine at {address}").format(address=address),
                evidence=text,
                **diagnosis.by_key("docker_permission").fields(),
            ) from e
        stalled = "timed out" in text.lower()
        raise EngineUnreachable(
            _("the Docker engine at {address} did not answer within {seconds} s").format(
                address=address, seconds=PING_S
            )
            if stalled
            else _("no Docker engine answers at {address}").format(address=address),
            evidence=text,
            **diagnosis.explain(text, key="engine_stalled" if stalled else "engine_unreachable"),
        ) from e


def _read_timed_out(e: requests.exceptions.RequestException) -> bool:
    """Whether waiting for the container timed out. requests reports a timeout while reading the
    body of the engine's wait response as a ConnectionError wrapping urllib3's ReadTimeoutError."""
    return isinstance(e, requests.exceptions.ReadTimeout) or any(
        isinstance(a, urllib3.exceptions.ReadTimeoutError) for a in e.args
    )
