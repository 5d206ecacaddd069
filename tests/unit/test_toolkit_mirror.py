"""toolkit_mirror mirrors: NVIDIA's own .list and .repo files (verbatim, tests/fixtures/toolkit/, which
name nvidia.github.io) get every URL rewritten to the mirror and every deb line signed; the sed that the
plan shows, run by the real sed, gives the bytes that applying the step writes."""

import subprocess

import pytest

from runbook import toolkit
from runbook.toolkit import repos
from runbook.toolkit.targets import HostTarget
from tests.utils.apt import TOOLKIT_FIXTURES, nvidia_texts
from tests.utils.loopback import served

MIRROR = "https://mirror.example.com/libnvidia-container"
K = repos.KEYRING
FILES = [
    TOOLKIT_FIXTURES / "nvidia-container-toolkit.list",
    TOOLKIT_FIXTURES / "nvidia-container-toolkit.repo",
    TOOLKIT_FIXTURES / "experimental" / "nvidia-container-toolkit.list",
    TOOLKIT_FIXTURES / "experimental" / "nvidia-container-toolkit.repo",
]


def lines(raw: bytes) -> list[str]:
    return raw.decode().splitlines()


def test_the_stable_list_names_the_mirror_on_every_deb_line_each_signed():
    raw = (TOOLKIT_FIXTURES / "nvidia-container-toolkit.list").read_bytes()
    got = lines(repos.signed_list(raw, toolkit.Source(mirror=MIRROR)))
    expected = [
        f"deb [signed-by={K}] {MIRROR}/stable/deb/$(ARCH) /",
        f"#deb [signed-by={K}] {MIRROR}/experimental/deb/$(ARCH) /",
    ]
    assert got == expected, f"expected {expected}, got {got}"


def test_the_experimental_channel_uncomments_its_line():
    raw = (TOOLKIT_FIXTURES / "nvidia-container-toolkit.list").read_bytes()
    got = lines(repos.signed_list(raw, toolkit.Source(mirror=MIRROR, channel="experimental")))
    expected = f"deb [signed-by={K}] {MIRROR}/experimental/deb/$(ARCH) /"
    assert got[1] == expected, f"expected {expected!r}, got {got[1]!r}"


def test_without_a_mirror_the_list_keeps_nvidias_host_and_is_signed():
    raw = (TOOLKIT_FIXTURES / "nvidia-container-toolkit.list").read_bytes()
    got = lines(repos.signed_list(raw, toolkit.Source()))[0]
    expected = f"deb [signed-by={K}] https://nvidia.github.io/libnvidia-container/stable/deb/$(ARCH) /"
    assert got == expected, f"expected {expected!r}, got {got!r}"


def test_an_http_mirror_is_signed_too():
    """A loopback or intranet mirror without TLS: NVIDIA's sed (`deb https://`) would leave it unsigned."""
    raw = (TOOLKIT_FIXTURES / "nvidia-container-toolkit.list").read_bytes()
    got = lines(repos.signed_list(raw, toolkit.Source(mirror="http://10.0.0.5:8080/nvidia")))[0]
    expected = f"deb [signed-by={K}] http://10.0.0.5:8080/nvidia/stable/deb/$(ARCH) /"
    assert got == expected, f"expected {expected!r}, got {got!r}"


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.relative_to(TOOLKIT_FIXTURES).as_posix())
def test_no_url_of_nvidias_host_is_left(path):
    edits = (
        repos.list_edits(toolkit.Source(mirror=MIRROR))
        if path.suffix == ".list"
        else repos.to_mirror(toolkit.Source(mirror=MIRROR))
    )
    text = repos.edit(path.read_bytes(), edits).decode()
    assert "nvidia.github.io" not in text, f"NVIDIA's host is still named in:\n{text}"


def test_the_repo_files_baseurl_and_gpgkey_name_the_mirror():
    raw = (TOOLKIT_FIXTURES / "nvidia-container-toolkit.repo").read_bytes()
    got = [
        line
        for line in lines(repos.edit(raw, repos.to_mirror(toolkit.Source(mirror=MIRROR))))
        if line.startswith(("baseurl=", "gpgkey="))
    ]
    expected = [
        f"baseurl={MIRROR}/stable/rpm/$basearch",
        f"gpgkey={MIRROR}/gpgkey",
        f"baseurl={MIRROR}/experimental/rpm/$basearch",
        f"gpgkey={MIRROR}/gpgkey",
    ]
    assert got == expected, f"expected {expected}, got {got}"


def test_the_rewritten_repo_file_keeps_every_other_line():
    raw = (TOOLKIT_FIXTURES / "nvidia-container-toolkit.repo").read_bytes()
    out = repos.edit(raw, repos.to_mirror(toolkit.Source(mirror=MIRROR)))
    kept = [a for a, b in zip(lines(raw), lines(out), strict=True) if a == b]
    unchanged = [a for a in lines(raw) if not a.startswith(("baseurl=", "gpgkey="))]
    assert kept == unchanged, f"expected the lines {unchanged} unchanged, got {kept}"


def run_shown(command: str, fixture) -> bytes:
    """A step's shown command with its download replaced by the fixture and its write by stdout, run by
    bash and the real sed."""
    first, *rest = command.split(" | ")
    assert first.startswith("curl -fsSL "), f"the command does not start with a download: {command}"
    tail = [p.split(" > ")[0] for p in rest if not p.startswith("sudo tee ")]
    line = " | ".join([f"cat {fixture}", *tail])
    return subprocess.run(["bash", "-c", line], capture_output=True, check=True).stdout


@pytest.fixture
def nvidia_site(tmp_path):
    """NVIDIA's files, verbatim, served on loopback the way NVIDIA's repository lays them out."""
    root = tmp_path / "site"
    nvidia_texts(root)
    with served(root) as url:
        yield url


@pytest.mark.parametrize("channel", ["stable", "experimental"])
@pytest.mark.parametrize("mirrored", [True, False], ids=["mirror", "nvidia"])
def test_the_shown_apt_command_writes_what_the_step_writes(tmp_path, nvidia_site, channel, mirrored):
    source = toolkit.Source(mirror=nvidia_site if mirrored else repos.REPO, channel=channel)
    (tmp_path / "etc/apt/sources.list.d").mkdir(parents=True)
    target = HostTarget(str(tmp_path))
    plan = toolkit.install_plan({"ID": "debian"}, target, source)
    step = next(s for s in plan.steps if s.show.endswith(f"tee {repos.APT_LIST}"))
    shown = run_shown(step.show, TOOLKIT_FIXTURES / "nvidia-container-toolkit.list")
    if mirrored:
        step.do(target)
        written = target.read(repos.APT_LIST)
    else:  # NVIDIA's host is not reachable here: the same edits on the same file
        written = repos.signed_list((TOOLKIT_FIXTURES / "nvidia-container-toolkit.list").read_bytes(), source)
    assert shown == written, f"the shown command gives\n{shown.decode()}\nthe step writes\n{written.decode()}"


def test_the_shown_dnf_command_writes_what_the_step_writes(tmp_path, nvidia_site):
    target = HostTarget(str(tmp_path))
    plan = toolkit.install_plan({"ID": "rhel", "ID_LIKE": "fedora"}, target, toolkit.Source(mirror=nvidia_site))
    step = plan.steps[0]
    shown = run_shown(step.show, TOOLKIT_FIXTURES / "nvidia-container-toolkit.repo")
    step.do(target)
    written = target.read("/etc/yum.repos.d/nvidia-container-toolkit.repo")
    assert shown == written, f"the shown command gives\n{shown.decode()}\nthe step writes\n{written.decode()}"


def test_zypper_adds_the_rewritten_repo_file_not_nvidias_url():
    cmds = toolkit.install_plan(
        {"ID": "sles", "ID_LIKE": "suse"}, HostTarget("/nonexistent"), toolkit.Source(mirror=MIRROR)
    ).commands()
    expected = (
        f"curl -fsSL {MIRROR}/stable/rpm/nvidia-container-toolkit.repo"
        f" | sed 's#{repos.REPO}#{MIRROR}#g' > nvidia-container-toolkit.repo"
        " && sudo zypper ar nvidia-container-toolkit.repo"
    )
    assert cmds[0] == expected, f"expected {expected!r}, got {cmds[0]!r}"


def test_the_shown_zypper_file_is_the_rewritten_repo_file():
    source = toolkit.Source(mirror=MIRROR)
    step = toolkit.install_plan({"ID": "sles", "ID_LIKE": "suse"}, HostTarget("/nonexistent"), source).steps[0]
    fixture = TOOLKIT_FIXTURES / "nvidia-container-toolkit.repo"
    shown = run_shown(step.show.split(" && ")[0], fixture)
    expected = repos.edit(fixture.read_bytes(), repos.to_mirror(source))
    assert shown == expected, f"the shown command gives\n{shown.decode()}\nexpected\n{expected.decode()}"


def test_a_zypper_repository_counts_as_added_only_when_it_names_the_mirror(tmp_path):
    source = toolkit.Source(mirror=MIRROR)
    target = HostTarget(str(tmp_path))
    step = toolkit.install_plan({"ID": "sles", "ID_LIKE": "suse"}, target, source).steps[0]
    repo_dir = tmp_path / "etc/zypp/repos.d"
    repo_dir.mkdir(parents=True)
    (repo_dir / "nvidia-container-toolkit.repo").write_bytes(
        (TOOLKIT_FIXTURES / "nvidia-container-toolkit.repo").read_bytes()
    )
    assert not step.done(target), "a repository that names NVIDIA's host is not the mirror's"


@pytest.mark.parametrize("os_spec", ["ubuntu:24.04", "rocky:9", "opensuse-leap:15.6"])
def test_the_cn_preset_shows_the_ustc_rewrite_and_for_apt_and_dnf_timeouts_and_retries(os_spec):
    from runbook import params
    from runbook.steps import toolkit_state

    ustc = "https://mirrors.ustc.edu.cn/libnvidia-container"
    text = toolkit_state.plan_for(params.validate({"toolkit_mirror": "cn"}), os_spec).text()
    assert f"curl -fsSL {ustc}/" in text and f"s#https://nvidia.github.io/libnvidia-container#{ustc}#g" in text, text
    if os_spec.startswith("ubuntu"):
        assert "apt-get -o Acquire::http::Timeout=30 -o Acquire::https::Timeout=30 -o Acquire::Retries=3" in text
    if os_spec.startswith("rocky"):
        assert "dnf install -y --setopt=timeout=30 --setopt=retries=3" in text, text
