"""Is the installed toolkit safe: its packages, their versions against NVIDIA's security bulletins
(``runbook/toolkit_security.json``, each row with its bulletin), and what older installs left behind.

- the installed version of each of the four packages is read from dpkg (``dpkg-query``) or rpm
  (``rpm -q``); ``nvidia-ctk --version`` is read beside them; the lowest version seen is judged;
- versions are compared as the host's package manager compares them (``versions``);
- a version below a row's fixed version is affected; a critical or high row is a failure, a medium or
  low one a warning; the fix names the fixed version;
- a version only NVIDIA's own packages carry (``1.17.7-1``, ``1.18.0~rc.1-1``) is judged; any other
  (a distribution's backport, ``1.17.3-0ubuntu1.2``, an epoch) that the table would call affected is a
  warning that says the table cannot judge it, never a pass;
- a row's documented stop-gap (CVE-2025-23266: ``features.disable-cuda-compat-lib-hook = true`` in the
  runtime's config.toml) turns that row into a warning that says "mitigated, not fixed";
- since ``aligned_since`` (1.18) the four packages must be one version: a mixed set is a failure whose
  fix is the command that aligns them;
- leftovers: the ``nvidia-docker2`` and ``nvidia-container-runtime`` packages, and package lists or
  .repo files that name the toolkit's repositories beside the plan's own (``repos.stale_apt_lists``),
  or the plan's list signed by another key.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field

from . import versions
from .bulletins import affecting, table
from .repos import APT_LIST, KEYRING, PACKAGES
from .versions import DPKG_QUERY, parse_dpkg_query

LEFTOVER_PACKAGES = ("nvidia-docker2", "nvidia-container-runtime")
RUNTIME_CONFIGS = ("/etc/nvidia-container-runtime/config.toml", "/etc/nvidia-container-toolkit/config.toml")
SEVERE = ("critical", "high")
# NVIDIA's own package versions: upstream x.y.z (or ~rc.N), revision 1 (or none, as nvidia-ctk prints it)
NVIDIA_BUILD = re.compile(r"^\d+\.\d+\.\d+(~rc\.\d+)?(-1)?$")


def nvidia_build(version: str) -> bool:
    return NVIDIA_BUILD.match(version.strip()) is not None


def parse_rpm_query(text: str) -> dict[str, str]:
    """``rpm -q --qf '%{NAME} %{EPOCHNUM}:%{VERSION}-%{RELEASE}\\n'``: installed packages (a package that is
    not installed prints "package X is not installed" and is left out); an epoch of 0 is dropped."""
    found = {}
    for line in text.splitlines():
        m = re.match(r"^(\S+) (\d+):(\S+)$", line.strip())
        if m:
            found[m.group(1)] = m.group(3) if m.group(2) == "0" else f"{m.group(2)}:{m.group(3)}"
    return found


def installed_packages(run, names=PACKAGES + LEFTOVER_PACKAGES) -> tuple[str | None, dict[str, str]]:
    """(the package database that answered, "apt" or "rpm", or None when neither ran; the installed ones
    of ``names``). ``run(argv) -> (exit code, output)``, as a target's ``run``. A host with both (dpkg on
    Fedora) is judged by the one that knows a package."""
    code, out = run([*DPKG_QUERY, *names])
    deb = parse_dpkg_query(out) if code != 127 else None
    if deb:
        return "apt", deb
    code, out = run(["rpm", "-q", "--qf", "%{NAME} %{EPOCHNUM}:%{VERSION}-%{RELEASE}\n", *names])
    rpm = parse_rpm_query(out) if code != 127 else None
    if rpm:
        return "rpm", rpm
    if deb is not None:
        return "apt", {}
    return ("rpm", {}) if rpm is not None else (None, {})


def mitigations(config: bytes | None) -> set[str]:
    """The feature flags set true in the runtime's config.toml (``[features]`` table)."""
    if not config:
        return set()
    try:
        doc = tomllib.loads(config.decode(errors="replace"))
    except tomllib.TOMLDecodeError:
        return set()
    features = doc.get("features") or {}
    return {k for k, v in features.items() if v is True} if isinstance(features, dict) else set()


@dataclass
class Finding:
    row: dict
    mitigated: bool = False


@dataclass
class Assessment:
    """What the table says of the lowest version seen."""

    version: str  # the version judged
    source: str  # which package (or nvidia-ctk) carries it
    findings: list[Finding] = field(default_factory=list)
    undecided: bool = False  # a build the table cannot judge (a distribution's own)

    @property
    def severe(self) -> list[Finding]:
        return [f for f in self.findings if f.row["severity"] in SEVERE and not f.mitigated]


def lowest(found: dict[str, str], manager: str) -> tuple[str, str] | None:
    """(source, version) of the lowest version among ``found`` (package or nvidia-ctk -> version)."""
    best = None
    for source, v in found.items():
        if best is None or versions.compare(v, best[1], manager) < 0:
            best = (source, v)
    return best


def assess(found: dict[str, str], manager: str = "apt", flags: set[str] = frozenset()) -> Assessment | None:
    """Judge the lowest of ``found`` against the table; None when nothing was found."""
    low = lowest(found, manager)
    if low is None:
        return None
    source, version = low
    rows = affecting(version, manager)
    if rows and not nvidia_build(version):
        return Assessment(version, source, undecided=True, findings=[Finding(r) for r in rows])
    return Assessment(version, source, findings=[Finding(r, mitigated=r.get("mitigation") in flags) for r in rows])


def mixed(found: dict[str, str], manager: str = "apt") -> bool:
    """The four packages are installed at more than one version, and one of them is from 1.18 on."""
    have = {found[p] for p in PACKAGES if p in found}
    since = table()["aligned_since"]
    return len(have) > 1 and any(versions.compare(versions.upstream(v), since, manager) >= 0 for v in have)


def align_command(found: dict[str, str], manager: str, version: str = "") -> str:
    """The command that installs the four packages at one version: ``version``, else the newest installed."""
    version = version or max((found[p] for p in PACKAGES if p in found), key=lambda v: _Key(v, manager), default="")
    if manager == "rpm":
        return "sudo dnf install -y " + " ".join(f"{p}-{version}" for p in PACKAGES)
    return "sudo apt-get install -y --allow-downgrades " + " ".join(f"{p}={version}" for p in PACKAGES)


class _Key:
    def __init__(self, v: str, manager: str):
        self.v, self.manager = v, manager

    def __lt__(self, other: _Key) -> bool:
        return versions.compare(self.v, other.v, self.manager) < 0


def leftover_packages(found: dict[str, str]) -> list[str]:
    return [p for p in LEFTOVER_PACKAGES if p in found]


def foreign_signed_by(listing: bytes | None) -> list[str]:
    """The keyrings other than the plan's that the plan's own list names (``signed-by=``)."""
    keys = re.findall(r"signed-by=([^\]\s]+)", (listing or b"").decode(errors="replace"))
    return sorted({k for k in keys if k != KEYRING})


def stale_repo_files(
    target, folder: str = "/etc/yum.repos.d", ours: str = "nvidia-container-toolkit.repo"
) -> list[str]:
    """.repo files beside the plan's own that name NVIDIA's toolkit repositories (the old nvidia-docker
    and nvidia-container-runtime ones, or a second copy of the toolkit's)."""
    found = []
    for name in target.listdir(folder):
        if not name.endswith(".repo") or name == ours:
            continue
        text = (target.read(f"{folder}/{name}") or b"").decode(errors="replace")
        if re.search(r"nvidia\.github\.io/(libnvidia-container|nvidia-docker|nvidia-container-runtime)", text):
            found.append(f"{folder}/{name}")
    return found


__all__ = [
    "APT_LIST",
    "Assessment",
    "Finding",
    "align_command",
    "assess",
    "affecting",
    "foreign_signed_by",
    "installed_packages",
    "leftover_packages",
    "mitigations",
    "mixed",
    "nvidia_build",
    "stale_repo_files",
    "table",
]
