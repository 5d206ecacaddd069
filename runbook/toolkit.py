"""The NVIDIA Container Toolkit: is it installed, what the engine knows of it, and the plan that
installs and configures it: shown first, applied only when asked, each step idempotent and checked.

The plan follows NVIDIA's current method (a keyring file and a ``signed-by`` list for apt, a .repo
file for dnf and zypper, the four packages at one version). The 2023 way (``apt-key add`` and the
per-distro nvidia-docker list) no longer works: ``apt-key`` is gone from current Ubuntu, and
leftover lists make apt fail with ``Conflicting values set for option Signed-By``.
"""
from __future__ import annotations

import base64
import glob
import grp
import os
import re
import shlex
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Callable

from . import daemon_json, diagnosis
from .errors import HostError, RunbookError

REPO = "https://nvidia.github.io/libnvidia-container"  # the default mirror base URL
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




def package_manager(os_info: dict[str, str]) -> str | None:
    ids = {os_info.get("ID", "")} | set(os_info.get("ID_LIKE", "").split())
    if ids & {"debian", "ubuntu"}:
        return "apt"
    if ids & {"rhel", "fedora", "centos", "rocky", "almalinux", "amzn"}:
        return "dnf"
    if ids & {"suse", "opensuse", "sles", "opensuse-leap", "opensuse-tumbleweed"}:
        return "zypper"
    return None


class ToolkitError(RunbookError):
    """A step of the install plan failed; the steps before it stay applied (each is idempotent)."""


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


@dataclass
class Step:
    why: str
    show: str  # the step as a person would type it
    done: Callable[[object], bool]  # is it already in effect on the target?
    do: Callable[[object], None]  # make it so (raises ToolkitError)


@dataclass
class Plan:
    manager: str  # apt, dnf, zypper
    os_name: str
    steps: list[Step] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def commands(self) -> list[str]:
        return [s.show for s in self.steps]

    def text(self) -> str:
        lines = [f"# {s.why}\n{s.show}" for s in self.steps]
        return "\n".join(lines + [f"# note: {n}" for n in self.notes])


def fetch(url: str, timeout: float = 60) -> bytes:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.read()
    except (urllib.error.URLError, OSError) as e:
        raise ToolkitError(f"cannot fetch {url}: {getattr(e, 'reason', e)}",
                           cause="The toolkit's repository (or the mirror given) cannot be reached from this host.",
                           remediation="Check the network or proxy, or set toolkit_mirror to a mirror this host reaches.") from None


def dearmor(key: bytes) -> bytes:
    """An OpenPGP key as the binary keyring apt's signed-by reads (what ``gpg --dearmor`` does)."""
    text = key.decode("ascii", errors="replace")
    if "-----BEGIN PGP PUBLIC KEY BLOCK-----" not in text:
        return key  # already binary
    body = text.split("-----BEGIN PGP PUBLIC KEY BLOCK-----", 1)[1].split("-----END PGP PUBLIC KEY BLOCK-----", 1)[0]
    lines = body.strip().splitlines()
    if "" in [l.strip() for l in lines]:  # armor headers end at the first blank line
        lines = lines[[l.strip() for l in lines].index("") + 1:]
    data = "".join(l.strip() for l in lines if l.strip() and not l.startswith("="))
    return base64.b64decode(data)


def signed_list(raw: bytes, channel: str) -> bytes:
    """NVIDIA's .list with every deb line signed by the keyring; the experimental lines enabled if asked."""
    out = []
    for line in raw.decode().splitlines():
        if channel == "experimental" and "experimental" in line:
            line = line.lstrip("#").lstrip()
        if line.startswith("deb ") and "signed-by=" not in line:
            line = f"deb [signed-by={KEYRING}] " + line[4:]
        out.append(line)
    return ("\n".join(out) + "\n").encode()


def stale_apt_lists(target, source: Source) -> list[str]:
    """Lists left by the old method, or naming the same repository without our keyring: apt refuses to
    run with them beside ours (``Conflicting values set for option Signed-By``)."""
    folder = "/etc/apt/sources.list.d"
    repo = source.mirror.rstrip("/").split("://", 1)[-1]
    found = []
    for name in target.listdir(folder):
        path = f"{folder}/{name}"
        if path == APT_LIST or not name.endswith((".list", ".sources")):
            continue
        text = (target.read(path) or b"").decode(errors="replace")
        if path in STALE_APT_LISTS or "nvidia.github.io/nvidia-docker" in text or repo in text:
            found.append(path)
    return found


class _Cached:
    def __init__(self, fn):
        self.fn, self.value = fn, None

    def __call__(self):
        if self.value is None:
            self.value = self.fn()
        return self.value


def _run_ok(target, argv: list[str], what: str) -> str:
    code, out = target.run(argv)
    if code != 0:
        d = diagnosis.diagnose(out)
        raise ToolkitError(f"{what} failed (exit {code})", cause=d.cause if d else "", notebook=diagnosis.NB_TOOLKIT,
                           remediation=d.remediation if d else "Read the output; fix the cause and apply again.",
                           evidence=out[-4000:])
    return out


def _installed_versions(target, packages) -> dict[str, str]:
    code, out = target.run(["dpkg-query", "-W", "-f=${Package} ${Version} ${db:Status-Abbrev}\n", *packages])
    versions = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) >= 3 and parts[2].startswith("ii"):
            versions[parts[0]] = parts[1]
    return versions


def _apt_candidate(target, package: str) -> str:
    out = _run_ok(target, ["apt-cache", "policy", package], f"apt-cache policy {package}")
    m = re.search(r"Candidate:\s*(\S+)", out)
    if not m or m.group(1) == "(none)":
        raise ToolkitError(f"the repository offers no {package}", evidence=out,
                           remediation="Check toolkit_mirror and toolkit_channel.")
    return m.group(1)


def apt_steps(target, source: Source) -> list[Step]:
    key = _Cached(lambda: dearmor(fetch(source.key_url)))
    listing = _Cached(lambda: signed_list(fetch(source.apt_list_url), source.channel))
    steps = []
    for path in stale_apt_lists(target, source):
        steps.append(Step("remove a list that names the repository without our keyring (old nvidia-docker method)",
                          f"sudo rm {path}", done=lambda t, p=path: t.read(p) is None,
                          do=lambda t, p=path: t.remove(p)))
    steps.append(Step("install NVIDIA's signing key into its own keyring",
                      f"curl -fsSL {source.key_url} | sudo gpg --dearmor --yes -o {KEYRING}",
                      done=lambda t: t.read(KEYRING) is not None and t.read(KEYRING) == key(),
                      do=lambda t: t.write(KEYRING, key())))
    sed = "sed 's#deb https://#deb [signed-by=" + KEYRING + "] https://#g'"
    if source.channel == "experimental":
        sed += " | sed '/experimental/ s/^#//g'"
    steps.append(Step("add the repository, signed by that key only",
                      f"curl -fsSL {source.apt_list_url} | {sed} | sudo tee {APT_LIST}",
                      done=lambda t: t.read(APT_LIST) == listing(),
                      do=lambda t: t.write(APT_LIST, listing())))
    pinned = " ".join(f"{p}={source.version}" if source.version else p for p in source.packages)

    def installed(t) -> bool:
        have = _installed_versions(t, source.packages)
        if set(have) != set(source.packages):
            return False
        return len(set(have.values())) == 1 and (not source.version or source.version in have.values())

    def install(t) -> None:
        _run_ok(t, ["apt-get", "update"], "apt-get update")
        version = source.version or _apt_candidate(t, source.packages[0])
        _run_ok(t, ["apt-get", "install", "-y", "--allow-downgrades", *[f"{p}={version}" for p in source.packages]],
                "apt-get install")
    steps.append(Step(f"refresh the package lists and install {', '.join(source.packages)} at one version "
                      f"({source.version or 'the newest'})", f"sudo apt-get update && sudo apt-get install -y {pinned}",
                      done=installed, do=install))
    return steps


def rpm_steps(manager: str, source: Source) -> list[Step]:
    """dnf and zypper: the same kind of steps as apt (checked command by command; no such test machine)."""
    sep = "-" if manager == "dnf" else "="
    pkgs = [f"{p}{sep}{source.version}" if source.version else p for p in source.packages]
    repo = _Cached(lambda: fetch(source.rpm_repo_url))
    if manager == "dnf":
        repo_file = "/etc/yum.repos.d/nvidia-container-toolkit.repo"
        steps = [Step("add the repository",
                      f"curl -fsSL {source.rpm_repo_url} | sudo tee {repo_file}",
                      done=lambda t: t.read(repo_file) == repo(), do=lambda t: t.write(repo_file, repo()))]
        enable = ["dnf", "config-manager", "--enable", "nvidia-container-toolkit-experimental"]
        install = ["dnf", "install", "-y", *pkgs]
        experimental_on = lambda t: re.search(rb"\[nvidia-container-toolkit-experimental\][^\[]*enabled=1",
                                              t.read(repo_file) or b"") is not None
    else:
        repo_dir = "/etc/zypp/repos.d"
        steps = [Step("add the repository", f"sudo zypper ar {source.rpm_repo_url}",
                      done=lambda t: any(n.startswith("nvidia-container-toolkit") for n in t.listdir(repo_dir)),
                      do=lambda t: _run_ok(t, ["zypper", "--non-interactive", "ar", source.rpm_repo_url], "zypper ar"))]
        enable = ["zypper", "modifyrepo", "--enable", "nvidia-container-toolkit-experimental"]
        install = ["zypper", "--gpg-auto-import-keys", "--non-interactive", "install", *pkgs]
        experimental_on = lambda t: b"enabled=1" in (t.read(f"{repo_dir}/nvidia-container-toolkit-experimental.repo") or b"")
    if source.channel == "experimental":
        steps.append(Step("enable the experimental channel", "sudo " + " ".join(enable), done=experimental_on,
                          do=lambda t: _run_ok(t, enable, "enabling the experimental channel")))
    steps.append(Step(f"install {', '.join(source.packages)} at one version ({source.version or 'the newest'})",
                      "sudo " + " ".join(install),
                      done=lambda t: t.run(["rpm", "-q", *[p.replace("=", "-") for p in pkgs]])[0] == 0,
                      do=lambda t: _run_ok(t, install, "installing the packages")))
    return steps


@dataclass
class EngineSettings:
    """How the engine is configured for the toolkit and restarted afterwards."""

    daemon_json: str = daemon_json.SYSTEM_PATH
    rootless: bool = False
    set_as_default: bool = False
    cdi: bool = False
    registry_mirrors: list[str] = field(default_factory=list)
    restart: list[str] | None = None  # argv; None: systemd (the user's service when rootless); []: no restart
    check_runtime: Callable[[], bool] | None = None  # does the engine now report the nvidia runtime?


def restart_argv(settings: EngineSettings) -> list[str]:
    if settings.restart is not None:
        return settings.restart
    return ["systemctl", "--user", "restart", "docker"] if settings.rootless else ["systemctl", "restart", "docker"]


def engine_steps(settings: EngineSettings, driver_version: str | None = None) -> list[Step]:
    changes = daemon_json.nvidia_runtime(set_as_default=settings.set_as_default, cdi=settings.cdi)
    if settings.registry_mirrors:
        changes.update(daemon_json.registry_mirrors(settings.registry_mirrors))
    flags = " --set-as-default" if settings.set_as_default else ""
    flags += " --cdi.enabled" if settings.cdi else ""
    flags += f" --config={settings.daemon_json}" if settings.rootless else ""
    sudo = "" if settings.rootless else "sudo "

    def configured(t) -> bool:
        raw = t.read(settings.daemon_json)
        current = daemon_json.parse(raw or b"", settings.daemon_json)
        return daemon_json.merge(current, changes) == current

    state = {"changed": False}  # a restart is due when the configuration changed in this run

    def configure(t) -> None:
        change = daemon_json.apply(settings.daemon_json, changes)
        state["changed"] = change.changed
        if change.backup:
            print(f"  {settings.daemon_json} backed up to {change.backup}")

    if settings.registry_mirrors:
        flags += "  # and add registry-mirrors: " + " ".join(settings.registry_mirrors)
    steps = [Step(f"register the nvidia runtime in {settings.daemon_json}; applied by the runbook as a merge that "
                  "keeps every other setting, after a timestamped backup (by hand: this command)",
                  f"{sudo}nvidia-ctk runtime configure --runtime=docker{flags}",
                  done=configured, do=configure)]
    if settings.rootless:
        cfg = "/etc/nvidia-container-runtime/config.toml"
        steps.append(Step("let the runtime work without cgroup access (rootless)",
                          "sudo nvidia-ctk config --set nvidia-container-cli.no-cgroups --in-place",
                          done=lambda t: b"no-cgroups = true" in (t.read(cfg) or b""),
                          do=lambda t: _run_ok(t, ["nvidia-ctk", "config", "--set", "nvidia-container-cli.no-cgroups",
                                                   "--in-place"], "nvidia-ctk config")))
    if settings.cdi:
        spec = "/var/run/cdi/nvidia.yaml"
        steps.append(Step("generate the CDI specification of the GPUs (again after every driver upgrade)",
                          f"sudo nvidia-ctk cdi generate --output={spec}",
                          done=lambda t: cdi_spec_current(t.read(spec), driver_version),
                          do=lambda t: _run_ok(t, ["nvidia-ctk", "cdi", "generate", f"--output={spec}"], "nvidia-ctk cdi generate")))
    argv = restart_argv(settings)
    if argv:
        def restart(t) -> None:
            _run_ok(t, argv, "restarting the engine")
            state["changed"] = False
            for _ in range(60):  # the engine takes a moment to answer again
                if settings.check_runtime is None or settings.check_runtime():
                    return
                time.sleep(1)

        def restarted(t) -> bool:
            return not state["changed"] and (settings.check_runtime is None or settings.check_runtime())
        steps.append(Step("restart the engine so that it reads the new configuration and finds the toolkit",
                          ("" if settings.rootless or argv != ["systemctl", "restart", "docker"] else "sudo ")
                          + " ".join(shlex.quote(a) for a in argv),
                          done=restarted, do=restart))
    return steps


def cdi_spec_current(spec: bytes | None, driver_version: str | None) -> bool:
    """A spec exists and was generated for this driver (its library paths carry the driver version)."""
    if spec is None or b"nvidia.com/gpu" not in spec:
        return False
    return driver_version is None or driver_version.encode() in spec


def docker_group_step(user: str) -> Step:
    def member(t) -> bool:
        try:
            return user in grp.getgrnam("docker").gr_mem
        except KeyError:
            return False
    return Step(f"add {user} to the docker group (root-equivalent: anyone in it controls the host; takes a new "
                "login, and a restarted Jupyter server; rootless Docker is the alternative)",
                f"sudo usermod -aG docker {user}", done=member,
                do=lambda t: _run_ok(t, ["usermod", "-aG", "docker", user], "usermod"))


def install_plan(os_info: dict[str, str], target=None, source: Source | None = None,
                 engine: EngineSettings | None = None, driver_version: str | None = None,
                 docker_group_user: str | None = None) -> Plan | None:
    """The steps that install the toolkit on this OS (and, given ``engine``, configure the engine);
    None for an OS without apt, dnf or zypper."""
    from .targets import HostTarget
    manager = package_manager(os_info)
    if manager is None:
        return None
    target = target or HostTarget()
    source = source or Source()
    plan = Plan(manager, os_info.get("PRETTY_NAME", os_info.get("ID", "?")))
    plan.steps = apt_steps(target, source) if manager == "apt" else rpm_steps(manager, source)
    if engine is not None:
        plan.steps += engine_steps(engine, driver_version)
    if docker_group_user:
        plan.steps.append(docker_group_step(docker_group_user))
    return plan


@dataclass
class Applied:
    show: str
    outcome: str  # "already done", "applied"
    why: str


def apply(plan: Plan, target, log: Callable[[str], None] = print) -> list[Applied]:
    """Apply the steps in order: a step already in effect is left alone; a step applied is checked
    afterwards. Raises ToolkitError at the first step that fails or does not take effect."""
    done = []
    for step in plan.steps:
        if step.done(target):
            done.append(Applied(step.show, "already done", step.why))
            log(f"already done: {step.show}")
            continue
        log(f"applying: {step.show}")
        step.do(target)
        if not step.done(target):
            raise ToolkitError(f"`{step.show}` ran but did not take effect", notebook=diagnosis.NB_TOOLKIT,
                               remediation="Read the output above; fix the cause and apply again.")
        done.append(Applied(step.show, "applied", step.why))
    return done


def docker_engine_plan(os_info: dict[str, str]) -> list[str]:
    """Docker Engine from Docker's own repository (shown only: the runbook does not install engines)."""
    manager = package_manager(os_info)
    distro = os_info.get("ID", "")
    if manager == "apt":
        distro = distro if distro in ("ubuntu", "debian") else ("ubuntu" if "ubuntu" in os_info.get("ID_LIKE", "") else "debian")
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
    if manager == "dnf":
        distro = distro if distro in ("fedora", "rhel", "centos") else "rhel"
        return [f"sudo dnf config-manager --add-repo https://download.docker.com/linux/{distro}/docker-ce.repo",
                "sudo dnf install -y docker-ce docker-ce-cli containerd.io docker-buildx-plugin docker-compose-plugin",
                "sudo systemctl enable --now docker"]
    if manager == "zypper":
        return ["sudo zypper install -y docker", "sudo systemctl enable --now docker"]
    return []
