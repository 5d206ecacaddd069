"""The engine-side checks against every engine a GPU user has: the shared Docker 20.10
(tests/tooling/engine-up.sh), Docker 26.1 from Debian trixie, Docker 28.5 from sid (CDI on by default), the same
Docker 28.5 with the containerd image store (the default of new Docker 29 installs) and
Podman through its Docker-compatible API, 4.3 and 5.4 (tests/tooling/engines-up.sh), each a real engine on its
own socket. Rootless Podman runs where this machine lets an unprivileged user map ids; where not, its tests
skip with the reason tests/tooling/engines-up.sh found.

A focused set per engine (the machine has 2 CPUs): connect and identity, a container run and removed,
leftovers found by label, a pull with progress from the loopback registry, and the GPU-mode diagnoses
that can be observed without a GPU.
"""

import uuid

import docker
import pytest

from runbook import engine
from runbook.engine import gpu_access
from runbook.steps import gpu_container, preflight
from tests.utils.engine import TEST_IMAGE, labelled_container, require, runbook_labels
from tests.utils.paths import CACHE
from tests.utils.registry import REGISTRY, registry_only_image

pytestmark = pytest.mark.engine

# name in engines.env -> (engine, major version at least)
ENGINES = {
    "DOCKER_SHARED": ("docker", 20),
    "DOCKER_TRIXIE": ("docker", 26),
    "DOCKER_SID": ("docker", 28),
    "DOCKER_SID_CONTAINERD": ("docker", 28),  # the containerd image store, as new Docker 29 installs have it
    "PODMAN": ("podman", 4),
    "PODMAN_TRIXIE": ("podman", 5),
    "PODMAN_ROOTLESS": ("podman", 4),
}


def engines_env() -> dict[str, str]:
    """tests/tooling/engines-up.sh's record of the engines it brought up (NAME=socket) and of those it could not
    (NAME_UNAVAILABLE=why); the shared engine is always /var/run/docker.sock."""
    found = {"DOCKER_SHARED": engine.DEFAULT_HOST}
    path = CACHE / "engines.env"
    if path.exists():
        for line in path.read_text().splitlines():
            key, sep, value = line.partition("=")
            if sep:
                found[key.strip()] = value.strip()
    return found


@pytest.fixture(scope="module", params=list(ENGINES))
def each(request):
    """(name, address, client) of one engine; skipped with tests/tooling/engines-up.sh's reason where it is not up."""
    name = request.param
    env = engines_env()
    if f"{name}_UNAVAILABLE" in env:
        pytest.skip(f"{name}: {env[f'{name}_UNAVAILABLE']}")
    require(name in env, f"the engine {name}", "run tests/tooling/engines-up.sh (as root)")
    try:
        c = docker.DockerClient(base_url=env[name], timeout=120)
        c.ping()
    except docker.errors.DockerException as e:
        c = None
        require(False, f"the engine {name} at {env[name]} ({e})", "run tests/tooling/engines-up.sh (as root)")
    require(
        engine.image_present(c, TEST_IMAGE), f"the test image in {name}", "run tests/tooling/engines-up.sh (as root)"
    )
    yield name, env[name], c
    c.close()


def test_identity_names_the_engine_and_its_version(each):
    name, address, client = each
    kind, major = ENGINES[name]
    who = engine.identity(client)
    assert who.engine == kind, f"{name} at {address} identified as {who.engine}"
    assert engine.version_tuple(who.version)[0] >= major, who.version
    assert who.api_version and who.cgroup_driver and who.image_store, who
    assert who.rootless is name.endswith("ROOTLESS"), f"{name}: rootless={who.rootless}"
    if kind == "podman":
        assert who.cdi_enabled is True, "Podman resolves CDI devices itself"
    if name.endswith("CONTAINERD"):
        assert who.image_store == "containerd", f"{name}: image store {who.image_store}"
    elif kind == "docker":
        assert who.image_store != "containerd", f"{name}: image store {who.image_store}"
    reached = next(c for c in preflight.run(docker_host=address) if c.id == "engine.reachable")
    assert reached.ok, reached.detail
    assert reached.detail.startswith(who.name), reached.detail
    assert reached.data["engine"] == kind and reached.data["address"] == address


def test_a_container_runs_and_is_removed(each):
    name, _address, client = each
    before = {c.id for c in engine.labelled(client)}
    out = engine.run(client, TEST_IMAGE, ["sh", "-c", "echo ok; echo err >&2; exit 3"], timeout_s=60)
    assert out.exit_code == 3, f"{name}: exit {out.exit_code}"
    assert "ok" in out.output and "err" in out.output, out.output
    assert {c.id for c in engine.labelled(client)} <= before, f"{name} kept the container"


def test_leftovers_are_found_by_label_and_removed(each):
    name, _address, client = each
    run = f"test-{uuid.uuid4().hex[:8]}"
    with labelled_container(client, ["true"], start=False, labels=runbook_labels(run)) as left:
        assert left.id in {c.id for c in engine.labelled(client)}, f"{name} does not filter by the label"
        assert engine.remove_leftovers(client, run) == 1
        assert left.id not in {c.id for c in engine.labelled(client)}


@pytest.fixture(scope="module")
def pushed(client, registry):
    """A 3 MB image of its own on the loopback registry (pushed by the shared engine), for every engine to
    pull over http from 127.0.0.1:5000."""
    with registry_only_image(client, registry, "engines", 3) as ref:
        yield ref


def test_a_pull_from_the_loopback_registry_reports_progress(each, pushed):
    name, _address, client = each
    assert pushed.startswith(REGISTRY)
    events = []
    image = engine.pull(client, pushed, "missing", 300, events.append)
    try:
        assert any(pushed.split("/", 1)[1] in t for t in image.tags), image.tags
        assert events, f"{name} sent no progress event"
        assert engine.image_present(client, pushed)
        again = []
        engine.pull(client, pushed, "missing", 300, again.append)
        assert again == [], "present: pull=missing does not pull again"
    finally:
        client.images.remove(pushed, force=True)


def gpu_step(address: str, mode: str) -> dict:
    checks = gpu_container.run(docker_host=address, gpu_mode=mode, cuda_image=TEST_IMAGE, pull="never")
    return {c.id: c for c in checks}


def test_gpus_mode_without_a_gpu_never_passes_and_is_diagnosed(each):
    """No GPU here: the chosen mode must fail, with the engine's own reason. On Podman that reason comes
    from the mode table (it would run the container without the GPU); on Docker from the engine's error."""
    name, address, _client = each
    by_id = gpu_step(address, "gpus")
    seen = by_id["gpu.nvidia_smi"]
    assert seen.status.value == "fail", f"{name}: {seen.status.value}: {seen.detail}"
    assert by_id["gpu.container_runs"].ok, by_id["gpu.container_runs"].detail
    if ENGINES[name][0] == "podman":
        assert "Podman ignores --gpus device requests; use gpu_mode=cdi" in seen.detail, seen.detail
        assert "cdi generate" in seen.remediation
    else:
        assert 'could not select device driver ""' in seen.evidence, seen.evidence
        assert "NVIDIA Container Toolkit" in seen.remediation, seen.remediation


def test_cdi_mode_is_diagnosed_by_what_the_engine_can_take(each):
    name, address, client = each
    seen = gpu_step(address, "cdi")["gpu.nvidia_smi"]
    assert seen.status.value == "fail", f"{name}: {seen.status.value}: {seen.detail}"
    who = engine.identity(client)
    if who.engine == "podman" and engine.version_tuple(who.version) < (5, 4):
        assert "only from 5.4" in seen.detail, seen.detail
    elif who.engine == "docker" and engine.version_tuple(who.version) < (25,):
        assert "only from version 25" in seen.detail, seen.detail
    elif who.cdi_enabled is False:
        assert "CDI is off" in seen.detail, seen.detail
    else:  # CDI on and no specification on this machine: the engine's own words, diagnosed
        assert "unresolvable CDI devices" in seen.evidence, seen.evidence
        assert "cdi generate" in seen.remediation, seen.remediation


def test_podmans_compat_api_really_starts_a_gpus_container_without_the_gpu(each):
    """Why the table refuses --gpus on Podman: asked through its Docker-compatible API, Podman runs the
    container, exit 0, without a single NVIDIA device node and without an error. When this stops being
    so, the table's Podman rows need another look."""
    name, _address, client = each
    if ENGINES[name][0] != "podman":
        pytest.skip(f"{name} is Docker: it refuses --gpus without the toolkit (the test above)")
    for mode in ("gpus", "runtime"):
        out = engine.run(client, TEST_IMAGE, ["sh", "-c", "ls /dev"], timeout_s=60, options=gpu_access.options(mode))
        assert out.exit_code == 0, f"gpu_mode={mode}: exit {out.exit_code}: {out.output}"
        assert "nvidia" not in out.output, f"gpu_mode={mode} put NVIDIA devices in: {out.output}"
