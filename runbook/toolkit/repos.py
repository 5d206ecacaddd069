"""The toolkit's package repositories and the steps that install its packages (apt, dnf, zypper).

NVIDIA's current method: a keyring file and a ``signed-by`` list for apt, a .repo file for dnf and
zypper, the four packages at one version (they must match since 1.18). The 2023 way (``apt-key add``
and the per-distro nvidia-docker list) no longer works: ``apt-key`` is gone from current Ubuntu, and
leftover lists make apt fail with ``Conflicting values set for option Signed-By``.

A mirror serves NVIDIA's files unchanged, and they name NVIDIA's host; so with a mirror, the key, the
list and the .repo come from the mirror, and every URL in them is rewritten to the mirror, or a host
that reaches only the mirror fails at ``apt-get update``. The rewriting is a list of sed substitutions:
shown as ``sed``, applied by the same rules here, so the plan shows what is applied.
"""

from __future__ import annotations

import base64
import re
import urllib.error
import urllib.request
from dataclasses import dataclass

from ..errors import ToolkitError
from ..i18n import _
from .plan import Step, run_ok
from .versions import DPKG_QUERY, parse_dpkg_query

REPO = "https://nvidia.github.io/libnvidia-container"  # the default mirror base URL
KEYRING = "/usr/share/keyrings/nvidia-container-toolkit-keyring.gpg"
APT_LIST = "/etc/apt/sources.list.d/nvidia-container-toolkit.list"
PACKAGES = (
    "nvidia-container-toolkit",
    "nvidia-container-toolkit-base",
    "libnvidia-container-tools",
    "libnvidia-container1",
)
# A mirror's CDN node that accepts the connection and then sends nothing holds apt for many minutes
# (seen from mainland China): each download gives up after 30 s and is tried three times more; shown in
# the plan, so that the commands to copy do the same.
APT_NETWORK = ["-o", "Acquire::http::Timeout=30", "-o", "Acquire::https::Timeout=30", "-o", "Acquire::Retries=3"]
DNF_NETWORK = ["--setopt=timeout=30", "--setopt=retries=3"]
# apt-get waits this long for another apt or dpkg (unattended-upgrades at boot, say) to let go of its lock
APT_GET = ["apt-get", "-o", "DPkg::Lock::Timeout=300", *APT_NETWORK]
# lists left by the 2023 method; with a signed-by list beside them apt refuses to run
STALE_APT_LISTS = ("/etc/apt/sources.list.d/nvidia-docker.list", "/etc/apt/sources.list.d/libnvidia-container.list")


@dataclass
class Source:
    """Where the packages come from and which ones: NVIDIA's repository by default."""

    mirror: str = REPO
    channel: str = "stable"  # or experimental
    version: str = ""  # one version for all packages; empty: the newest the repository has
    packages: tuple[str, ...] = PACKAGES

    @property
    def key_url(self) -> str:
        return f"{self.mirror.rstrip('/')}/gpgkey"

    @property
    def apt_list_url(self) -> str:
        return f"{self.mirror.rstrip('/')}/stable/deb/nvidia-container-toolkit.list"

    @property
    def rpm_repo_url(self) -> str:
        return f"{self.mirror.rstrip('/')}/stable/rpm/nvidia-container-toolkit.repo"


def fetch(url: str, timeout: float = 60) -> bytes:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.read()
    except (urllib.error.URLError, OSError) as e:
        raise ToolkitError(
            _("cannot fetch {url}: {error}").format(url=url, error=getattr(e, "reason", e)),
            cause=_("The toolkit's repository (or the mirror given) cannot be reached from this host."),
            remediation=_("Check the network or proxy, or set toolkit_mirror to a mirror this host reaches."),
        ) from None


def dearmor(key: bytes) -> bytes:
    """An OpenPGP key as the binary keyring apt's signed-by reads (what ``gpg --dearmor`` does)."""
    text = key.decode("ascii", errors="replace")
    if "-----BEGIN PGP PUBLIC KEY BLOCK-----" not in text:
        return key  # already binary
    body = text.split("-----BEGIN PGP PUBLIC KEY BLOCK-----", 1)[1].split("-----END PGP PUBLIC KEY BLOCK-----", 1)[0]
    lines = [line.strip() for line in body.strip().splitlines()]
    if "" in lines:  # armor headers end at the first blank line
        lines = lines[lines.index("") + 1 :]
    return base64.b64decode("".join(line for line in lines if line and not line.startswith("=")))


@dataclass(frozen=True)
class Edit:
    """One sed substitution, every match on a line (``s#PATTERN#NEW#g``), on the lines that match
    ``address`` only, if given. Its patterns use only what sed's basic and Python's regular expressions
    read alike (plain text, ``.``, ``^``), and ``new`` holds no ``&`` or backslash (mirror URLs cannot:
    ``params.url``), so ``apply`` does what ``sed`` shows."""

    pattern: str
    new: str
    address: str = ""

    def sed(self) -> str:
        d = "#" if "/" in self.pattern + self.new else "/"
        where = f"/{self.address}/ " if self.address else ""
        return f"{where}s{d}{self.pattern}{d}{self.new}{d}g"

    def apply(self, line: str) -> str:
        if self.address and not re.search(self.address, line):
            return line
        return re.sub(self.pattern, lambda _: self.new, line)


def edit(raw: bytes, edits: list[Edit]) -> bytes:
    """``raw`` through ``edits`` in order, line by line, as ``sed -e E1 -e E2 …`` does."""
    lines = raw.decode().split("\n")
    for e in edits:
        lines = [e.apply(line) for line in lines]
    return "\n".join(lines).encode()


def sed(edits: list[Edit]) -> str:
    """The edits as one sed command line."""
    if len(edits) == 1:
        return f"sed '{edits[0].sed()}'"
    return "sed " + " ".join(f"-e '{e.sed()}'" for e in edits)


def to_mirror(source: Source) -> list[Edit]:
    """NVIDIA's URLs rewritten to the mirror (nothing when the source is NVIDIA's own repository)."""
    mirror = source.mirror.rstrip("/")
    return [] if mirror == REPO else [Edit(REPO, mirror)]


def list_edits(source: Source) -> list[Edit]:
    """NVIDIA's .list made ours: its URLs to the mirror; every deb line, commented or not, signed by the
    keyring (NVIDIA's install guide's sed, with ``http://`` for a mirror without TLS); the experimental
    line uncommented when that channel is asked for (the guide's ``sed '/experimental/ s/^#//g'``)."""
    scheme = source.mirror.split("://", 1)[0] + "://"
    edits = to_mirror(source) + [Edit(f"deb {scheme}", f"deb [signed-by={KEYRING}] {scheme}")]
    if source.channel == "experimental":
        edits.append(Edit("^#", "", address="experimental"))
    return edits


def signed_list(raw: bytes, source: Source) -> bytes:
    """NVIDIA's .list as the plan writes it: ``raw`` through ``list_edits``."""
    return edit(raw, list_edits(source))


def toolkit_repositories(source: Source) -> list[str]:
    """The URLs of the toolkit's apt repositories, as a list names them (without the scheme): NVIDIA's and
    the mirror's, each channel; the old method's per-distro ones start with nvidia-docker's."""
    bases = {REPO.split("://", 1)[1], source.mirror.rstrip("/").split("://", 1)[-1]}
    return sorted(f"{b}/{channel}/" for b in bases for channel in ("stable", "experimental")) + [
        "nvidia.github.io/nvidia-docker/",
        "nvidia.github.io/libnvidia-container/",
        "nvidia.github.io/nvidia-container-runtime/",
    ]


def stale_apt_lists(target, source: Source) -> list[str]:
    """Lists left by the old method, or naming one of the toolkit's repositories (by its path and channel)
    without our keyring: apt refuses to run with them beside ours (``Conflicting values set for option
    Signed-By``). A list that only shares a host with the mirror (a general mirror's Debian list) is not
    the toolkit's and is never touched."""
    folder = "/etc/apt/sources.list.d"
    repos = toolkit_repositories(source)
    found = []
    for name in target.listdir(folder):
        path = f"{folder}/{name}"
        if path == APT_LIST or not name.endswith((".list", ".sources")):
            continue
        try:
            text = (target.read(path) or b"").decode(errors="replace")
        except OSError:
            continue  # not a file apt reads either
        urls = re.findall(r"[a-z]+://(\S+)", text)
        if path in STALE_APT_LISTS or any(u.rstrip("/") + "/" == r or u.startswith(r) for u in urls for r in repos):
            found.append(path)
    return found


class _Cached:
    """A value fetched once, when a step first needs it (showing a plan fetches nothing)."""

    def __init__(self, fn):
        self.fn, self.value = fn, None

    def __call__(self):
        if self.value is None:
            self.value = self.fn()
        return self.value


def _installed_versions(target, packages) -> dict[str, str]:
    return parse_dpkg_query(target.run([*DPKG_QUERY, *packages])[1])


def _apt_candidate(target, package: str) -> str:
    out = run_ok(target, ["apt-cache", "policy", package], f"apt-cache policy {package}")
    m = re.search(r"Candidate:\s*(\S+)", out)
    if not m or m.group(1) == "(none)":
        raise ToolkitError(
            _("the repository offers no {package}").format(package=package),
            evidence=out,
            remediation=_("Check toolkit_mirror and toolkit_channel."),
        )
    return m.group(1)


def refuse_vulnerable(version: str, manager: str = "apt") -> None:
    """A version NVIDIA's bulletins name is never installed, even when it is the repository's newest
    (an old mirror)."""
    from .bulletins import affecting

    rows = affecting(version, manager)
    if rows:
        raise ToolkitError(
            _("the repository's {version} is affected by {cves}: not installed").format(
                version=version, cves=", ".join(r["cve"] for r in rows)
            ),
            cause=_("The mirror or channel serves an old toolkit with known vulnerabilities."),
            remediation=_("Point toolkit_mirror at a repository with a fixed version, or pin one (toolkit_version)."),
        )


def apt_steps(target, source: Source) -> list[Step]:
    key = _Cached(lambda: dearmor(fetch(source.key_url)))
    listing = _Cached(lambda: signed_list(fetch(source.apt_list_url), source))
    steps = []
    for path in stale_apt_lists(target, source):
        steps.append(
            Step(
                _("remove a list that names the repository without our keyring (old nvidia-docker method)"),
                f"sudo rm {path}",
                done=lambda t, p=path: t.read(p) is None,
                do=lambda t, p=path: t.remove(p),
            )
        )
    steps.append(
        Step(
            _("install NVIDIA's signing key into its own keyring"),
            f"curl -fsSL {source.key_url} | sudo gpg --dearmor --yes -o {KEYRING}",
            done=lambda t: t.read(KEYRING) is not None and t.read(KEYRING) == key(),
            do=lambda t: t.write(KEYRING, key()),
        )
    )
    why = (
        _("add the repository, signed by that key only, its URLs rewritten to the mirror")
        if to_mirror(source)
        else _("add the repository, signed by that key only")
    )
    steps.append(
        Step(
            why,
            f"curl -fsSL {source.apt_list_url} | {sed(list_edits(source))} | sudo tee {APT_LIST}",
            done=lambda t: t.read(APT_LIST) == listing(),
            do=lambda t: t.write(APT_LIST, listing()),
        )
    )
    pinned = " ".join(f"{p}={source.version}" if source.version else p for p in source.packages)

    def installed(t) -> bool:
        have = _installed_versions(t, source.packages)
        if set(have) != set(source.packages):
            return False
        return len(set(have.values())) == 1 and (not source.version or source.version in have.values())

    def install(t) -> None:
        run_ok(t, [*APT_GET, "update"], "apt-get update")
        version = source.version or _apt_candidate(t, source.packages[0])
        refuse_vulnerable(version)
        run_ok(
            t,
            [*APT_GET, "install", "-y", "--allow-downgrades", *[f"{p}={version}" for p in source.packages]],
            "apt-get install",
        )

    steps.append(
        Step(
            _("refresh the package lists and install {packages} at one version ({version})").format(
                packages=", ".join(source.packages), version=source.version or _("the newest")
            ),
            f"sudo apt-get {' '.join(APT_NETWORK)} update && sudo apt-get {' '.join(APT_NETWORK)} install -y {pinned}",
            done=installed,
            do=install,
        )
    )
    return steps


def rpm_steps(manager: str, source: Source) -> list[Step]:
    """dnf, yum and zypper: the same kind of steps as apt (checked command by command; no such test machine).
    With a mirror, the .repo's ``baseurl`` and ``gpgkey`` are rewritten to it: dnf gets the rewritten
    file, zypper adds it (``zypper ar`` of NVIDIA's URL would add NVIDIA's host)."""
    sep = "=" if manager == "zypper" else "-"
    pkgs = [f"{p}{sep}{source.version}" if source.version else p for p in source.packages]
    edits = to_mirror(source)
    repo = _Cached(lambda: edit(fetch(source.rpm_repo_url), edits))
    rewrite = f" | {sed(edits)}" if edits else ""
    why = _("add the repository, its URLs rewritten to the mirror") if edits else _("add the repository")
    if manager in ("dnf", "yum"):
        repo_file = "/etc/yum.repos.d/nvidia-container-toolkit.repo"
        steps = [
            Step(
                why,
                f"curl -fsSL {source.rpm_repo_url}{rewrite} | sudo tee {repo_file}",
                done=lambda t: t.read(repo_file) == repo(),
                do=lambda t: t.write(repo_file, repo()),
            )
        ]
        if manager == "dnf":
            enable = ["dnf", "config-manager", "--enable", "nvidia-container-toolkit-experimental"]
        else:  # yum (RHEL/CentOS 7, Amazon Linux 2): yum-utils' config manager
            enable = ["yum-config-manager", "--enable", "nvidia-container-toolkit-experimental"]
        install = [manager, "install", "-y", *DNF_NETWORK, *pkgs]

        def experimental_on(t) -> bool:
            return (
                re.search(rb"\[nvidia-container-toolkit-experimental\][^\[]*enabled=1", t.read(repo_file) or b"")
                is not None
            )
    else:
        repo_dir = "/etc/zypp/repos.d"

        def ours(t) -> list[bytes]:
            return [
                t.read(f"{repo_dir}/{n}") or b""
                for n in t.listdir(repo_dir)
                if n.startswith("nvidia-container-toolkit")
            ]

        if edits:
            local = "nvidia-container-toolkit.repo"
            mirror = source.mirror.rstrip("/").encode()

            def add(t) -> None:
                tmp = run_ok(t, ["mktemp", "--suffix=.repo"], "mktemp").strip()
                try:
                    t.write(tmp, repo())
                    run_ok(t, ["zypper", "--non-interactive", "ar", tmp], "zypper ar")
                finally:
                    t.remove(tmp)

            steps = [
                Step(
                    why,
                    f"curl -fsSL {source.rpm_repo_url}{rewrite} > {local} && sudo zypper ar {local}",
                    done=lambda t: any(b"baseurl=" + mirror in r for r in ours(t)),
                    do=add,
                )
            ]
        else:
            steps = [
                Step(
                    why,
                    f"sudo zypper ar {source.rpm_repo_url}",
                    done=lambda t: bool(ours(t)),
                    do=lambda t: run_ok(t, ["zypper", "--non-interactive", "ar", source.rpm_repo_url], "zypper ar"),
                )
            ]
        enable = ["zypper", "modifyrepo", "--enable", "nvidia-container-toolkit-experimental"]
        install = ["zypper", "--gpg-auto-import-keys", "--non-interactive", "install", *pkgs]

        def experimental_on(t) -> bool:
            return b"enabled=1" in (t.read(f"{repo_dir}/nvidia-container-toolkit-experimental.repo") or b"")

    if source.channel == "experimental":
        steps.append(
            Step(
                _("enable the experimental channel"),
                "sudo " + " ".join(enable),
                done=experimental_on,
                do=lambda t: run_ok(t, enable, _("enabling the experimental channel")),
            )
        )
    steps.append(
        Step(
            _("install {packages} at one version ({version})").format(
                packages=", ".join(source.packages), version=source.version or _("the newest")
            ),
            "sudo " + " ".join(install),
            done=lambda t: t.run(["rpm", "-q", *[p.replace("=", "-") for p in pkgs]])[0] == 0,
            do=lambda t: run_ok(t, install, _("installing the packages")),
        )
    )
    return steps
