"""The commands `plan -p toolkit_mirror cn --os debian:12` shows, run byte for byte with `sh -c` in a
Debian container against the toolkit's repository served on loopback. The cn preset is mapped to that
repository through RUNBOOK_MIRROR_PRESETS (USTC's mirror cannot be reached from here); the repository
is the NVIDIA Container Toolkit built from source (tests/tooling/toolkit-up.sh), its .list NVIDIA's verbatim,
naming nvidia.github.io, so apt finds the packages only if the shown sed rewrites it to the mirror.

The container gets curl and gnupg from Debian's archive first (the test image has neither) and a
`sudo` that runs its arguments (it runs as root): the shown commands start with sudo. Only the
repository and package steps run; the engine steps (nvidia-ctk, the restart) are not this test's."""

import json
import time

import pytest

from runbook import params
from runbook.network import mirrors
from runbook.steps import toolkit_state
from runbook.toolkit import repos
from runbook.toolkit.targets import ContainerTarget
from tests.utils.engine import labelled_container, runbook_labels
from tests.utils.loopback import served
from tests.utils.toolkit import built_toolkit

pytestmark = pytest.mark.engine


@pytest.fixture
def debian_with_curl(client, no_leftovers):
    # a deadline: another run's clean-up on the shared engine removes labelled containers past theirs
    labels = runbook_labels(deadline=time.time() + 900)
    with labelled_container(client, network_mode="host", labels=labels) as c:
        code, out = c.exec_run(
            ["sh", "-c", "apt-get update -qq && apt-get install -y -qq --no-install-recommends curl gnupg"]
        )
        if code != 0:
            pytest.skip(f"Debian's archive cannot be reached for curl and gnupg: {out.decode()[-500:]}")
        c.exec_run(
            ["sh", "-c", "printf '#!/bin/sh\\nexec \"$@\"\\n' > /usr/local/bin/sudo && chmod +x /usr/local/bin/sudo"]
        )
        c.exec_run(["rm", "-f", "/etc/apt/sources.list", "/etc/apt/sources.list.d/debian.sources"])
        yield ContainerTarget(c), c


def test_the_shown_cn_commands_install_the_toolkit_from_the_mirror(debian_with_curl, tmp_path, monkeypatch):
    target, container = debian_with_curl
    repo = built_toolkit("repo")
    with served(repo) as url:
        presets = tmp_path / "presets.json"
        presets.write_text(json.dumps({"toolkit_mirror": {"cn": {"url": url}}}))
        monkeypatch.setenv(mirrors.PRESETS_ENV, str(presets))
        plan = toolkit_state.plan_for(params.validate({"toolkit_mirror": "cn"}), "debian:12")
        shown = plan.commands()[:3]
        assert url in shown[0] and url in shown[1] and "Acquire::Retries=3" in shown[2], shown
        for command in shown:
            code, out = container.exec_run(["sh", "-c", command])
            assert code == 0, f"{command}\n{out.decode()[-2000:]}"
        listed = target.read(repos.APT_LIST)
        written = repos.signed_list((repo / "stable/deb/nvidia-container-toolkit.list").read_bytes(), plan_source(url))
    assert listed == written, "the shown sed and the runbook's own rewrite wrote different lists"
    assert b"nvidia.github.io" not in listed, listed.decode()
    code, out = container.exec_run(["dpkg-query", "-W", "-f=${Package} ${Version}\n", *repos.PACKAGES])
    versions = {line.split()[1] for line in out.decode().splitlines()}
    assert code == 0 and len(versions) == 1, out.decode()


def plan_source(url):
    return repos.Source(mirror=url)


@pytest.mark.parametrize(
    "os_spec,repo_file",
    [
        ("rocky:9", "/etc/yum.repos.d/nvidia-container-toolkit.repo"),
        ("opensuse-leap:15.6", "nvidia-container-toolkit.repo"),
    ],
)
def test_the_shown_rpm_repository_commands_write_the_rewritten_repo(
    debian_with_curl, tmp_path, monkeypatch, os_spec, repo_file
):
    """dnf and zypper cannot run here: their repository step runs byte for byte up to the package
    manager (dnf's whole `curl | sed | sudo tee`; zypper's part before `&& sudo zypper ar`), and the
    .repo it writes is the runbook's own rewrite, naming only the mirror. The install command is
    checked as text (the timeouts and retries for dnf)."""
    target, container = debian_with_curl
    repo = built_toolkit("repo")
    with served(repo) as url:
        presets = tmp_path / "presets.json"
        presets.write_text(json.dumps({"toolkit_mirror": {"cn": {"url": url}}}))
        monkeypatch.setenv(mirrors.PRESETS_ENV, str(presets))
        plan = toolkit_state.plan_for(params.validate({"toolkit_mirror": "cn"}), os_spec)
        add, install = plan.commands()[0], plan.commands()[1]
        runnable = add.split(" && sudo zypper ar ")[0]
        container.exec_run(["mkdir", "-p", "/etc/yum.repos.d"])
        code, out = container.exec_run(["sh", "-c", runnable], workdir="/root")
        assert code == 0, f"{runnable}\n{out.decode()[-2000:]}"
        written = target.read(repo_file if repo_file.startswith("/") else f"/root/{repo_file}")
        expected = repos.edit(
            (repo / "stable/rpm/nvidia-container-toolkit.repo").read_bytes(), repos.to_mirror(plan_source(url))
        )
    assert written == expected, written.decode()
    assert b"nvidia.github.io" not in written and f"baseurl={url}/stable/rpm/".encode() in written, written.decode()
    if os_spec.startswith("rocky"):
        assert "--setopt=timeout=30 --setopt=retries=3" in install, install
