"""Facts about the host: OS, kernel, cgroups, NVIDIA GPUs on the PCI bus, the driver, Docker access, disk.

The driver is read from ``nvidia-smi -q -x`` (structured XML), never by scraping the human table.
Every reader takes its source (a path, a text) as an argument so that tests feed it captured output.

Its modules:

- ``cuda``: CUDA compatibility: the driver's ceiling, an image's requirement, the image chosen for the driver
- ``health``: each GPU's health from the driver's one answer (persistence, ECC, memory, reset, clocks, PCIe)
- ``events``: XID events from the kernel log, explained; DCGM's quick diagnostic
- ``readouts``: nvidia-smi's default table and --query-gpu CSV, read
- ``mig``: MIG mode of each GPU, and the MIG devices ``nvidia-smi -L`` lists under their GPU
- ``topology``: ``nvidia-smi topo -m``, how each pair of GPUs is connected (NVLink, PCIe)
"""

from __future__ import annotations

import errno
import grp
import json
import os
import platform
import pwd
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

from .. import diagnosis
from ..errors import HostError
from ..i18n import _, translate
from . import cuda

NVIDIA_PCI_VENDOR = "0x10de"
# where drivers put nvidia-smi when it is not on PATH (container images of the driver, WSL)
NVIDIA_SMI_DIRS = ("/usr/bin", "/usr/local/nvidia/bin", "/usr/lib/wsl/lib", "/opt/nvidia/bin")


@dataclass
class Gpu:
    index: int
    name: str
    uuid: str
    memory_total_mib: int | None = None
    bus_id: str = ""
    minor_number: int | None = None
    brand: str = ""  # as NVIDIA_REQUIRE_CUDA's brand= matches it (cuda.toolkit_brand): quadro, tesla, unknown, ...
    product_brand: str = ""  # as nvidia-smi reports it: NVIDIA, Quadro, GeForce, NVIDIA RTX, ...
    architecture: str = ""  # Hopper, Maxwell, ... (nvidia-smi's product_architecture, else known by name)
    mig_mode: str = ""  # Enabled, Disabled; '' on a GPU without MIG (nvidia-smi says N/A)
    mig_pending: str = ""  # the MIG mode after the next GPU reset


@dataclass
class DriverInfo:
    driver_version: str
    cuda_version: str  # the highest CUDA version this driver supports ("CUDA Version" in nvidia-smi)
    gpus: list[Gpu] = field(default_factory=list)
    unknown: dict[str, str] = field(default_factory=dict)  # field -> what nvidia-smi said instead of a value


def os_release(path: str = "/etc/os-release") -> dict[str, str]:
    """The os-release file as a dict (ID, VERSION_ID, PRETTY_NAME, ...); empty when absent."""
    try:
        text = Path(path).read_text()
    except OSError:
        return {}
    out = {}
    for line in text.splitlines():
        m = re.match(r"^([A-Z0-9_]+)=(.*)$", line.strip())
        if m:
            value = m.group(2)
            if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
                value = value[1:-1]
            out[m.group(1)] = value
    return out


def kernel_release() -> str:
    return platform.release()


def cgroup_version(root: str = "/sys/fs/cgroup") -> int:
    """2 for the unified hierarchy (cgroup.controllers at the root), else 1."""
    return 2 if os.path.exists(os.path.join(root, "cgroup.controllers")) else 1


def pci_nvidia_devices(root: str = "/sys/bus/pci/devices") -> list[dict]:
    """NVIDIA display controllers (class 0x03xxxx) on the PCI bus, read from sysfs."""
    found = []
    try:
        entries = sorted(os.listdir(root))
    except OSError:
        return found
    for addr in entries:

        def read(name: str) -> str:
            try:
                return Path(root, addr, name).read_text().strip()
            except OSError:
                return ""

        if read("vendor") == NVIDIA_PCI_VENDOR and read("class").startswith("0x03"):
            found.append({"address": addr, "device": read("device"), "class": read("class")})
    return found


def find_nvidia_smi() -> str | None:
    found = shutil.which("nvidia-smi")
    if found:
        return found
    for d in NVIDIA_SMI_DIRS:
        p = os.path.join(d, "nvidia-smi")
        if os.access(p, os.X_OK):
            return p
    return None


def driver_nvidia_smi() -> str | None:
    """The driver's own nvidia-smi program (an ELF file, links followed), for binding into a container:
    some hosts put a wrapper script first on PATH that execs the driver's binary at a path a container
    does not have."""
    dirs = os.environ.get("PATH", "").split(os.pathsep) + list(NVIDIA_SMI_DIRS)
    for d in dict.fromkeys(filter(None, dirs)):
        p = os.path.realpath(os.path.join(d, "nvidia-smi"))
        try:
            with open(p, "rb") as f:
                if f.read(4) == b"\x7fELF" and os.access(p, os.X_OK):
                    return p
        except OSError:
            continue
    return None


# --- nvidia-smi's outputs as data ----------------------------------------------------------------
# Every field nvidia-smi prints (XML, CSV, table) is typed here, by ``read``: a value nvidia-smi did not
# have ("N/A", "[Not Supported]", "Not Found", "Unknown Error", "", ...) is unknown, and what it said is
# kept as the reason. Newer drivers rename some fields (R610: "KMD Version" for "Driver Version", "CUDA
# UMD Version" for "CUDA Version"); each reader takes both spellings, the newer first.

READERS = {
    "version": re.compile(r"(\d+(?:\.\d+)+)(?![\d.])"),  # 580.65.06, 13.0; "610.62 [Deprecated; ...]"
    "mib": re.compile(r"(\d+)\s*MiB"),
    "int": re.compile(r"(\d+)"),
    "text": re.compile(r"(.+)", re.S),
}


@dataclass(frozen=True)
class Reading:
    value: str | int | None  # None: nvidia-smi had no such value
    said: str  # what nvidia-smi printed (the reason, when the value is unknown)


def read(kind: str, said: str | None) -> Reading:
    """A field of nvidia-smi's output as ``kind`` (version, mib, int, text). A version or a number must
    start the text; anything else is unknown, with nvidia-smi's words kept."""
    text = (said or "").strip()
    m = READERS[kind].match(text)
    if m is None or (kind == "text" and _no_value(text)):
        return Reading(None, text)
    value = m.group(1).strip()
    return Reading(int(value) if kind in ("mib", "int") else value, text)


def _no_value(text: str) -> bool:
    """nvidia-smi's words for a field it could not fill: N/A, [Not Supported], Not Found, Unknown Error..."""
    low = text.strip("[] ").lower()
    return low in ("", "n/a", "not supported", "not found", "unknown error", "unknown", "not available") or (
        low.startswith(("requested functionality has been deprecated", "insufficient permissions"))
    )


def _first(element, kind: str, *paths: str) -> Reading | None:
    """The first of ``paths`` (newer spelling first) that holds a value, else the first one present's
    reading; None when the document has none of them (an older driver's)."""
    readings = [read(kind, element.findtext(p)) for p in paths if element.find(p) is not None]
    return next((r for r in readings if r.value is not None), readings[0] if readings else None)


def _said(element, path: str) -> str:
    """A text field's value, '' when nvidia-smi had none (N/A on a GPU without the feature): not an unknown."""
    return (_first(element, "text", path) or Reading(None, "")).value or ""


def parse_nvidia_smi_xml(text: str) -> DriverInfo:
    """Parse ``nvidia-smi -q -x``: driver version, CUDA ceiling, and each GPU. A field the driver could
    not fill is '' (or None) and its words are in ``DriverInfo.unknown``."""
    try:
        root = ET.fromstring(text)
    except ET.ParseError as e:
        raise HostError(
            _("nvidia-smi -q -x printed no valid XML ({error})").format(error=e), evidence=text[:2000]
        ) from e
    unknown: dict[str, str] = {}

    def value(where: str, reading: Reading | None):
        if reading is None:
            return None
        if reading.value is None:
            unknown[where] = reading.said
        return reading.value

    gpus = []
    for i, g in enumerate(root.findall("gpu")):
        name = value(f"gpu{i}.product_name", _first(g, "text", "product_name")) or ""
        product_brand = value(f"gpu{i}.product_brand", _first(g, "text", "product_brand")) or ""
        arch = value(f"gpu{i}.product_architecture", _first(g, "text", "product_architecture")) or ""
        gpus.append(
            Gpu(
                index=i,
                name=name,
                uuid=value(f"gpu{i}.uuid", _first(g, "text", "uuid")) or "",
                memory_total_mib=value(f"gpu{i}.memory_total", _first(g, "mib", "fb_memory_usage/total")),
                bus_id=value(f"gpu{i}.bus_id", _first(g, "text", "pci/pci_bus_id")) or (g.get("id") or "").strip(),
                minor_number=value(f"gpu{i}.minor_number", _first(g, "int", "minor_number")),
                brand=cuda.toolkit_brand(product_brand),
                product_brand=product_brand,
                architecture=cuda.architecture(name, arch),
                mig_mode=_said(g, "mig_mode/current_mig"),
                mig_pending=_said(g, "mig_mode/pending_mig"),
            )
        )
    return DriverInfo(
        driver_version=value("driver_version", _first(root, "version", "kmd_version", "driver_version")) or "",
        cuda_version=value("cuda_version", _first(root, "version", "cuda_umd_version", "cuda_version")) or "",
        gpus=gpus,
        unknown=unknown,
    )


LIST_LINE = re.compile(r"^GPU (\d+): (.+?) \(UUID: (GPU-[0-9a-fA-F-]+|MIG-[0-9a-fA-F-]+)\)")


def parse_nvidia_smi_list(text: str) -> list[Gpu]:
    """Parse ``nvidia-smi -L`` (what a container sees): index, name and UUID of each GPU."""
    return [Gpu(int(m.group(1)), m.group(2), m.group(3)) for m in map(LIST_LINE.match, text.splitlines()) if m]


def nvidia_smi_output(*args: str, timeout_s: float = 30) -> str | None:
    """What ``nvidia-smi ARGS`` printed, or None when there is no nvidia-smi, or it failed or hung: the
    readers of its other outputs (``-L``, ``topo -m``) treat that as not observed."""
    exe = find_nvidia_smi()
    if exe is None:
        return None
    try:
        proc = subprocess.run([exe, *args], capture_output=True, text=True, timeout=timeout_s)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return proc.stdout if proc.returncode == 0 else None


DRIVER_ANSWER_ENV = "GPU_RUNBOOK_DRIVER_ANSWER"  # a file holding this run's one answer of nvidia-smi -q -x
LAST_ANSWER: dict = {}  # the answer query_driver judged last: the health checks read the same XML


# errors of making the process, not of the program: fork or exec short of memory, or faulting mid-exec
TRANSIENT_EXEC_ERRORS = (errno.EAGAIN, errno.ENOMEM, errno.EFAULT, errno.EINTR)


def ask_driver(timeout_s: float = 30) -> dict:
    """Run ``nvidia-smi -q -x`` once and keep what it answered, as JSON-ready data: ``query_driver``
    judges it. A headless run asks once, while its kernel starts, and every step reads that answer."""
    exe = find_nvidia_smi()
    if exe is None:
        return {"exe": None}
    try:
        proc = run_once_more_if_not_made([exe, "-q", "-x"], timeout_s)
    except subprocess.TimeoutExpired:
        return {"exe": exe, "timeout_s": timeout_s}
    except OSError as e:
        return {"exe": exe, "os_error": str(e)}
    return {"exe": exe, "returncode": proc.returncode, "stdout": proc.stdout, "stderr": proc.stderr}


def run_once_more_if_not_made(args: list[str], timeout_s: float) -> subprocess.CompletedProcess:
    """subprocess.run, tried a second time when the process could not be made the first (a transient error
    of fork or exec), so that a moment's shortage is not read as a driver that cannot be executed."""
    try:
        return subprocess.run(args, capture_output=True, text=True, timeout=timeout_s)
    except OSError as e:
        if e.errno not in TRANSIENT_EXEC_ERRORS:
            raise
    return subprocess.run(args, capture_output=True, text=True, timeout=timeout_s)


def answer_of_this_run() -> dict | None:
    """The run's answer, when the runner asked the driver for the whole run (``DRIVER_ANSWER_ENV``)."""
    path = os.environ.get(DRIVER_ANSWER_ENV)
    if not path:
        return None
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError):  # not written: ask again rather than guess
        return None


def query_driver(timeout_s: float = 30) -> DriverInfo | None:
    """The driver as nvidia-smi reports it; None when there is no nvidia-smi at all."""
    answer = answer_of_this_run() or ask_driver(timeout_s)
    LAST_ANSWER.clear()
    LAST_ANSWER.update(answer)
    exe = answer["exe"]
    if exe is None:
        return None
    if "timeout_s" in answer:
        raise HostError(
            _("{program} -q -x did not answer within {seconds:.0f} s").format(program=exe, seconds=answer["timeout_s"]),
            cause=_("The driver is hung (a GPU in a bad state, or stuck in a reset)."),
            remediation=_("Look at `dmesg | grep -i -e nvrm -e xid`; reset the GPU or reboot."),
            notebook=diagnosis.NB_PREFLIGHT,
        )
    if "os_error" in answer:
        raise HostError(
            _("{program} -q -x could not run: {error}").format(program=exe, error=answer["os_error"]),
            cause=_("nvidia-smi is there but cannot be executed."),
            remediation=translate(diagnosis.DRIVER_FIX),
            notebook=diagnosis.NB_PREFLIGHT,
        )
    if answer["returncode"] != 0:
        text = (answer["stdout"] + answer["stderr"]).strip()
        d = diagnosis.diagnose(text)
        raise HostError(
            _("{program} -q -x exited {code}").format(program=exe, code=answer["returncode"]),
            cause=d.cause if d else _("nvidia-smi is installed but fails; its output (evidence) says why."),
            remediation=d.remediation if d else translate(diagnosis.DRIVER_FIX),
            notebook=d.notebook if d else diagnosis.NB_PREFLIGHT,
            evidence=text,
        )
    return parse_nvidia_smi_xml(answer["stdout"])


MAKERS = {"nvidia", "geforce", "tesla", "quadro"}


def model_tag(name: str) -> str:
    """A GPU's model, short, as a name part: 'NVIDIA H100 80GB HBM3' -> 'h100', 'NVIDIA GeForce RTX 4090' ->
    'rtx4090', 'NVIDIA A100-SXM4-80GB' -> 'a100': the words up to the first that holds a digit."""
    words = [w for w in re.split(r"[\s-]+", name.lower()) if w and w not in MAKERS]
    kept = []
    for w in words:
        kept.append(re.sub(r"[^a-z0-9]", "", w))
        if re.search(r"\d", w):
            break
    return "".join(kept) or "gpu"


def gpu_tag(gpus: list[Gpu]) -> str:
    """The GPUs a host's driver lists, by model and count, as a name part ('h100x1', 'a100x2-l4x1'): records
    are named by what was observed on their host. 'nogpu' when the driver lists none."""
    models = [model_tag(g.name) for g in gpus]
    return "-".join(f"{m}x{models.count(m)}" for m in sorted(set(models))) or "nogpu"


@dataclass
class UserAccess:
    user: str
    is_root: bool
    in_docker_group: bool  # listed in the group database
    group_active: bool  # the docker group is among this process's groups (takes a new login)


def docker_group_access(group: str = "docker") -> UserAccess:
    uid = os.geteuid()
    try:
        user = pwd.getpwuid(uid).pw_name
    except KeyError:
        user = str(uid)
    try:
        g = grp.getgrnam(group)
    except KeyError:
        return UserAccess(user, uid == 0, False, False)
    primary = _primary_gid(uid)
    member = user in g.gr_mem or primary == g.gr_gid
    return UserAccess(user, uid == 0, member, g.gr_gid in os.getgroups() or os.getegid() == g.gr_gid)


def _primary_gid(uid: int) -> int | None:
    try:
        return pwd.getpwuid(uid).pw_gid
    except KeyError:
        return None


def free_disk_gib(path: str) -> float:
    """Free space for unprivileged writers at ``path``, or at its nearest existing parent."""
    p = Path(path)
    while not p.exists() and p != p.parent:
        p = p.parent
    return shutil.disk_usage(p).free / 2**30


def selinux_enforcing(path: str = "/sys/fs/selinux/enforce") -> bool:
    """Whether SELinux enforces on this host (no selinuxfs: it does not)."""
    try:
        return open(path).read().strip() == "1"
    except OSError:
        return False
