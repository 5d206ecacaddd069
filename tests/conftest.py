"""Shared fixtures: the real Docker engine, the loopback registry and the test image (tests/tooling/engine-up.sh).

With RUNBOOK_REQUIRE_ENGINE=1 (set by tests/run.sh) a missing engine fails the engine tests instead of
skipping them, so that CI cannot pass without having run them.
"""

import os
import urllib.request

import docker
import pytest

from runbook import engine, i18n
from tests.utils.engine import TEST_IMAGE, require

# The tests read the runbook's English texts: whatever this machine's locale, they and the runs they start
from tests.utils.registry import REGISTRY

# The tests read the runbook's English texts: whatever this machine's locale, they and the runs they start
from tests.utils.toolkit import built_toolkit

# The tests read the runbook's English texts: whatever this machine's locale, they and the runs they start
# (which inherit the environment) speak English; the language tests ask for Chinese explicitly.
for _variable in ("LANGUAGE", "LC_ALL", "LC_MESSAGES"):
    os.environ.pop(_variable, None)
os.environ["LANG"] = "C.UTF-8"
i18n.activate()


@pytest.fixture(scope="session")
def client():
    try:
        c = docker.DockerClient(base_url="unix:///var/run/docker.sock")
        c.ping()
    except docker.errors.DockerException:
        c = None
    require(c is not None, "a Docker engine on /var/run/docker.sock")
    try:
        c.images.get(TEST_IMAGE)
        present = True
    except docker.errors.ImageNotFound:
        present = False
    require(present, f"the test image {TEST_IMAGE}")
    yield c
    c.close()


@pytest.fixture(scope="session")
def registry(client):
    try:
        urllib.request.urlopen(f"http://{REGISTRY}/v2/", timeout=5)
        answers = True
    except OSError:
        answers = False
    require(answers, f"the loopback registry at {REGISTRY}")
    return REGISTRY


@pytest.fixture
def no_leftovers(client):
    """Fails the test if it leaves a runbook-labelled container of this test session behind (its run id:
    the tests' containers carry it). Containers of other sessions on the same engine, such as another
    checkout's tests running at the same time, carry their own run id and are left alone."""
    run = engine.run_id()
    before = {c.id for c in engine.labelled(client)}
    yield
    ours = [c for c in engine.labelled(client) if c.id not in before and c.labels.get(f"{engine.LABEL}.run") == run]
    for c in ours:
        c.remove(force=True)
    assert not ours, f"runbook containers left on the engine: {[c.name for c in ours]}"


@pytest.fixture(scope="session")
def toolkit_bin():
    """The NVIDIA Container Toolkit's four programs, built from its source by tests/tooling/toolkit-up.sh."""
    return built_toolkit("bin")


@pytest.fixture(scope="session")
def toolkit_repo():
    """The toolkit's packages in a signed repository laid out like NVIDIA's (tests/tooling/toolkit-up.sh)."""
    return built_toolkit("repo")
