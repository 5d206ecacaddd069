"""A real engine with a dead mirror before a good one: the network rung reads the mirrors from the
engine (`docker info`), says the dead one does not answer and which serves the image, and the engine
pulls through the good one. The engine is a SECOND dockerd of this test (its own socket, data root,
exec root and pidfile, no bridge), started with two --registry-mirror flags: a loopback server
answering 402 (a mirror whose quota is used up) and the loopback registry at 127.0.0.1:5000."""

import json
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
from tests.utils.cli import checks, run_cli
from tests.utils.loopback import answering
from tests.utils.registry import REGISTRY, registry_only_image

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


def test_a_run_with_the_cn_preset_and_no_internet_names_every_candidate_and_fails_in_bounded_time(tmp_path):
    """This machine has no route to the internet, as a host in mainland China has none to Docker Hub:
    the shipped cn preset's candidates and Docker Hub are each reported, none is kept, and the check
    fails with 'no registry reachable' and a fix, in English and in Chinese, well within 30 s."""
    from runbook.network import mirrors

    for lang, wanted in (("en", "no registry reachable"), ("zh_CN", "没有可达的")):
        out = tmp_path / lang
        start = time.monotonic()
        run_cli("--out", str(out), "--only", "1", "-p", "registry_mirrors", "cn", "-p", "lang", lang)
        took = time.monotonic() - start
        _, by_id = checks(out)
        c = by_id["network.registries"]
        probed = [p["url"] for p in c["data"]["probes"]]
        if any(p["outcome"] == "registry" for p in c["data"]["probes"]):
            pytest.skip("this machine reaches a public registry: the no-internet case cannot be observed")
        assert c["status"] == "fail" and wanted in c["detail"], c["detail"]
        assert probed == [*mirrors.presets()["registry_mirrors"]["cn"], mirrors.HUB_ENDPOINT], probed
        assert all(u in c["detail"] for u in probed), "the detail's table names every candidate"
        assert c["data"]["kept_mirrors"] == [] and c["remediation"], c
        assert took < 60, f"the run took {took:.0f} s"  # the probes' own bound is measured by the benchmark


def test_a_run_with_the_preset_mapped_to_loopback_keeps_the_working_mirror(tmp_path, registry):
    """RUNBOOK_MIRROR_PRESETS maps cn to a mirror answering 402, a name that never resolves and the
    loopback registry: the run keeps the third and says the Docker Hub images will come through it."""
    with answering(402) as quota:
        presets = tmp_path / "presets.json"
        candidates = [quota, "https://mirror.example.invalid", f"http://{REGISTRY}"]
        presets.write_text(json.dumps({"registry_mirrors": {"cn": {"candidates": [{"url": u} for u in candidates]}}}))
        env = {**os.environ, "RUNBOOK_MIRROR_PRESETS": str(presets)}
        run_cli("--out", str(tmp_path / "r"), "--only", "1", "-p", "registry_mirrors", "cn", env=env)
    _, by_id = checks(tmp_path / "r")
    c = by_id["network.registries"]
    assert c["status"] == "pass", c["detail"]
    assert c["data"]["kept_mirrors"] == [f"http://{REGISTRY}"], c["data"]
    assert [p["outcome"] for p in c["data"]["probes"]][:3] == ["quota", "dns", "registry"], c["data"]["probes"]
    for image, source in c["data"]["images"].items():
        assert source["source"] == f"http://{REGISTRY}" and source["via"] == "candidate mirror", (image, source)


def test_a_run_through_the_engine_with_the_dead_mirror_first_pulls_through_the_good_one(
    mirrored_engine, image_on_the_good_mirror, tmp_path
):
    """Steps 1 and 3 on the second engine: the record says the image comes through the loopback mirror,
    and step 3's pull of it passes (Docker Hub itself is unreachable from here)."""
    address, other, dead = mirrored_engine
    image = image_on_the_good_mirror
    args = ["--only", "1", "--only", "3", "-p", "docker_host", address, "-p", "cuda_image", image]
    proc = run_cli("--out", str(tmp_path / "r"), *args, "-p", "pytorch_image", image)
    _, by_id = checks(tmp_path / "r")
    network = by_id["network.registries"]
    assert network["status"] == "warn", network["detail"]  # the 402 mirror is in the engine, first
    assert network["data"]["images"][image]["source"] == f"http://{REGISTRY}", network["data"]
    pulled = by_id["cuda.pull"]
    assert pulled["status"] == "pass", f"{pulled['detail']} {proc.stderr[-1000:]}"
    assert other.images.get(image).id in pulled["data"]["id"]
