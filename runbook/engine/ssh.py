"""Engines reached over SSH (``ssh://``): why a connection failed, in the runbook's terms.

docker-py connects with paramiko (``docker[ssh]``), then runs ``docker system dial-stdio`` on the remote
host and speaks the engine's API through it. Its failures surface as paramiko's exceptions (host key,
authentication, no SSH server) or, when SSH works and the engine does not answer, as a bare "connection
aborted" that says nothing of why. ``explain`` turns either into an EngineError with the diagnosis
table's cause and fix; in the second case it asks the remote host itself, over the same SSH connection
docker-py makes, what ``docker version`` says there (no Docker CLI, no engine running, no permission).

What docker-py takes from ~/.ssh/config (HostName, User, IdentityFile, ProxyCommand) and what it does
not (Port: the port is the address's, 22 when none is given; UserKnownHostsFile: only
~/.ssh/known_hosts is read) is said in the diagnoses, since both trip people up.
"""

from __future__ import annotations

import os
import urllib.parse

import paramiko
from docker.errors import DockerException
from docker.transport import SSHHTTPAdapter
from docker.utils import parse_host

from .. import diagnosis
from ..errors import EngineError, EnginePermissionDenied, EngineUnreachable
from ..i18n import _

PROBE = "docker version --format '{{.Server.Version}}'"


def explain(address: str, error: BaseException, timeout: float = 30) -> EngineError:
    """The runbook's error for ``error``, raised while connecting to the ssh:// engine at ``address``."""
    if isinstance(error, DockerException):  # SSH worked; the engine's API did not answer through it
        return _ask_remote(address, error, timeout)
    text = f"{type(error).__name__}: {error}"
    fields = diagnosis.explain(text, key="ssh_unreachable")
    message = _("cannot reach the Docker engine at {address} over SSH: {error}").format(address=address, error=error)
    hint = config_port_hint(address)
    if hint and isinstance(error, OSError):
        message = f"{message} ({hint})"
    return EngineUnreachable(message, evidence=text, **fields)


def _ask_remote(address: str, error: DockerException, timeout: float) -> EngineError:
    """SSH works but the engine did not answer: run ``docker version`` there and diagnose its words."""
    host = urllib.parse.urlparse(address).hostname or address
    try:
        adapter = SSHHTTPAdapter(parse_host(address), timeout=timeout)
    except (paramiko.SSHException, OSError) as e:
        return explain(address, e, timeout)
    try:
        _stdin, stdout, stderr = adapter.ssh_client.exec_command(PROBE, timeout=timeout)
        out = stdout.read().decode(errors="replace").strip()
        err = stderr.read().decode(errors="replace").strip()
        status = stdout.channel.recv_exit_status()
    except (paramiko.SSHException, OSError) as e:
        err, status, out = f"{type(e).__name__}: {e}", -1, ""
    finally:
        adapter.close()
    said = err or out or _("exit status {status}").format(status=status)
    evidence = f"{error}\n`{PROBE}` on {host}: exit status {status}\n{said}"
    d = diagnosis.diagnose(err)
    if d is not None and d.key == "docker_permission":
        return EnginePermissionDenied(
            _("SSH to {host} works, but that user may not use the Docker engine there: {said}").format(
                host=host, said=said
            ),
            evidence=evidence,
            **d.fields(),
        )
    if d is not None and d.key == "ssh_no_docker_cli":
        return EngineUnreachable(
            _("SSH to {host} works, but it has no `docker` command: {said}").format(host=host, said=said),
            evidence=evidence,
            **d.fields(),
        )
    fields = (d or diagnosis.by_key("engine_unreachable")).fields()
    return EngineUnreachable(
        _("SSH to {host} works, but no Docker engine answers there: {said}").format(host=host, said=said),
        evidence=evidence,
        **fields,
    )


def config_port_hint(address: str) -> str:
    """When ~/.ssh/config gives the host a Port other than the one docker-py connects to, say so."""
    url = urllib.parse.urlparse(parse_host(address))
    path = os.path.expanduser("~/.ssh/config")
    if not url.hostname or not os.path.exists(path):
        return ""
    config = paramiko.SSHConfig.from_path(path).lookup(url.hostname)
    port = config.get("port")
    if port is None or str(port) == str(url.port):
        return ""
    user = f"{url.username}@" if url.username else ""
    return _(
        "~/.ssh/config gives {host} Port {port}, but docker-py connects to the address's port, {used}: write {address}"
    ).format(host=url.hostname, port=port, used=url.port, address=f"ssh://{user}{url.hostname}:{port}")
