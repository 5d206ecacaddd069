"""The install plans as shown, for each package manager, against a system laid out in a folder.
dnf and zypper are checked command by command only: no such machine is available to these tests."""

import json
from pathlib import Path

import pytest

from runbook import host, toolkit
from runbook.toolkit import engine_config, repos
from runbook.toolkit.targets import FreshSystem, HostTarget

H200 = Path(__file__).parent.parent / "fixtures" / "h200"


@pytest.fixture
def system(tmp_path):
    (tmp_path / "etc/apt/sources.list.d").mkdir(parents=True)
    return tmp_path


@pytest.mark.parametrize(
    "info, manager",
    [
        ({"ID": "ubuntu", "VERSION_ID": "24.04"}, "apt"),
        ({"ID": "debian", "VERSION_ID": "12"}, "apt"),
        ({"ID": "linuxmint", "ID_LIKE": "ubuntu debian"}, "apt"),
        ({"ID": "rhel", "VERSION_ID": "9.4", "ID_LIKE": "fedora"}, "dnf"),
        ({"ID": "rocky", "ID_LIKE": "rhel centos fedora"}, "dnf"),
        ({"ID": "fedora"}, "dnf"),
        ({"ID": "amzn", "ID_LIKE": "centos rhel fedora"}, "dnf"),
        ({"ID": "opensuse-leap", "ID_LIKE": "suse opensuse"}, "zypper"),
        ({"ID": "sles", "ID_LIKE": "suse"}, "zypper"),
        ({"ID": "arch"}, None),
    ],
)
def test_package_manager(info, manager):
    assert toolkit.package_manager(info) == manager


def test_apt_plan_on_the_gpu_hosts_ubuntu(system):
    plan = toolkit.install_plan(host.os_release(str(H200 / "os-release")), HostTarget(str(system)))
    cmds = plan.commands()
    assert plan.manager == "apt"
    assert not any("apt-key" in c for c in cmds), "apt-key is gone from current Ubuntu"
    assert f"--dearmor --yes -o {repos.KEYRING}" in cmds[0]
    assert f"[signed-by={repos.KEYRING}]" in cmds[1] and cmds[1].endswith(repos.APT_LIST)
    net = " ".join(repos.APT_NETWORK)
    assert cmds[2] == f"sudo apt-get {net} update && sudo apt-get {net} install -y " + " ".join(repos.PACKAGES)


def test_a_pinned_version_pins_all_four(system):
    plan = toolkit.install_plan({"ID": "ubuntu"}, HostTarget(str(system)), toolkit.Source(version="1.18.1-1"))
    assert plan.commands()[2].endswith(" ".join(f"{p}=1.18.1-1" for p in repos.PACKAGES))


def test_the_mirror_and_the_experimental_channel(system):
    src = toolkit.Source(mirror="https://mirror.example/nvidia", channel="experimental")
    cmds = toolkit.install_plan({"ID": "debian"}, HostTarget(str(system)), src).commands()
    assert cmds[0].startswith("curl -fsSL https://mirror.example/nvidia/gpgkey")
    assert "https://mirror.example/nvidia/stable/deb/nvidia-container-toolkit.list" in cmds[1]
    assert "/experimental/ s/^#//g" in cmds[1]


def test_stale_lists_are_found_and_removed_first(system):
    lists = system / "etc/apt/sources.list.d"
    (lists / "nvidia-docker.list").write_text("deb https://nvidia.github.io/nvidia-docker/ubuntu22.04/$(ARCH) /\n")
    (lists / "old-toolkit.list").write_text(
        "deb https://nvidia.github.io/libnvidia-container/stable/ubuntu18.04/$(ARCH) /\n"
    )
    (lists / "unrelated.list").write_text("deb http://deb.debian.org/debian bookworm main\n")
    cmds = toolkit.install_plan({"ID": "ubuntu"}, HostTarget(str(system))).commands()
    assert cmds[:2] == [
        "sudo rm /etc/apt/sources.list.d/nvidia-docker.list",
        "sudo rm /etc/apt/sources.list.d/old-toolkit.list",
    ]


def test_engine_steps(system):
    plan = toolkit.install_plan(
        {"ID": "ubuntu"},
        HostTarget(str(system)),
        engine=toolkit.EngineSettings(set_as_default=True, cdi=True),
        driver_version="580.159.04",
    )
    cmds = plan.commands()
    assert cmds[3] == "sudo nvidia-ctk runtime configure --runtime=docker --set-as-default --cdi.enabled"
    assert cmds[4] == "sudo nvidia-ctk cdi generate --output=/var/run/cdi/nvidia.yaml"
    assert cmds[5] == "sudo systemctl restart docker"


def test_rootless_engine_steps(system):
    path = "/home/u/.config/docker/daemon.json"
    cmds = toolkit.install_plan(
        {"ID": "ubuntu"}, HostTarget(str(system)), engine=toolkit.EngineSettings(daemon_json=path, rootless=True)
    ).commands()
    assert cmds[3] == f"nvidia-ctk runtime configure --runtime=docker --config={path}"
    assert cmds[4] == "sudo nvidia-ctk config --set nvidia-container-cli.no-cgroups --in-place"
    assert cmds[5] == "systemctl --user restart docker"


def test_a_daemon_json_that_is_not_the_default_is_named_in_the_command_by_hand(system):
    cmds = toolkit.install_plan(
        {"ID": "ubuntu"}, HostTarget(str(system)), engine=toolkit.EngineSettings(daemon_json="/srv/docker/daemon.json")
    ).commands()
    assert cmds[3] == "sudo nvidia-ctk runtime configure --runtime=docker --config=/srv/docker/daemon.json"


def test_registry_mirrors_are_shown_as_a_step_of_their_own(system):
    """nvidia-ctk has no option for registry mirrors: the plan shows the very line to add to daemon.json."""
    settings = toolkit.EngineSettings(registry_mirrors=["https://m.example", "https://n.example"])
    cmds = toolkit.install_plan({"ID": "ubuntu"}, HostTarget(str(system)), engine=settings).commands()
    expected = 'sudoedit /etc/docker/daemon.json  # "registry-mirrors": ["https://m.example", "https://n.example"]'
    assert cmds[4] == expected, f"expected {expected!r}, got {cmds[4]!r}"


def test_the_runtime_command_is_nvidia_ctks_alone_when_mirrors_are_asked_for(system):
    settings = toolkit.EngineSettings(registry_mirrors=["https://m.example"])
    cmds = toolkit.install_plan({"ID": "ubuntu"}, HostTarget(str(system)), engine=settings).commands()
    assert cmds[3] == "sudo nvidia-ctk runtime configure --runtime=docker", f"got {cmds[3]!r}"


def test_the_mirrors_step_adds_after_the_mirrors_already_there(tmp_path):
    path = tmp_path / "daemon.json"
    path.write_text('{"registry-mirrors": ["https://a.example"], "debug": true}')
    step = engine_config.mirrors_step(
        toolkit.EngineSettings(daemon_json=str(path), registry_mirrors=["https://m.example"])
    )
    step.do(HostTarget())
    got = json.loads(path.read_text())["registry-mirrors"]
    assert got == ["https://a.example", "https://m.example"], f"got {got}"
    assert step.done(HostTarget()), "the step is in effect once applied"


def test_the_restart_is_in_effect_only_when_the_engine_reports_every_setting():
    settings = toolkit.EngineSettings(set_as_default=True, cdi=True, registry_mirrors=["https://m.example"])
    info = {
        "Runtimes": {"runc": {}, "nvidia": {}},
        "DefaultRuntime": "nvidia",
        "CDISpecDirs": ["/etc/cdi"],
        "RegistryConfig": {"Mirrors": ["https://m.example/"]},
    }
    assert engine_config.in_effect(settings, info)
    for key, value in (
        ("Runtimes", {"runc": {}}),
        ("DefaultRuntime", "runc"),
        ("CDISpecDirs", []),
        ("RegistryConfig", {"Mirrors": []}),
    ):
        assert not engine_config.in_effect(settings, {**info, key: value}), f"{key}={value!r} is not in effect"
    assert not engine_config.in_effect(settings, None), "an engine that does not answer shows nothing"


def test_the_docker_group_step_reads_the_targets_group_file(system):
    (system / "etc").mkdir(exist_ok=True)
    (system / "etc/group").write_text("root:x:0:\ndocker:x:998:bob,alice\n")
    step = toolkit.docker_group_step("alice")
    assert step.done(HostTarget(str(system))), "alice is listed in the target's docker group"
    assert not toolkit.docker_group_step("carol").done(HostTarget(str(system)))


def test_docker_group_step_warns(system):
    plan = toolkit.install_plan({"ID": "ubuntu"}, HostTarget(str(system)), docker_group_user="alice")
    last = plan.steps[-1]
    assert last.show == "sudo usermod -aG docker alice" and "root-equivalent" in last.why and "new login" in last.why


def test_dnf_plan_command_by_command():
    cmds = toolkit.install_plan(
        {"ID": "rhel", "ID_LIKE": "fedora"}, FreshSystem(), source=toolkit.Source(version="1.18.1-1")
    ).commands()
    assert cmds == [
        "curl -fsSL https://nvidia.github.io/libnvidia-container/stable/rpm/nvidia-container-toolkit.repo"
        " | sudo tee /etc/yum.repos.d/nvidia-container-toolkit.repo",
        "sudo dnf install -y --setopt=timeout=30 --setopt=retries=3 "
        + " ".join(f"{p}-1.18.1-1" for p in repos.PACKAGES),
    ]


def test_zypper_plan_command_by_command():
    cmds = toolkit.install_plan(
        {"ID": "sles", "ID_LIKE": "suse"}, FreshSystem(), source=toolkit.Source(channel="experimental")
    ).commands()
    assert cmds == [
        "sudo zypper ar https://nvidia.github.io/libnvidia-container/stable/rpm/nvidia-container-toolkit.repo",
        "sudo zypper modifyrepo --enable nvidia-container-toolkit-experimental",
        "sudo zypper --gpg-auto-import-keys --non-interactive install " + " ".join(repos.PACKAGES),
    ]


def test_unknown_os_has_no_plan():
    assert toolkit.install_plan({"ID": "arch"}, FreshSystem()) is None


def test_dearmor_matches_gpg(tmp_path):
    """The Python dearmor gives the bytes `gpg --dearmor` gives, on a key gpg itself exported."""
    import shutil
    import subprocess

    if not shutil.which("gpg"):
        pytest.skip("gpg not installed")
    env = {"GNUPGHOME": str(tmp_path)}
    subprocess.run(
        ["gpg", "--batch", "--passphrase", "", "--quick-gen-key", "Test <t@example>", "rsa2048", "sign", "1d"],
        env=env,
        check=True,
        capture_output=True,
    )
    armored = subprocess.run(["gpg", "--armor", "--export"], env=env, check=True, capture_output=True).stdout
    binary = subprocess.run(["gpg", "--dearmor"], input=armored, env=env, check=True, capture_output=True).stdout
    subprocess.run(["gpgconf", "--kill", "all"], env=env, capture_output=True)  # the agent would outlive the test
    assert repos.dearmor(armored) == binary
    assert repos.dearmor(binary) == binary


def test_cdi_spec_staleness():
    spec = b"kind: nvidia.com/gpu\n  - hostPath: /usr/lib/x86_64-linux-gnu/libcuda.so.580.95.05\n"
    assert toolkit.cdi_spec_current(spec, "580.95.05")
    assert not toolkit.cdi_spec_current(spec, "580.159.04")  # generated before a driver upgrade
    assert not toolkit.cdi_spec_current(None, "580.159.04")


def test_cdi_specs_found_by_content(tmp_path):
    (tmp_path / "nvidia.yaml").write_text("cdiVersion: 0.5.0\nkind: nvidia.com/gpu\n")
    (tmp_path / "other.yaml").write_text("kind: vendor.com/fpga\n")
    assert toolkit.cdi_specs([str(tmp_path)]) == [str(tmp_path / "nvidia.yaml")]


def test_a_general_mirrors_lists_are_never_taken_for_the_toolkits(system):
    """A toolkit_mirror on a host that also serves Debian: only the toolkit's paths are stale lists."""
    lists = system / "etc/apt/sources.list.d"
    (lists / "debian.sources").write_text("Types: deb\nURIs: http://deb.debian.org/debian\nSuites: bookworm\n")
    (lists / "old.list").write_text("deb http://deb.debian.org/stable/deb/$(ARCH) /\n")
    src = toolkit.Source(mirror="http://deb.debian.org")
    cmds = toolkit.install_plan({"ID": "debian"}, HostTarget(str(system)), src).commands()
    removed = [c for c in cmds if c.startswith("sudo rm ")]
    assert removed == ["sudo rm /etc/apt/sources.list.d/old.list"], removed


def test_podmans_plan_is_a_cdi_specification_and_no_daemon(system):
    """Podman has no daemon.json and no daemon to restart: the plan generates the CDI spec it reads."""
    plan = toolkit.install_plan(
        {"ID": "fedora"},
        HostTarget(str(system)),
        engine=toolkit.EngineSettings(engine="podman", selinux_enforcing=True),
        driver_version="580.159.04",
    )
    engine_cmds = [c for c in plan.commands() if "nvidia-ctk" in c or "restart" in c]
    assert engine_cmds == ["sudo nvidia-ctk cdi generate --output=/etc/cdi/nvidia.yaml"], engine_cmds
    assert any("label=disable" in n for n in plan.notes), plan.notes
    assert any("only through CDI" in n for n in plan.notes), plan.notes
    step, target = plan.steps[-1], HostTarget(str(system))
    assert not step.done(target), "no spec yet"
    spec = system / "etc/cdi/nvidia.yaml"
    spec.parent.mkdir(parents=True)
    spec.write_text("kind: nvidia.com/gpu\n  - path: /usr/lib/x86_64-linux-gnu/libcuda.so.570.1\n")
    assert not step.done(target), "a spec of another driver is stale"
    spec.write_text("kind: nvidia.com/gpu\n  - path: /usr/lib/x86_64-linux-gnu/libcuda.so.580.159.04\n")
    assert step.done(target), "the spec at /etc/cdi/nvidia.yaml, of this driver, is in effect"


@pytest.mark.parametrize(
    "capture, kind",
    [("docker-20.10", "docker"), ("podman-4.3", "podman"), ("docker-26.1-containerd-cdi", "docker")],
)
def test_the_plan_follows_the_engine_that_answers(capture, kind):
    from runbook import engine
    from runbook.engine import modes as engine_modes

    answers = json.loads((Path(__file__).parent.parent / f"fixtures/engine/identity/{capture}.json").read_text())
    who = engine.identify(answers["version"], answers["info"])
    assert engine_modes.plan_kind(who) == kind
    rootless = engine.Identity(**{**who.__dict__, "rootless": True})
    assert engine_modes.plan_kind(rootless) == ("podman" if kind == "podman" else "docker-rootless")
    assert engine_modes.plan_kind(None) == "docker", "no engine answers: Docker's plan"


def test_a_program_found_only_where_it_may_not_run_is_not_found(tmp_path, monkeypatch):
    """A PATH entry holding the name without execute permission (or a folder the user may not search, as
    when sudo keeps root's PATH) makes exec fail with EACCES, for root too: the target says 'not found',
    as for a missing program, instead of raising."""
    (tmp_path / "rpm").write_text("#!/bin/sh\necho never\n")
    (tmp_path / "rpm").chmod(0o644)
    (tmp_path / "broken").write_bytes(b"\x7fELF not a program")
    (tmp_path / "broken").chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}:/usr/bin:/bin")
    code, out = HostTarget().run(["rpm", "-q", "nvidia-container-toolkit"])
    assert code == 127 and "permission denied" in out, (code, out)
    code, out = HostTarget().run(["broken"])
    assert code == 126 and "cannot be run" in out, (code, out)
    from runbook.toolkit import security

    assert security.installed_packages(HostTarget().run)[0] in ("apt", None)
