"""The systems ``plan --os`` can show a plan for, named as users write them: an image name
(``rockylinux:9``, ``amazonlinux:2023``, ``opensuse/leap:15.6``) or an os-release id (``rocky:9``,
``amzn:2023``, ``opensuse-leap:15.6``), each turned into the os-release fields the plan reads.

- the os-release ids the toolkit's repository serves, with the family (``ID_LIKE``) that picks the
  package manager: apt, dnf, zypper, or yum for the systems that have no dnf (RHEL/CentOS/Oracle 7,
  Amazon Linux 2);
- an image name is its os-release id under another spelling (``ALIASES``); a registry prefix or a
  ``library/`` path (``docker.io/library/ubuntu``) is dropped;
- an unknown name is a RunSetupError that lists the accepted names.
"""

from __future__ import annotations

import re

from ..errors import RunSetupError
from ..i18n import _

FAMILIES = {  # os-release ID -> ID_LIKE, as those systems' own /etc/os-release says
    "ubuntu": "debian",
    "debian": "",
    "rhel": "fedora",
    "centos": "rhel fedora",
    "rocky": "rhel centos fedora",
    "almalinux": "rhel centos fedora",
    "ol": "fedora",
    "fedora": "",
    "amzn": "centos rhel fedora",
    "opensuse-leap": "suse opensuse",
    "opensuse-tumbleweed": "opensuse suse",
    "sles": "suse",
}
ALIASES = {  # image names (Docker Hub, quay.io, registry.suse.com) -> os-release ID
    "rockylinux": "rocky",
    "rockylinux/rockylinux": "rocky",
    "amazonlinux": "amzn",
    "oraclelinux": "ol",
    "opensuse/leap": "opensuse-leap",
    "opensuse/tumbleweed": "opensuse-tumbleweed",
    "centos/centos": "centos",
    "almalinux/almalinux": "almalinux",
    "suse/sle15": "sles",
    "redhat/ubi8": "rhel",
    "redhat/ubi9": "rhel",
    "redhat/ubi10": "rhel",
    "fedora/fedora": "fedora",
}
REGISTRIES = ("docker.io/", "quay.io/", "registry.suse.com/", "registry.access.redhat.com/", "library/")


VERSION = re.compile(r"([0-9A-Za-z][0-9A-Za-z._-]{0,31})?")  # an os-release VERSION_ID or an image's tag


def os_info(spec: str) -> dict[str, str]:
    """The os-release fields of a fresh system named ``spec`` (NAME[:VERSION])."""
    name, _sep, version = spec.strip().partition(":")
    key = name.lower()
    for prefix in REGISTRIES:
        key = key.removeprefix(prefix)
    os_id = ALIASES.get(key, key)
    if key.startswith("redhat/ubi") and not version:
        version = key.removeprefix("redhat/ubi")  # the image's name carries the RHEL release
    if key == "suse/sle15" and not version:
        version = "15"
    if version.startswith("stream"):  # quay.io/centos/centos:stream9
        version = version.removeprefix("stream")
    if not VERSION.fullmatch(version):  # the plan names it in a line meant for a shell: one plain word
        raise RunSetupError(
            _("no plan for {os}: {version} is not an OS version (as 24.04, 9, 15.6 or bookworm)").format(
                os=ascii(spec), version=ascii(version)
            )
        )
    if os_id not in FAMILIES:
        raise RunSetupError(
            _(
                "no plan for {os}: not a system the toolkit's repository serves; "
                "accepted (image names or os-release ids): {names}"
            ).format(os=spec.strip(), names=", ".join(accepted()))
        )
    return {"ID": os_id, "ID_LIKE": FAMILIES[os_id], "VERSION_ID": version, "PRETTY_NAME": spec.strip()}


def accepted() -> list[str]:
    return sorted(set(FAMILIES) | set(ALIASES))


def package_manager(info: dict[str, str]) -> str | None:
    """apt, dnf, yum or zypper for an os-release (this host's or one ``os_info`` made); None for others."""
    ids = {info.get("ID", "")} | set(info.get("ID_LIKE", "").split())
    major = info.get("VERSION_ID", "").split(".")[0]
    if ids & {"debian", "ubuntu"}:
        return "apt"
    if ids & {"suse", "opensuse", "sles", "opensuse-leap", "opensuse-tumbleweed"}:
        return "zypper"
    if ids & {"rhel", "fedora", "centos", "rocky", "almalinux", "amzn", "ol"}:
        old = (info.get("ID") == "amzn" and major == "2") or (
            info.get("ID") in ("rhel", "centos", "ol") and major.isdigit() and int(major) <= 7
        )
        return "yum" if old else "dnf"
    return None
