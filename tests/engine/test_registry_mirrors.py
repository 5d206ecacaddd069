"""A real engine with a dead mirror before a good one: the network rung reads the mirrors from the
engine (`docker info`), says the dead one does not answer and which serves the image, and the engine
pulls through the good one. The engine is a SECOND dockerd of this test (its own socket, data root,
exec root and pidfile, no bridge), started with two --registry-mirror flags: a loopback server
answering 402 (a mirror whose quota is used up) and the loopback registry at 127.0.0.1:5000."""

import os
import shutil
import subprocess
import time
import uuid
from pathlib import Path

import docker
import pytest

from runbook import engine
from runbook.params import validate
from runbook.steps import Context, registries
from tests.helpers import REGISTRY, answering, registry_only_image

pytestmark = pytest.mark.engine


@pytest.fixture
def image_on_the_good_mirror(client, registry):
    """A Docker Hub style name (runbook-test/mirror:TAG) whose only copy is in the loopback registry."""
    with registry_only_image(client, REGISTRY, "mirror", 1) as ref:
        yield ref.split("/", 1)[1]


@pytest.fixture
def mirrored_engine(tmp_path_factory):
    if os.geteuid() != 0 or shutil.which("dockerd") is None:
        pytest.skip("a second dockerd needs root and dockerd")
    with answering(402, {"Content-Type": "text/plain"}, b"quota exhausted") as dead:
        root = Path("/tmp") / f"rb-mirrors-{uuid.uuid4().hex[:6]}"
        root.mkdir()
        sock = root / "docker.sock"
        log = open(root / "dockerd.log", "w")
        argv = ["dockerd", "--bridge=none", "--iptables=false", "--ip6tables=false", "-H", f"unix://{sock}"]
        argv += ["--data-root", str(root / "data"), "--exec-root", str(root / "exec")]
        argv += ["--pidfile", str(root / "dockerd.pid"), "--config-file", str(root / "daemon.json")]
        argv += ["--registry-mirror", dead, "--registry-mirror", f"http://{REGISTRY}"]
        (root / "daemon.json").write_text("{}")
        proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            other = None
            for _ in range(60):
                try:
                    other = docker.DockerClient(base_url=f"unix://{sock}")
                    other.ping()
                    break
                except docker.errors.DockerException:
                    other = None
                    time.sleep(0.5)
            assert other is not None, (root / "dockerd.log").read_text()[-2000:]
            yield f"unix://{sock}", other, dead
        finally:
            proc.terminate()
            proc.wait(timeout=60)
            log.close()
            shutil.rmtree(root, ignore_errors=True)


def test_the_engine_pulls_through_the_good_mirror_after_the_dead_one(mirrored_engine, image_on_the_good_mirror):
    address, other, dead = mirrored_engine
    image = image_on_the_good_mirror
    ctx = Context(validate({"docker_host": address, "cuda_image": image, "pytorch_image": image}), client=other)

    seen = registries.engine_mirrors(ctx)
    assert seen == [dead, f"http://{REGISTRY}"], f"the engine's mirrors as `docker info` says: {seen}"

    from runbook.results import Outcome, Status

    with pytest.raises(Outcome) as o:
        registries.check_registries(ctx)
    assert o.value.status is Status.WARN, o.value.detail
    source = o.value.data["images"][image]
    assert source == {"source": f"http://{REGISTRY}", "via": "engine mirror", "registry": "docker.io"}, source
    assert dead in o.value.detail and "quota" in o.value.detail, o.value.detail
    assert "402" in o.value.cause, o.value.cause

    asked_before = len(dead.requests)
    pulled = engine.pull(other, image, "missing", 120)
    assert pulled.id and other.images.get(image).id == pulled.id
    assert len(dead.requests) > asked_before, "the engine did not try the dead mirror first"
