"""The apt install plan applied for real: a signed apt repository laid out like NVIDIA's (a throwaway
GPG key, Debian's hello package re-hosted in it), served on loopback, and the plan applied inside a
Debian container through the Docker SDK. NVIDIA's own repository cannot be reached from here, so the
plan's mirror, key and package names point at this one."""
import functools
import glob
import hashlib
import http.server
import os
import subprocess
import threading
from pathlib import Path

import pytest

from runbook import diagnosis, engine, toolkit
from runbook.targets import ContainerTarget

from conftest import TEST_IMAGE

pytestmark = pytest.mark.engine
CACHE = Path(os.environ.get("RUNBOOK_TEST_CACHE", "/var/cache/gpu-runbook-test"))


def gpg(home, *args, data=None):
    return subprocess.run(["gpg", "--batch", "--yes", "--homedir", str(home), *args], input=data,
                          capture_output=True, check=True).stdout


def make_key(home, name):
    home.mkdir(mode=0o700)
    gpg(home, "--passphrase", "", "--quick-gen-key", f"{name} <{name}@example.invalid>", "rsa2048", "sign", "1d")
    return gpg(home, "--armor", "--export")


def build_repo(root: Path, home: Path, port_holder: list):
    debs = sorted(glob.glob(str(CACHE / "debs" / "hello_*.deb")))
    if not debs:
        pytest.fail(f"no hello .deb in {CACHE}/debs; run tests/engine-up.sh")
    arch_dir = root / "stable" / "deb" / "amd64"
    arch_dir.mkdir(parents=True)
    (arch_dir / Path(debs[0]).name).write_bytes(Path(debs[0]).read_bytes())
    packages = subprocess.run(["dpkg-scanpackages", "--multiversion", "."], cwd=arch_dir, capture_output=True,
                              check=True).stdout
    (arch_dir / "Packages").write_bytes(packages)
    digest = hashlib.sha256(packages).hexdigest()
    release = ("Origin: runbook-test\nLabel: runbook-test\nSuite: stable\nCodename: stable\n"
               "Date: Sat, 28 Nov 2026 00:00:00 UTC\nArchitectures: amd64\n"
               f"SHA256:\n {digest} {len(packages)} Packages\n")
    (arch_dir / "Release").write_text(release)
    (arch_dir / "InRelease").write_bytes(gpg(home, "--clearsign", "--output", "-", str(arch_dir / "Release")))


class Repo:
    def __init__(self, root: Path):
        self.root = root
        handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
        handler.log_message = lambda *a: None
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        (root / "stable" / "deb" / "nvidia-container-toolkit.list").write_text(
            f"deb {self.url}/stable/deb/$(ARCH) /\n#deb {self.url}/experimental/deb/$(ARCH) /\n")
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def source(self):
        return toolkit.Source(mirror=self.url, packages=("hello",))


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    base = tmp_path_factory.mktemp("apt")
    home = base / "gnupg"
    key = make_key(home, "repo")
    root = base / "www"
    root.mkdir()
    (root / "gpgkey").write_bytes(key)
    build_repo(root, home, [])
    r = Repo(root)
    yield r
    r.server.shutdown()


@pytest.fixture
def debian(client, no_leftovers):
    """A Debian container on the host's network (to reach the loopback repository), Debian's own
    sources removed so that only the test repository is used."""
    c = client.containers.run(TEST_IMAGE, ["sleep", "900"], detach=True, network_mode="host",
                              labels={engine.LABEL: "1", f"{engine.LABEL}.run": engine.run_id(),
                                      f"{engine.LABEL}.deadline": "0"})
    c.exec_run(["rm", "-f", "/etc/apt/sources.list"])
    yield ContainerTarget(c)
    c.remove(force=True)


def test_the_apt_plan_installs_from_a_signed_repository(repo, debian):
    plan = toolkit.install_plan({"ID": "debian", "PRETTY_NAME": "Debian 12"}, debian, repo.source())
    applied = toolkit.apply(plan, debian, log=lambda m: None)
    assert [a.outcome for a in applied] == ["applied"] * 3
    code, out = debian.run(["hello"])
    assert code == 0 and "Hello, world!" in out
    assert debian.read(toolkit.KEYRING) == toolkit.dearmor((repo.root / "gpgkey").read_bytes())
    assert f"deb [signed-by={toolkit.KEYRING}] {repo.url}/stable/deb/$(ARCH) /" in debian.read(toolkit.APT_LIST).decode()
    # applied again: nothing changes, and it says so
    again = toolkit.apply(toolkit.install_plan({"ID": "debian"}, debian, repo.source()), debian, log=lambda m: None)
    assert [a.outcome for a in again] == ["already done"] * 3


def test_a_pinned_version_that_the_repository_lacks_fails_clearly(repo, debian):
    source = toolkit.Source(mirror=repo.url, packages=("hello",), version="9.9-9")
    with pytest.raises(toolkit.ToolkitError) as e:
        toolkit.apply(toolkit.install_plan({"ID": "debian"}, debian, source), debian, log=lambda m: None)
    assert "apt-get install failed" in str(e.value)
    assert "9.9-9" in e.value.evidence


def test_a_wrong_key_fails_with_the_signature_diagnosis(repo, debian, tmp_path):
    other = make_key(tmp_path / "other", "impostor")
    good = (repo.root / "gpgkey").read_bytes()
    (repo.root / "gpgkey").write_bytes(other)
    try:
        with pytest.raises(toolkit.ToolkitError) as e:
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
    debian.write(toolkit.APT_LIST, f"deb [signed-by={toolkit.KEYRING}] {repo.url}/stable/deb/$(ARCH) /\n".encode())
    code, out = debian.run(["apt-get", "update"])
    assert code != 0 and diagnosis.diagnose(out).key == "apt_signed_by_conflict", out
    plan = toolkit.install_plan({"ID": "debian"}, debian, repo.source())
    assert plan.commands()[0] == f"sudo rm {stale}"
    toolkit.apply(plan, debian, log=lambda m: None)
    assert debian.read(stale) is None
    assert debian.run(["hello"])[0] == 0
