import pytest

from runbook import host, toolkit
from pathlib import Path

H200 = Path(__file__).parent.parent / "fixtures" / "h200"


@pytest.mark.parametrize("info, manager", [
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
])
def test_package_manager(info, manager):
    assert toolkit.package_manager(info) == manager


def test_apt_plan_on_the_gpu_hosts_ubuntu():
    plan = toolkit.install_plan(host.os_release(str(H200 / "os-release")), stale_lists=[])
    cmds = plan.commands()
    assert plan.manager == "apt"
    assert not any("apt-key" in c for c in cmds), "apt-key is gone from current Ubuntu"
    assert f"--dearmor --yes -o {toolkit.KEYRING}" in cmds[0]
    assert f"[signed-by={toolkit.KEYRING}]" in cmds[1] and cmds[1].endswith(toolkit.APT_LIST)
    assert all(p in cmds[3] for p in toolkit.PACKAGES)
    assert cmds[-2] == "sudo nvidia-ctk runtime configure --runtime=docker"
    assert cmds[-1] == "sudo systemctl restart docker"


def test_stale_lists_are_removed_first():
    plan = toolkit.install_plan({"ID": "ubuntu"}, stale_lists=["/etc/apt/sources.list.d/nvidia-docker.list"])
    assert plan.commands()[0] == "sudo rm /etc/apt/sources.list.d/nvidia-docker.list"


def test_dnf_and_zypper_plans_use_the_repo_file():
    dnf = toolkit.install_plan({"ID": "rhel", "ID_LIKE": "fedora"}).commands()
    assert dnf[0].endswith("sudo tee /etc/yum.repos.d/nvidia-container-toolkit.repo")
    assert dnf[1].startswith("sudo dnf install -y nvidia-container-toolkit")
    zyp = toolkit.install_plan({"ID": "sles", "ID_LIKE": "suse"}).commands()
    assert zyp[0] == f"sudo zypper ar {toolkit.REPO}/stable/rpm/nvidia-container-toolkit.repo"


def test_unknown_os_has_no_plan():
    assert toolkit.install_plan({"ID": "arch"}) is None


def test_cdi_specs_found_by_content(tmp_path):
    (tmp_path / "nvidia.yaml").write_text("cdiVersion: 0.5.0\nkind: nvidia.com/gpu\n")
    (tmp_path / "other.yaml").write_text("kind: vendor.com/fpga\n")
    assert toolkit.cdi_specs([str(tmp_path)]) == [str(tmp_path / "nvidia.yaml")]
