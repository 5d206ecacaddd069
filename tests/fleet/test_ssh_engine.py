"""ssh:// engines against the test fleet's hosts: the runbook reaches a host's own engine over SSH
(docker-py with paramiko), and each way that fails is told apart with its cause and fix: an unknown
host key, a refused key, no SSH server (and a port only ~/.ssh/config knows), a host whose engine is
stopped, a host without the Docker CLI."""

import os
import subprocess

import docker
import pytest

from runbook import diagnosis, engine
from runbook.engine import ssh as remote
from runbook.errors import EngineUnreachable
from tests.utils.cli import assert_status, checks, run_cli

pytestmark = pytest.mark.fleet


def connect_error(address: str) -> BaseException:
    """What docker-py raises for ``address``, as the runbook's engine.connect meets it."""
    try:
        docker.DockerClient(base_url=address, timeout=30).close()
    except Exception as e:  # docker-py's, paramiko's and socket errors: what engine.connect meets
        return e
    raise AssertionError(f"{address}: the connection was expected to fail")


def address(fleet, host: str) -> str:
    return f"ssh://{host}:{fleet.ports[host]}"


def assert_diagnosed(error, key: str) -> None:
    expected = diagnosis.by_key(key)
    assert error.cause == expected.cause, f"expected the diagnosis {key}, got cause {error.cause!r} ({error})"


def test_the_runbook_reaches_a_hosts_own_engine_over_ssh(fleet, tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(fleet.home(tmp_path)))
    client = engine.connect(address(fleet, "fleet-01"))
    try:
        root = client.info()["DockerRootDir"]
    finally:
        client.close()
    own = fleet.engine_socket("fleet-01").removeprefix("unix://").removesuffix("docker.sock") + "data"
    assert root == own, f"expected fleet-01's own engine (data root {own}), got {root}"


def test_a_headless_run_checks_an_ssh_engine(fleet, tmp_path):
    home = fleet.home(tmp_path / "home")
    env = {**os.environ, "HOME": str(home)}
    proc = run_cli(
        "--only", "1", "--out", str(tmp_path / "record"), "-p", "docker_host", address(fleet, "fleet-02"), env=env
    )
    assert proc.returncode == 1, f"expected exit 1 (no GPU here), got {proc.returncode}: {proc.stderr[-2000:]}"
    _, by_id = checks(tmp_path / "record")
    assert_status(by_id, "engine.reachable", "pass")


def test_an_unknown_host_key_is_diagnosed(fleet, tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(fleet.home(tmp_path, known_hosts=False)))
    target = address(fleet, "fleet-01")
    error = remote.explain(target, connect_error(target))
    assert isinstance(error, EngineUnreachable), f"expected EngineUnreachable, got {type(error).__name__}"
    assert_diagnosed(error, "ssh_host_key_unknown")


def test_a_refused_key_is_diagnosed(fleet, tmp_path, monkeypatch):
    key = tmp_path / "not-authorized"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    monkeypatch.setenv("HOME", str(fleet.home(tmp_path / "home", key=key)))
    target = address(fleet, "fleet-01")
    assert_diagnosed(remote.explain(target, connect_error(target)), "ssh_auth")


def test_no_ssh_server_is_diagnosed(fleet, tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(fleet.home(tmp_path)))
    target = address(fleet, "fleet-down-01")
    assert_diagnosed(remote.explain(target, connect_error(target)), "ssh_unreachable")


def test_a_port_only_the_ssh_config_knows_is_named(fleet, tmp_path, monkeypatch):
    """docker-py connects to the address's port (22 when none is given), not ~/.ssh/config's Port."""
    monkeypatch.setenv("HOME", str(fleet.home(tmp_path)))
    error = remote.explain("ssh://fleet-01", connect_error("ssh://fleet-01"))
    assert_diagnosed(error, "ssh_unreachable")
    expected = f"ssh://fleet-01:{fleet.ports['fleet-01']}"
    assert expected in str(error), f"expected the address to write, {expected}, in: {error}"


def test_a_stopped_engine_is_diagnosed(fleet, tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(fleet.home(tmp_path)))
    target = address(fleet, "fleet-stopped-01")
    error = remote.explain(target, connect_error(target))
    assert_diagnosed(error, "engine_unreachable")
    assert "Cannot connect to the Docker daemon" in str(error), f"the remote docker's words are missing: {error}"


def test_a_host_without_the_docker_cli_is_diagnosed(fleet, tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(fleet.home(tmp_path)))
    target = address(fleet, "fleet-stopped-01")
    moved = fleet.sh("fleet-stopped-01", "mv /usr/bin/docker /usr/bin/docker.away")
    assert moved.returncode == 0, moved.stderr
    try:
        error = remote.explain(target, connect_error(target))
    finally:
        fleet.sh("fleet-stopped-01", "mv /usr/bin/docker.away /usr/bin/docker")
    assert_diagnosed(error, "ssh_no_docker_cli")
