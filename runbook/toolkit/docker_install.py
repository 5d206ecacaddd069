"""Docker Engine from Docker's own repository, as commands to show: the runbook does not install engines."""

from __future__ import annotations

from .systems import package_manager


def docker_engine_plan(os_info: dict[str, str]) -> list[str]:
    """Docker Engine from Docker's own repository (shown only: the runbook does not install engines)."""
    manager = package_manager(os_info)
    distro = os_info.get("ID", "")
    if manager == "apt":
        distro = (
            distro
            if distro in ("ubuntu", "debian")
            else ("ubuntu" if "ubuntu" in os_info.get("ID_LIKE", "") else "debian")
        )
        return [
            "sudo install -m 0755 -d /etc/apt/keyrings",
            f"sudo curl -fsSL https://download.docker.com/linux/{distro}/gpg -o /etc/apt/keyrings/docker.asc",
            f'echo "deb [arch=$(dpkg --print-architecture) signed-by=/etc/apt/keyrings/docker.asc] '
            f'https://download.docker.com/linux/{distro} $(. /etc/os-release && echo $VERSION_CODENAME) stable" '
            "| sudo tee /etc/apt/sources.list.d/docker.list",
            "sudo apt-get update",
            "sudo apt-get install -y docker-ce docker-ce-cli containerd.io docker-buildx-plugin docker-compose-plugin",
            "sudo systemctl enable --now docker",
        ]
    if manager == "dnf" and distro != "amzn":
        distro = distro if distro in ("fedora", "rhel", "centos") else "rhel"
        return [
            f"sudo dnf config-manager --add-repo https://download.docker.com/linux/{distro}/docker-ce.repo",
            "sudo dnf install -y docker-ce docker-ce-cli containerd.io docker-buildx-plugin docker-compose-plugin",
            "sudo systemctl enable --now docker",
        ]
    if distro == "amzn" and manager in ("dnf", "yum"):  # Amazon Linux ships Docker itself
        return [f"sudo {manager} install -y docker", "sudo systemctl enable --now docker"]
    if manager == "yum":
        return [
            "sudo yum install -y yum-utils",
            "sudo yum-config-manager --add-repo https://download.docker.com/linux/centos/docker-ce.repo",
            "sudo yum install -y docker-ce docker-ce-cli containerd.io docker-buildx-plugin docker-compose-plugin",
            "sudo systemctl enable --now docker",
        ]
    if manager == "zypper":
        return ["sudo zypper install -y docker", "sudo systemctl enable --now docker"]
    return []
