"""A support bundle: one .tar.gz with what NVIDIA's issue template asks for, to attach to a bug report.

- every part in ``PARTS`` is in the archive, or named in MANIFEST.txt with why it is absent (the file is
  not there, the command is not installed, the engine does not answer);
- credentials are masked in every part: the user and password of URLs (``params.masked``), and the
  values of keys that name a secret (password, token, secret, auth, credential, key) in JSON, TOML and
  ``key=value`` text;
- ``nvidia-bug-report.sh`` runs only when asked (``--nvidia-bug-report``) and installed: it reads far more
  of the host than the rest, and takes minutes;
- nothing is changed on the host: files are read, commands only report.
"""

from __future__ import annotations

import datetime as dt
import errno
import io
import json
import os
import re
import shutil
import socket
import subprocess
import tarfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .. import params
from ..errors import RunSetupError
from ..files import read_regular
from ..i18n import _
from ..toolkit.state import CDI_DIRS

SECRET_KEY = r"[\w.-]*(?:password|passwd|token|secret|auth|credential|apikey|api[_-]key|private[_-]?key)[\w.-]*"
JSON_SECRET = re.compile(r'("' + SECRET_KEY + r'"\s*:\s*)"(?:[^"\\]|\\.)*"', re.IGNORECASE)
ASSIGNED_SECRET = re.compile(r"(^|\s)(" + SECRET_KEY + r")(\s*[=:]\s*)(\S+)", re.IGNORECASE | re.MULTILINE)
BEARER = re.compile(r"(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]+", re.IGNORECASE)
MASK = "***"


def mask(text: str) -> str:
    """``text`` with credentials hidden (see the module's docstring)."""
    text = BEARER.sub(lambda m: f"{m.group(1)} {MASK}", params.masked(text))
    text = JSON_SECRET.sub(lambda m: f'{m.group(1)}"{MASK}"', text)
    return ASSIGNED_SECRET.sub(lambda m: f"{m.group(1)}{m.group(2)}{m.group(3)}{MASK}", text)


class Absent(Exception):
    """A part that is not in the bundle, and why."""


@dataclass
class Part:
    name: str  # the file's name in the archive
    what: str  # what it is, for MANIFEST.txt
    collect: Callable[[], bytes | dict[str, bytes]]  # bytes, or several files {name: bytes} under name/


def command(argv: list[str], timeout: float = 60) -> bytes:
    exe = shutil.which(argv[0])
    if exe is None:
        raise Absent(_("{program} is not installed").format(program=argv[0]))
    try:
        out = subprocess.run([exe, *argv[1:]], capture_output=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise Absent(_("{command} ran past {seconds:.0f} s").format(command=" ".join(argv), seconds=timeout)) from None
    except OSError as e:
        raise Absent(_("{program} cannot be run: {error}").format(program=argv[0], error=e.strerror or e)) from None
    text = out.stdout + out.stderr
    if out.returncode != 0 and not out.stdout:
        raise Absent(
            _("{command} exited {code}: {output}").format(
                command=argv[0],
                code=out.returncode,
                output=(text.decode(errors="replace").strip().splitlines() or [""])[0],
            )
        )
    return text


def read(root: str, path: str) -> bytes:
    """A file of the host (a symlink followed): a regular file of a bounded size (``files.read_regular``),
    so that a FIFO or a device in its place never hangs the bundle."""
    full = Path(root, path.lstrip("/"))
    try:
        return read_regular(str(full))
    except FileNotFoundError:
        raise Absent(_("{path} does not exist").format(path=path)) from None
    except OSError as e:
        raise Absent(_("{path} cannot be read: {error}").format(path=path, error=e)) from None


def first_command(*argvs: list[str]) -> bytes:
    reasons = []
    for argv in argvs:
        try:
            return command(argv)
        except Absent as e:
            reasons.append(str(e))
    raise Absent("; ".join(reasons))


def engine_part(docker_host: str, what: str) -> bytes:
    from .. import engine
    from ..errors import EngineError

    try:
        client = engine.connect(docker_host, timeout=20)
        answer = client.version() if what == "version" else client.info()
    except EngineError as e:
        raise Absent(_("the engine does not answer: {error}").format(error=e)) from None
    return json.dumps(answer, indent=2, sort_keys=True, default=str).encode()


def cdi_specs(root: str) -> dict[str, bytes]:
    found = {}
    for d in CDI_DIRS:
        folder = Path(root, d.lstrip("/"))
        for p in sorted(folder.glob("*.yaml")) + sorted(folder.glob("*.json")):
            name = f"{d.strip('/').replace('/', '_')}_{p.name}"
            try:
                found[name] = read_regular(str(p))
            except OSError as e:  # a FIFO or a device named like a spec: said, not read
                found[f"{name}.unreadable.txt"] = f"{e.strerror or e}\n".encode()
    if not found:
        raise Absent(_("no CDI spec in {dirs}").format(dirs=", ".join(CDI_DIRS)))
    return found


def last_record(record: str | None, runs: str = "runs") -> dict[str, bytes]:
    """The record's summary.json and report.html: the one given, else the newest under ``runs``."""
    if record:
        folder = Path(record)
    else:
        found = sorted(Path(runs).glob("*/summary.json"), key=lambda p: p.stat().st_mtime)
        if not found:
            raise Absent(_("no record under {folder} (give one with --record)").format(folder=runs))
        folder = found[-1].parent
    files = {}
    for name in ("summary.json", "report.html"):
        path = folder / name
        if path.is_symlink():  # the runbook writes none: a link could bring any file of the host along
            files[f"{name}.refused.txt"] = (
                _("{path} is a symbolic link, not a file the runbook wrote").format(path=path).encode()
            )
            continue
        try:
            files[name] = read_regular(str(path))
        except FileNotFoundError:
            continue
        except OSError as e:
            files[f"{name}.refused.txt"] = f"{path}: {e.strerror or e}\n".encode()
    if not files:
        raise Absent(_("{folder} holds no summary.json").format(folder=folder))
    return files


def bug_report() -> bytes:
    import tempfile

    if shutil.which("nvidia-bug-report.sh") is None:
        raise Absent(_("nvidia-bug-report.sh is not installed (it comes with the NVIDIA driver)"))
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp, "nvidia-bug-report.log")
        command(["nvidia-bug-report.sh", "--output-file", str(out)], timeout=900)
        gz = out.with_suffix(".log.gz")
        if not gz.is_file():
            raise Absent(_("nvidia-bug-report.sh wrote no {file}").format(file=gz.name))
        return gz.read_bytes()


def parts(
    root: str = "/",
    docker_host: str = "",
    daemon_json: str = "/etc/docker/daemon.json",
    record: str | None = None,
    nvidia_bug_report: bool = False,
) -> list[Part]:
    from ..toolkit.security import LEFTOVER_PACKAGES, RUNTIME_CONFIGS
    from ..version import version

    toolkit_packages = [
        "nvidia-container-toolkit",
        "nvidia-container-toolkit-base",
        "libnvidia-container-tools",
        "libnvidia-container1",
        *LEFTOVER_PACKAGES,
    ]
    listed = [
        Part("gpu-runbook-version.txt", _("the runbook's version"), lambda: f"gpu-runbook {version()}\n".encode()),
        Part("os-release", _("the OS"), lambda: read(root, "/etc/os-release")),
        Part("uname.txt", _("the kernel"), lambda: command(["uname", "-a"])),
        Part("nvidia-ctk-version.txt", _("the toolkit's version"), lambda: command(["nvidia-ctk", "--version"])),
        Part(
            "toolkit-packages.txt",
            _("the toolkit's packages and their versions"),
            lambda: first_command(["dpkg-query", "-W", *toolkit_packages], ["rpm", "-q", *toolkit_packages]),
        ),
        Part("nvidia-smi-q.txt", _("the driver and GPUs (nvidia-smi -q)"), lambda: command(["nvidia-smi", "-q"])),
        Part("packages.txt", _("the package list"), lambda: first_command(["dpkg", "-l"], ["rpm", "-qa"])),
        Part("docker-version.json", _("the engine's version"), lambda: engine_part(docker_host, "version")),
        Part("docker-info.json", _("docker info"), lambda: engine_part(docker_host, "info")),
        Part(
            "config.toml",
            _("the NVIDIA runtime's config.toml"),
            lambda: next_readable(root, RUNTIME_CONFIGS),
        ),
        Part("daemon.json", _("the engine's daemon.json"), lambda: read(root, daemon_json)),
        Part("cdi", _("the CDI specs"), lambda: cdi_specs(root)),
        Part(
            "journal-docker.txt",
            _("the engine's journal (this boot, last 1000 lines)"),
            lambda: command(["journalctl", "-u", "docker", "-b", "--no-pager", "-n", "1000"]),
        ),
        Part(
            "journal-nvidia-cdi-refresh.txt",
            _("the CDI refresh unit's journal"),
            lambda: command(
                [
                    "journalctl",
                    "-u",
                    "nvidia-cdi-refresh.service",
                    "-u",
                    "nvidia-cdi-refresh.path",
                    "--no-pager",
                    "-n",
                    "500",
                ]
            ),
        ),
        Part("last-record", _("the last record (summary.json, report.html)"), lambda: last_record(record)),
    ]
    if nvidia_bug_report:
        listed.append(Part("nvidia-bug-report.log.gz", _("nvidia-bug-report.sh's report"), bug_report))
    return listed


def next_readable(root: str, paths) -> bytes:
    reasons = []
    for path in paths:
        try:
            return read(root, path)
        except Absent as e:
            reasons.append(str(e))
    raise Absent("; ".join(reasons))


def binary(name: str) -> bool:
    return name.endswith(".gz")


NO_HARD_LINKS = (errno.EPERM, errno.EOPNOTSUPP, errno.EMLINK)


def write(out: str | None = None, **kw) -> tuple[Path, list[tuple[str, str]]]:
    """Collect every part into ``out`` (default gpu-runbook-bundle-<host>-<time>.tar.gz); returns the
    archive's path and, per part, "present" or why it is absent."""
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    top = f"gpu-runbook-bundle-{socket.gethostname()}-{stamp}"
    path = Path(out or f"{top}.tar.gz")
    manifest: list[tuple[str, str]] = []
    # written under a part name, readable by its maker only from the start (it describes the host), and
    # named as asked only once whole: an interrupted bundle never looks like one
    partial = path.with_name(f".{path.name}.part-{os.getpid()}")
    try:
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError as e:
        raise RunSetupError(
            _("cannot write the bundle {path}: {error}").format(path=path.absolute(), error=e.strerror or e),
            remediation=_("Name a new file in a folder you can write: --out FILE."),
        ) from None
    try:
        with os.fdopen(fd, "wb") as raw, tarfile.open(fileobj=raw, mode="w:gz") as tar:

            def add(name: str, data: bytes) -> None:
                if not binary(name):
                    data = mask(data.decode(errors="replace")).encode()
                info = tarfile.TarInfo(f"{top}/{name}")
                info.size, info.mtime, info.mode = len(data), int(dt.datetime.now().timestamp()), 0o644
                tar.addfile(info, io.BytesIO(data))

            for part in parts(**kw):
                try:
                    got = part.collect()
                except (Absent, OSError) as e:  # OSError: a file of the host that cannot be read is said, not fatal
                    reason = e.strerror if isinstance(e, OSError) and e.strerror else e
                    manifest.append((part.name, _("absent: {reason}").format(reason=reason)))
                    continue
                if isinstance(got, dict):
                    for sub, data in got.items():
                        add(f"{part.name}/{sub}", data)
                    manifest.append((part.name, _("present: {files}").format(files=", ".join(got))))
                else:
                    add(part.name, got)
                    manifest.append((part.name, _("present")))
            lines = [f"{name}: {state}" for name, state in manifest]
            add("MANIFEST.txt", ("\n".join(lines) + "\n").encode())
        try:
            os.link(partial, path)  # never over a file that appeared meanwhile (FileExistsError)
        except OSError as e:
            if e.errno not in NO_HARD_LINKS or os.path.lexists(path):
                raise
            os.rename(partial, path)  # a file system without hard links (vfat, some network mounts)
    except OSError as e:  # the disk filled, or the name was taken
        raise RunSetupError(
            _("cannot write the bundle {path}: {error}").format(path=path.absolute(), error=e.strerror or e)
        ) from None
    finally:
        partial.unlink(missing_ok=True)
    return path, manifest
