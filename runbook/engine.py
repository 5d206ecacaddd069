"""The Docker engine, through the Docker SDK only: connect, pull with progress, run with certain removal.

Every container the runbook creates carries the label ``io.gpu-runbook`` with the run's id, a
deadline and an id of its own, so that leftovers (from a killed run, or a create cut short) can be
found and removed without touching anything else on the engine. docker-py's errors are caught
narrowly and re-raised as the runbook's own, with the cause and fix from the diagnosis table.
"""

from __future__ import annotations

import functools
import os
import socket
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import docker
import requests
import urllib3
from docker.context import ContextAPI
from docker.errors import APIError, DockerException, ImageNotFound, NotFound
from docker.utils import kwargs_from_env, parse_repository_tag

from . import diagnosis
from .errors import (
    ContainerFailed,
    ContainerTimeout,
    EngineError,
    EnginePermissionDenied,
    EngineUnreachable,
    ImageNotPulled,
    ImageUnavailable,
    RunbookError,
)
from .i18n import _
from .params import masked

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
            from . import remote

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


@_engine_call("looking up an image")
def image_present(client: docker.DockerClient, ref: str) -> bool:
    try:
        client.images.get(ref)
        return True
    except ImageNotFound:
        return False


@_engine_call("pulling an image")
def pull(
    client: docker.DockerClient,
    ref: str,
    policy: str = "missing",
    timeout_s: float = 1800,
    progress: Callable[[dict], None] | None = None,
) -> docker.models.images.Image:
    """Make ``ref`` present by the pull policy (missing / always / never), reporting each progress event."""
    if policy not in ("missing", "always", "never"):
        raise ValueError(f"pull policy must be missing, always or never, not {policy!r}")
    if policy != "always" and image_present(client, ref):
        return client.images.get(ref)
    if policy == "never":
        raise ImageNotPulled(
            _("{image} is not on the engine and pull=never").format(image=ref),
            cause=_("The image is not present and the pull policy forbids pulling it."),
            remediation=_("Pull or load the image (docker load), or run with pull=missing."),
        )
    repo, tag = parse_repository_tag(ref)
    if tag is None:
        tag = "latest"
    deadline = time.monotonic() + timeout_s
    stall_s = min(STALL_S, timeout_s)
    try:
        for event in _pull_events(client, repo, tag, stall_s):
            if "error" in event:
                text = event.get("error") or str(event.get("errorDetail"))
                _raise_diagnosed(ImageUnavailable, _("pulling {image} failed").format(image=ref), text)
            if progress:
                progress(event)
            if time.monotonic() > deadline:
                raise ImageUnavailable(
                    _("pulling {image} took longer than {seconds:.0f} s").format(image=ref, seconds=timeout_s),
                    cause=_("The registry or the network is too slow for the pull timeout."),
                    remediation=_("Raise pull_timeout_s, use a registry mirror, or pull beforehand."),
                )
    except APIError as e:
        _raise_diagnosed(
            ImageUnavailable,
            _("pulling {image} failed").format(image=ref),
            error_text(e),
            "manifest_unknown" if isinstance(e, NotFound) else None,
        )
    except requests.exceptions.RequestException as e:
        if _read_timed_out(e):
            raise ImageUnavailable(
                _("pulling {image}: no progress for {stall:.0f} s (pull_timeout_s {seconds:.0f} s)").format(
                    image=ref, stall=stall_s, seconds=timeout_s
                ),
                evidence=str(e),
                **diagnosis.by_key("pull_stalled").fields(),
            ) from None
        _raise_diagnosed(ImageUnavailable, _("pulling {image} failed").format(image=ref), str(e))
    except DockerException as e:
        _raise_diagnosed(ImageUnavailable, _("pulling {image} failed").format(image=ref), str(e))
    try:
        return client.images.get(ref)
    except ImageNotFound:
        raise ImageUnavailable(
            _("the engine reported {image} pulled but does not have it").format(image=ref), evidence=""
        ) from None


STALL_S = 60  # a pull that sends no progress event for this long has stalled


def _pull_events(client: docker.DockerClient, repo: str, tag: str, read_timeout: float):
    """The engine's pull events, as docker-py's ``APIClient.pull`` streams them, but with a read timeout:
    docker-py sends the pull request with none, so a registry that stalls would hang the run forever."""
    api = client.api
    registry, _name = docker.auth.resolve_repository_name(repo)
    headers = {}
    header = docker.auth.get_config_header(api, registry)
    if header:
        headers["X-Registry-Auth"] = header
    response = api._post(
        api._url("/images/create"),
        params={"tag": tag, "fromImage": repo},
        headers=headers,
        stream=True,
        timeout=read_timeout,
    )
    api._raise_for_status(response)
    try:
        yield from api._stream_helper(response, decode=True)
    finally:
        response.close()


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


def _read_timed_out(e: requests.exceptions.RequestException) -> bool:
    """Whether waiting for the container timed out. requests reports a timeout while reading the
    body of the engine's wait response as a ConnectionError wrapping urllib3's ReadTimeoutError."""
    return isinstance(e, requests.exceptions.ReadTimeout) or any(
        isinstance(a, urllib3.exceptions.ReadTimeoutError) for a in e.args
    )


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


@_engine_call("version")
def engine_version(client: docker.DockerClient) -> dict:
    return client.version()


def engine_info(client: docker.DockerClient) -> dict:
    try:
        return client.info()
    except (APIError, requests.exceptions.RequestException) as e:
        _raise_diagnosed(EngineError, _("the engine did not answer `info`"), error_text(e), "engine_unreachable")


@_engine_call("reading an image's configuration")
def image_env(client: docker.DockerClient, ref: str) -> list[str]:
    """The Env list of a present image's configuration."""
    return (client.images.get(ref).attrs.get("Config") or {}).get("Env") or []


@dataclass
class Identity:
    """Which engine answers, as it says itself: Docker, Podman (through its Docker-compatible API) or
    another, and what of it decides how a container gets a GPU."""

    engine: str  # "docker", "podman", or the name the engine gives its own component
    version: str
    api_version: str
    rootless: bool
    cgroup_driver: str
    image_store: str  # "containerd" (containerd's snapshotters) or the graph driver's name
    storage_driver: str
    cdi_spec_dirs: list[str]
    cdi_enabled: bool | None  # None: the engine does not say (Docker before 26 has no CDISpecDirs)
    cdi_devices: list[str]  # DiscoveredDevices (Docker 28.2+), by name

    @property
    def name(self) -> str:
        """As a person names it: "Docker 26.1.5", "Podman 4.3.1"."""
        return f"{ENGINE_NAMES.get(self.engine, self.engine)} {self.version}"

    def data(self) -> dict:
        return {
            "engine": self.engine,
            "version": self.version,
            "api_version": self.api_version,
            "rootless": self.rootless,
            "cgroup_driver": self.cgroup_driver,
            "image_store": self.image_store,
            "storage_driver": self.storage_driver,
            "cdi_enabled": self.cdi_enabled,
            "cdi_spec_dirs": self.cdi_spec_dirs,
            "cdi_devices": self.cdi_devices,
        }


ENGINE_NAMES = {"docker": "Docker", "podman": "Podman"}


def identify(version: dict, info: dict, libpod_info: dict | None = None) -> Identity:
    """An engine's identity from its ``/version`` and ``/info`` answers (pure, for captured answers).

    - Podman's Docker-compatible API names its component "Podman Engine"; Docker's is "Engine"
    - rootless: "name=rootless" in Docker's SecurityOptions; Podman's compat ``/info`` does not say (4.3.1,
      seen), its own ``/libpod/info`` does (``host.security.rootless``)
    - containerd's image store: DriverStatus ``driver-type`` ``io.containerd.snapshotter.v1``
    - CDI: ``CDISpecDirs`` (Docker 26+: empty while features.cdi is off); none before Docker 25; Podman
      always has CDI, in /etc/cdi and /var/run/cdi
    """
    components = [c.get("Name", "") for c in version.get("Components") or [] if isinstance(c, dict)]
    if any(n.startswith("Podman") for n in components):
        kind = "podman"
    elif "Engine" in components or not components:
        kind = "docker"
    else:
        kind = components[0].lower()
    security = info.get("SecurityOptions") or []
    status = {str(k): str(v) for k, v in (info.get("DriverStatus") or []) if k}
    containerd = status.get("driver-type") == "io.containerd.snapshotter.v1"
    spec_dirs = info.get("CDISpecDirs")
    if kind == "podman":
        cdi_enabled, spec_dirs = True, spec_dirs or ["/etc/cdi", "/var/run/cdi"]
    elif spec_dirs is None:
        cdi_enabled = False if kind == "docker" and version_tuple(str(version.get("Version") or "")) < (25,) else None
    else:
        cdi_enabled = bool(spec_dirs)
    devices = [d.get("ID", "") for d in info.get("DiscoveredDevices") or [] if isinstance(d, dict)]
    return Identity(
        engine=kind,
        version=str(version.get("Version") or ""),
        api_version=str(version.get("ApiVersion") or ""),
        rootless=any("name=rootless" in str(o).split(",") for o in security)
        or bool((((libpod_info or {}).get("host") or {}).get("security") or {}).get("rootless")),
        cgroup_driver=str(info.get("CgroupDriver") or ""),
        image_store="containerd" if containerd else str(info.get("Driver") or ""),
        storage_driver=str(info.get("Driver") or ""),
        cdi_spec_dirs=list(spec_dirs or []),
        cdi_enabled=cdi_enabled,
        cdi_devices=devices,
    )


def identity(client: docker.DockerClient) -> Identity:
    """The identity of the engine ``client`` talks to, asked of it (``/version`` and ``/info``; Podman's own
    ``/libpod/info`` too, for what its compat API leaves out)."""
    version, info = engine_version(client), engine_info(client)
    podman = next((c for c in version.get("Components") or [] if str(c.get("Name", "")).startswith("Podman")), None)
    return identify(version, info, _libpod_info(client, podman.get("Version", "")) if podman else None)


@_engine_call("Podman's info")
def _libpod_info(client: docker.DockerClient, podman_version: str) -> dict | None:
    response = client.api._get(f"{client.api.base_url}/v{podman_version}/libpod/info")
    try:
        return response.json() if response.status_code == 200 else None
    except ValueError:
        return None


def version_tuple(version: str) -> tuple[int, ...]:
    """ "26.1.5+dfsg1" -> (26, 1, 5): the numbers a version comparison needs."""
    parts = []
    for piece in version.split("+")[0].split("-")[0].split(".")[:3]:
        digits = "".join(ch for ch in piece if ch.isdigit())
        if not digits:
            break
        parts.append(int(digits))
    return tuple(parts)
