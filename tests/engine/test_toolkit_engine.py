"""The engine configuration step applied to the real dockerd: /etc/docker/daemon.json merged (the
existing settings kept), the engine restarted, and `docker info` then reports the nvidia runtime.
The toolkit's runtime program is not installed here, so a container asking for it fails with the
diagnosis that says so. The original daemon.json is put back afterwards."""

import json
import os
from pathlib import Path

import docker
import pytest

from runbook import diagnosis, engine, toolkit
from runbook.errors import ContainerFailed
from runbook.toolkit.targets import HostTarget
from tests.utils.engine import TEST_IMAGE

pytestmark = pytest.mark.engine
DAEMON_JSON = Path("/etc/docker/daemon.json")
RESTART = ["bash", str(Path(__file__).resolve().parents[1] / "tooling" / "engine-restart.sh")]


@pytest.fixture
def engine_config(client):
    if os.geteuid() != 0:
        pytest.skip("changing /etc/docker/daemon.json needs root")
    original = DAEMON_JSON.read_bytes() if DAEMON_JSON.exists() else None
    DAEMON_JSON.parent.mkdir(parents=True, exist_ok=True)
    DAEMON_JSON.write_text(json.dumps({"log-opts": {"max-size": "10m"}, "max-concurrent-downloads": 4}, indent=4))
    yield
    for backup in DAEMON_JSON.parent.glob("daemon.json.bak-*"):
        backup.unlink()
    if original is None:
        DAEMON_JSON.unlink()
    else:
        DAEMON_JSON.write_bytes(original)
    assert HostTarget().run(RESTART)[0] == 0


def engine_info(client) -> dict | None:
    try:
        return client.info()
    except docker.errors.DockerException:  # the engine is restarting
        return None


def has_nvidia_runtime(client) -> bool:
    return "nvidia" in ((engine_info(client) or {}).get("Runtimes") or {})


def test_configure_and_restart_make_the_engine_report_the_runtime(client, engine_config, no_leftovers):
    assert not has_nvidia_runtime(client)
    settings = toolkit.EngineSettings(
        daemon_json=str(DAEMON_JSON), restart=RESTART, engine_info=lambda: engine_info(client)
    )
    steps = toolkit.engine_steps(settings)
    plan = toolkit.Plan("apt", "this host", steps)
    applied = toolkit.apply(plan, HostTarget(), log=lambda m: None)
    assert [a.outcome for a in applied] == ["applied", "applied"]
    assert has_nvidia_runtime(client)
    config = json.loads(DAEMON_JSON.read_text())
    assert config["log-opts"] == {"max-size": "10m"} and config["max-concurrent-downloads"] == 4
    assert len(list(DAEMON_JSON.parent.glob("daemon.json.bak-*"))) == 1
    # applied again: nothing to do, no restart
    again = toolkit.apply(
        toolkit.Plan("apt", "this host", toolkit.engine_steps(settings)), HostTarget(), log=lambda m: None
    )
    assert [a.outcome for a in again] == ["already done", "already done"]
    # the runtime is registered but its program is missing here: a clear diagnosis, not a traceback
    with pytest.raises(ContainerFailed) as e:
        engine.run(client, TEST_IMAGE, ["true"], timeout_s=60, options={"runtime": "nvidia"})
    assert e.value.cause == diagnosis.by_key("runtime_binary_missing").cause, e.value.evidence
