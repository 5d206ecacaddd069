"""The NVIDIA Container Toolkit: is it installed, what the engine knows of it, and the plan to install it.

The plan follows NVIDIA's current method (a keyring file and a ``signed-by`` list for apt, a .repo
file for dnf and zypper, the four packages at one version). The 2023 way (``apt-key add`` and the
per-distro nvidia-docker list) no longer works: ``apt-key`` is gone from current Ubuntu, and
leftover lists make apt fail with ``Conflicting values set for option Signed-By``.
"""
from __future__ import annotations

import glob
import os
import re
import shutil
import subprocess
from dataclasses import dataclass, field

from .errors import HostError

REPO = "https://nvidia.github.io/libnvidia-container"
KEYRING = "/usr/share/keyrings/nvidia-container-toolkit-keyring.gpg"
APT_LIST = "/etc/apt/sources.list.d/nvidia-container-toolkit.list"
PACKAGES = ("nvidia-container-toolkit", "nvidia-container-toolkit-base", "libnvidia-container-tools",
            "libnvidia-container1")
# lists left by the 2023 method; with a signed-by list beside them apt refuses to run
STALE_APT_LISTS = ("/etc/apt/sources.list.d/nvidia-docker.list", "/etc/apt/sources.list.d/libnvidia-container.list")
CDI_DIRS = ("/etc/cdi", "/var/run/cdi")


def ctk_version() -> str | None:
    """``nvidia-ctk --version``'s version, or None when nvidia-ctk is not installed."""
    exe = shutil.which("nvidia-ctk")
    if exe is None:
        return None
    try:
        out = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise HostError(f"nvidia-ctk --version could not run: {e}") from e
    m = re.search(r"version\s+(\d+\.\d+\.\d+\S*)", out.stdout + out.stderr)
    if out.returncode != 0 or not m:
        raise HostError(f"nvidia-ctk --version exited {out.returncode}", evidence=out.stdout + out.stderr)
    return m.group(1)


def cdi_specs(dirs=CDI_DIRS) -> list[str]:
    """CDI spec files that declare NVIDIA devices."""
    found = []
    for d in dirs:
        for path in sorted(glob.glob(os.path.join(d, "*.yaml")) + glob.glob(os.path.join(d, "*.json"))):
            try:
                with open(path, encoding="utf-8", errors="replace") as f:
                    if "nvidia.com/gpu" in f.read():
                        found.append(path)
            except OSError:
                continue
    return found


@dataclass
class Plan:
    manager: str  # apt, dnf, zypper
    os_name: str
    steps: list[tuple[str, str]] = field(default_factory=list)  # (why, command)

    def commands(self) -> list[str]:
        return [cmd for _, cmd in self.steps]


def package_manager(os_info: dict[str, str]) -> str | None:
    ids = {os_info.get("ID", "")} | set(os_info.get("ID_LIKE", "").split())
    if ids & {"debian", "ubuntu"}:
        return "apt"
    if ids & {"rhel", "fedora", "centos", "rocky", "almalinux", "amzn"}:
        return "dnf"
    if ids & {"suse", "opensuse", "sles", "opensuse-leap", "opensuse-tumbleweed"}:
        return "zypper"
    return None


def install_plan(os_info: dict[str, str], stale_lists: list[str] | None = None) -> Plan | None:
    """The commands that install and configure the toolkit on this OS, in order; None if unknown OS."""
    manager = package_manager(os_info)
    if manager is None:
        return None
    plan = Plan(manager, os_info.get("PRETTY_NAME", os_info.get("ID", "?")))
    pkgs = " ".join(PACKAGES)
    if manager == "apt":
        stale = [p for p in STALE_APT_LISTS if os.path.exists(p)] if stale_lists is None else stale_lists
        for path in stale:
            plan.steps.append(("remove a list left by the old nvidia-docker method", f"sudo rm {path}"))
        plan.steps += [
            ("install NVIDIA's signing key into its own keyring",
             f"curl -fsSL {REPO}/gpgkey | sudo gpg --dearmor --yes -o {KEYRING}"),
            ("add the repository, signed by that key only",
             f"curl -fsSL {REPO}/stable/deb/nvidia-container-toolkit.list | "
             f"sed 's#deb https://#deb [signed-by={KEYRING}] https://#g' | sudo tee {APT_LIST}"),
            ("refresh the package lists", "sudo apt-get update"),
            ("install the four packages (pin all to one version with pkg=VERSION)", f"sudo apt-get install -y {pkgs}"),
        ]
    elif manager == "dnf":
        plan.steps += [
            ("add the repository", f"curl -fsSL {REPO}/stable/rpm/nvidia-container-toolkit.repo | "
                                   "sudo tee /etc/yum.repos.d/nvidia-container-toolkit.repo"),
            ("install the four packages (pin all to one version with pkg-VERSION)", f"sudo dnf install -y {pkgs}"),
        ]
    else:
        plan.steps += [
            ("add the repository", f"sudo zypper ar {REPO}/stable/rpm/nvidia-container-toolkit.repo"),
            ("install the four packages", f"sudo zypper --gpg-auto-import-keys install -y {pkgs}"),
        ]
    plan.steps += [
        ("register the nvidia runtime in /etc/docker/daemon.json (merged, not replaced)",
         "sudo nvidia-ctk runtime configure --runtime=docker"),
        ("restart the engine so that it finds the toolkit's hook", "sudo systemctl restart docker"),
    ]
    return plan
