"""The apt install plan applied for real: a signed apt repository laid out like NVIDIA's (a throwaway
GPG key, Debian's hello package re-hosted in it), served on loopback, and the plan applied inside a
Debian container through the Docker SDK. NVIDIA's own repository cannot be reached from here, so the
plan's mirror, key and package names point at this one; its .list is NVIDIA's, verbatim (naming
nvidia.github.io), so apt reaches the repository only if the plan rewrites it to the mirror."""

import os
from pathlib import Path

import pytest

from runbook import diagnosis, toolkit
from runbook.errors import ToolkitError
from runbook.toolkit import repos
from runbook.toolkit.targets import ContainerTarget
from tests.utils.apt import AptRepo, make_key
from tests.utils.engine import labelled_container

pytestmark = pytest.mark.engine
CACHE = Path(os.environ.get("RUNBOOK_TEST_CACHE", "/var/cache/gpu-runbook-test"))


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    base = tmp_path_factory.mktemp("apt")
    (base / "www").mkdir()
    r = AptRepo(base / "www", base / "gnupg")
    yield r
    r.close()


@pytest.fixture
def debian(client, no_leftovers):
    """A Debian container on the host's network (to reach the loopback repository), Debian's own
    sources removed so that only the test repository is used."""
    with labelled_container(client, network_mode="host") as c:
        c.exec_run(["rm", "-f", "/etc/apt/sources.list"])
        yield ContainerTarget(c)


def test_the_apt_plan_installs_from_a_signed_repository(repo, debian):
    plan = toolkit.install_plan({"ID": "debian", "PRETTY_NAME": "Debian 12"}, debian, repo.source())
    applied = toolkit.apply(plan, debian, log=lambda m: None)
    assert [a.outcome for a in applied] == ["applied"] * 3
    code, out = debian.run(["hello"])
    assert code == 0 and "Hello, world!" in out
    assert debian.read(repos.KEYRING) == repos.dearmor((repo.root / "gpgkey").read_bytes())
    listed = debian.read(repos.APT_LIST).decode()
    expected = f"deb [signed-by={repos.KEYRING}] {repo.url}/stable/deb/$(ARCH) /"
    assert expected in listed, f"expected the line {expected!r} in:\n{listed}"
    assert "nvidia.github.io" not in listed, f"NVIDIA's host is still named in:\n{listed}"
    # applied again: nothing changes, and it says so
    again = toolkit.apply(toolkit.install_plan({"ID": "debian"}, debian, repo.source()), debian, log=lambda m: None)
    assert [a.outcome for a in again] == ["already done"] * 3


def test_a_pinned_version_that_the_repository_lacks_fails_clearly(repo, debian):
    source = toolkit.Source(mirror=repo.url, packages=("hello",), version="9.9-9")
    with pytest.raises(ToolkitError) as e:
        toolkit.apply(toolkit.install_plan({"ID": "debian"}, debian, source), debian, log=lambda m: None)
    assert "apt-get install failed" in str(e.value)
    assert "9.9-9" in e.value.evidence


def test_a_wrong_key_fails_with_the_signature_diagnosis(repo, debian, tmp_path):
    other = make_key(tmp_path / "other", "impostor")
    good = (repo.root / "gpgkey").read_bytes()
    (repo.root / "gpgkey").write_bytes(other)
    try:
        with pytest.raises(ToolkitError) as e:
            toolkit.apply(toolkit.install_plan({"ID": "debian"}, debian, repo.source()), debian, log=lambda m: None)
    finally:
        (repo.root / "gpgkey").write_bytes(good)
    assert "apt-get update failed" in str(e.value)
    assert e.value.cause == diagnosis.by_key("apt_signature").cause, e.value.evidence
    assert debian.run(["dpkg-query", "-W", "hello"])[0] != 0, "nothing may be installed from an unverified repository"


def test_a_stale_conflicting_list_is_found_and_removed(repo, debian):
    stale = "/etc/apt/sources.list.d/nvidia-docker.list"
    debian.write(stale, f"deb [signed-by=/usr/share/keyrings/old.gpg] {repo.url}/stable/deb/$(ARCH) /\n".encode())
    # beside our list, apt refuses to run at all: the failure the plan prevents
    debian.write(repos.APT_LIST, f"deb [signed-by={repos.KEYRING}] {repo.url}/stable/deb/$(ARCH) /\n".encode())
    code, out = debian.run(["apt-get", "update"])
    assert code != 0 and diagnosis.diagnose(out).key == "apt_signed_by_conflict", out
    plan = toolkit.install_plan({"ID": "debian"}, debian, repo.source())
    assert plan.commands()[0] == f"sudo rm {stale}"
    toolkit.apply(plan, debian, log=lambda m: None)
    assert debian.read(stale) is None
    assert debian.run(["hello"])[0] == 0
