"""NVIDIA's end-to-end suite beside the runbook's verdict on the same host: one row per spec.

``python3 tests/gpu/kit/e2e_compare.py JUNIT RECORD [--out FILE.md] [--json FILE]``

- JUNIT is the suite's ``-ginkgo.junit-report``; RECORD the runbook's record folder (its summary.json)
  of the same host, made before the suite ran.
- Each spec is named to a capability (``SPECS`` below: the command the spec runs decides it), and each
  capability to what the runbook said about it (``runbook_says``): works, not working (with the cause),
  or not checked by the runbook.
- A failing spec's cause is read from its failure text: the kit's own causes first (an image or network
  this host cannot have, the suite's installer switched off), then the runbook's own diagnosis table
  (runbook/diagnosis.py), so "the same cause" means the same diagnosis key on both sides.
- A spec skipped because a BeforeAll failed takes the cause of the failure before it in the same
  container.
- Agreement: passed + works; failed + not working for the same cause; a spec that cannot run here
  (its cause is the kit's) or a capability the runbook does not check is ``n/a``; anything else is
  ``DISAGREE``, and the exit code is 1.

Exit codes: 0 no disagreement, 1 at least one, 2 unreadable input.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import xml.etree.ElementTree as ET
from dataclasses import asdict, dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))
from runbook import diagnosis  # noqa: E402

# capability -> what it is (the suite's words), the runbook's check ids that observe it (first found wins)
CAPABILITIES = {
    "runtime": ("the nvidia runtime with NVIDIA_VISIBLE_DEVICES (mode auto: jit-cdi)", ("gpu.mode.runtime",)),
    "gpus": ("--gpus through the engine's default runtime", ("gpu.mode.gpus",)),
    "legacy": ("the legacy hook: --gpus with runc (nvidia-container-runtime-hook -> nvidia-container-cli)", ()),
    "none": ("NVIDIA_VISIBLE_DEVICES=none gives no GPU", ()),
    "compute": ("a CUDA program runs in the container (vectorAdd, deviceQuery)", ("pytorch.matmul",)),
    "ldcache": ("the driver's libcuda in the container's ld cache, with its links", ("pytorch.cuda_available",)),
    "compat": ("CUDA forward / minor-version compatibility (cuda-compat in the image)", ()),
    "isolation": ("the container stays isolated (mounts, firmware links, LD_PRELOAD, ld.so.conf order)", ()),
    "offline": ("a container that installs packages from the network (apt-get, apk)", ()),
    "cdi-refresh": ("the nvidia-cdi-refresh systemd units, in a nested systemd container", ()),
    "containerd": ("nvidia-ctk runtime configure for containerd, in nested kind nodes", ()),
    "cli": ("nvidia-container-cli (libnvidia-container) in a nested container", ()),
}

# spec name (regular expression, first match wins) -> capability; the command each spec runs decides it
SPECS = (
    (r"^nvidia-cdi-refresh ", "cdi-refresh"),
    (r"^containerd ", "containerd"),
    (r"^nvidia-container-cli ", "cli"),
    (r"ocl-icd-libopencl1|LD_PRELOAD|alpine container", "offline"),  # apt-get / apk inside, at build or run
    (r"Forward compatibility|Minor Version compatibility", "compat"),
    (r"shared mount propagation|firmware folder|ld\.so\.conf ordering|ubi9 container", "isolation"),
    (r"NVIDIA_VISIBLE_DEVICES=none", "none"),
    (r"nvidia-container-runtime-hook", "legacy_or_gpus"),  # runc + --gpus is the hook; plain --gpus is the default
    (r"--gpus flag using the nvidia-container-runtime$", "gpus"),
    (r"CDI spec generation with the --gpus flag", "runtime"),
    (r"cuda-(vectorAdd|deviceQuery) sample", "compute"),
    (r"container is run using CDI", "ldcache"),
    (r"nvidia-smi -L", "runtime"),
    (r"Disabling device node creation", "runtime"),
)

# the specs whose command is `docker run --gpus all IMAGE` with no --runtime: the default runtime's path
DEFAULT_RUNTIME_GPUS = re.compile(
    r"(running nvidia-smi -L|cuda-\w+ sample) should support the --gpus flag using the nvidia-container-runtime-hook"
)

# the specs that run nvidia-smi in a plain image (`ubuntu nvidia-smi -L`): they also need nvidia-smi where a
# plain image's PATH finds it, which the runbook's gpu.plain_path observes
PLAIN_IMAGE = re.compile(r"running nvidia-smi -L should support")

# where a failure that is not the spec's own command happened (Ginkgo's "In [BeforeAll] at: file:line")
SETUP_NODE = r"In \[(BeforeAll|BeforeEach|AfterAll|AfterEach|JustBeforeEach)\] at: \S*/([\w.-]+:\d+)"

# the kit's own causes: what this host cannot have, not what is broken on it
KIT_CAUSES = (
    (
        "image_unavailable",
        (
            "Unable to find image",
            "manifest unknown",
            "pull access denied",
            "registry-1.docker.io",
            "not found: manifest",
            "repository does not exist",
        ),
    ),
    (
        "no_network",
        (
            "Temporary failure resolving",
            "Could not resolve",
            "Failed to fetch",
            "Unable to locate package",
            "temporary error (try again later)",
            "curl: (6)",
        ),
    ),
    ("no_installer", ("nil pointer evaluating *e2e.ToolkitInstaller", "image is required")),
    ("libnvidia_container_absent", ("libnvidia-container*.so", "failed to list toolkit libraries")),
    ("no_firmware", ("/lib/firmware/nvidia/*.*",)),
    ("interrupted", ("interrupted by the suite's time limit",)),
    ("root_not_shared", ("but it is not a shared mount",)),
)
KIT_CAUSE_TEXT = {
    "image_unavailable": "the image is not in the kit's registry and no other registry can be reached",
    "no_network": "the container needs the network (package installs); the host has none",
    "no_installer": (
        "E2E_INSTALL_CTK=false: the suite installs into its nested containers only from its packaging image"
    ),
    "libnvidia_container_absent": "libnvidia-container is not part of the toolkit's source: no nvidia-container-cli",
    "no_firmware": "the host has no /lib/firmware/nvidia/<version> (GSP firmware folder)",
    "interrupted": "the time given to the suite ran out (E2E_TIMEOUT)",
    "root_not_shared": (
        "the host's / is a private mount (systemd, absent here as PID 1, makes it shared): the spec's bind mount "
        "with shared propagation needs `mount --make-shared /` (e2e.sh does it with E2E_SHARED_ROOT=1)"
    ),
    "driver_libs_elsewhere": (
        "the spec lists /usr/lib/x86_64-linux-gnu in the container, where Debian-family hosts keep the driver's "
        "libraries; this host keeps them elsewhere, and the toolkit mounts them at that same path"
    ),
}
# the spec that looks for the driver's libraries at Debian's path only
DEBIAN_LIB_DIR = "/usr/lib/x86_64-linux-gnu"
LIB_DIR_SPEC = re.compile(r"should include \.so and SONAME symlinks")
# containers the kit leaves out of the run (-ginkgo.skip, tests/gpu/kit/e2e.sh): each needs what this host cannot
# have, and a setup node that fails in the suite's Ordered "docker" container skips every container after it
LEFT_OUT = (
    (r"Testing CUDA Forward compatibility", "image_unavailable"),  # nvcr.io/nvidia/cuda:*-base-ubi8, cuda-compat
    (r"Testing CUDA Minor Version compatibility", "image_unavailable"),
    (r"firmware folder resolves outside", "no_firmware"),
    (r"Running a container with LD_PRELOAD", "no_network"),  # its image is built with apt-get install gcc
    (r"running a ubi9 container", "image_unavailable"),  # redhat/ubi9
    (r"running an alpine container", "image_unavailable"),  # FROM alpine, apk add
)

# a spec that fails for one of these could not run here: n/a, not a disagreement
NOT_HERE = {
    "image_unavailable",
    "no_network",
    "no_installer",
    "no_firmware",
    "interrupted",
    "root_not_shared",
    "driver_libs_elsewhere",
}


@dataclass
class Row:
    spec: str
    result: str  # passed failed skipped
    capability: str
    cause: str  # a cause key (kit or runbook diagnosis), or ""
    detail: str  # one line from the failure or skip message
    runbook: str  # works / not working / not checked / not run
    runbook_detail: str
    agree: str  # yes / n/a / DISAGREE


def cause_of(text: str) -> str:
    for key, patterns in KIT_CAUSES:
        if any(p in text for p in patterns):
            return key
    d = diagnosis.diagnose(text)
    return d.key if d else "unknown"


def one_line(text: str) -> str:
    """The line of a failure text that says most: STDERR's first line, else the first non-empty one."""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    for i, ln in enumerate(lines):
        if ln.startswith("STDERR:") and ln != "STDERR:":
            return ln[len("STDERR:") :].strip()[:200]
        if ln == "STDERR:" and i + 1 < len(lines):
            return lines[i + 1][:200]
    for ln in lines:
        if not ln.startswith(("[FAILED]", "Unexpected error:", "<")):
            return ln[:200]
    return (lines[0] if lines else "")[:200]


def read_junit(path: Path) -> list[tuple[str, str, str]]:
    """(spec name without '[It] ' and labels, status, failure or skip text) for each spec, in order."""
    out = []
    for tc in ET.parse(path).iter("testcase"):
        name = tc.get("name", "")
        if not name.startswith("[It] "):
            continue
        name = re.sub(r"\s+\[[^\]]*\]$", "", name[len("[It] ") :])
        status = tc.get("status", "")
        failure, skipped = tc.find("failure"), tc.find("skipped")
        if failure is not None:
            text = (failure.text or "") + "\n" + (failure.get("message") or "")
        elif skipped is not None:
            text = skipped.get("message") or ""
        else:
            text = ""
        if status in ("interrupted", "aborted"):  # the suite's -ginkgo.timeout ran out before or during it
            status, text = "failed", "interrupted by the suite's time limit (-ginkgo.timeout)\n" + text
        elif status in ("failed", "panicked", "timedout"):
            status = "failed"
        elif status == "pending":
            status = "skipped"
        out.append((name, status, text))
    return out


def capability_of(spec: str) -> str:
    for pattern, cap in SPECS:
        if re.search(pattern, spec):
            if cap == "legacy_or_gpus":
                return "gpus" if DEFAULT_RUNTIME_GPUS.search(spec) else "legacy"
            return cap
    return "unmapped"


def runbook_says(cap: str, summary: dict) -> tuple[str, str]:
    """What the runbook's record says about a capability: (works | not working | not checked | not run, why)."""
    checks = {c["id"]: c for c in summary.get("checks", [])}
    mode = (summary.get("parameters") or {}).get("gpu_mode", "gpus")
    if cap in ("legacy", "cli"):  # both need nvidia-container-cli
        c = checks.get("toolkit.installed")
        if c is None or c["status"] != "pass":
            return "not run", "toolkit.installed " + (c["status"] if c else "absent")
        cli = (c.get("data") or {}).get("nvidia_container_cli", "?")
        if cli is None:
            return "not working", "container_cli_missing: toolkit.installed says no nvidia-container-cli"
        return "works", f"toolkit.installed: nvidia-container-cli {cli}"
    ids = list(CAPABILITIES.get(cap, ("", ()))[1])
    if cap in ("runtime", "gpus") and cap == mode:
        ids = ["gpu.nvidia_smi"]  # the chosen mode is checked by gpu.nvidia_smi, the others by gpu.mode.*
    if not ids:
        return "not checked", "the runbook has no check of this"
    for cid in ids:
        c = checks.get(cid)
        if c is None:
            continue
        status = c["status"]
        if status == "pass":
            return "works", f"{cid} pass"
        if status in ("fail", "warn"):
            d = diagnosis.diagnose(" ".join(str(c.get(k) or "") for k in ("detail", "evidence")))
            return "not working", f"{d.key if d else 'undiagnosed'}: {cid} {status}"
        return "not run", f"{cid} {status}"
    return "not run", f"none of {', '.join(ids)} in the record"


def plain_image_says(summary: dict, says: str, why: str) -> tuple[str, str]:
    """A plain image's nvidia-smi: not working where gpu.plain_path warned (the nvidia_smi_absent case),
    else what the mode's own check said."""
    c = next((c for c in summary.get("checks", []) if c["id"] == "gpu.plain_path"), None)
    if c is None:
        return says, why
    if c["status"] in ("warn", "fail"):
        return "not working", f"nvidia_smi_absent: gpu.plain_path {c['status']}"
    if c["status"] != "pass" and says == "works":
        return "not run", f"gpu.plain_path {c['status']}"
    return says, why


def compare(junit: Path, summary: dict, driver_lib_dir: str = "") -> list[Row]:
    """One row per spec; ``driver_lib_dir`` is where this host's driver libraries are (libcuda.so.1's folder
    in the ld cache), for the spec that looks for them at Debian's path only."""
    rows: list[Row] = []
    last_failure: dict[str, tuple[str, str]] = {}  # top-level container -> (cause, detail) of its last failure
    for spec, status, text in read_junit(junit):
        top = spec.split(" ", 1)[0]
        cap = capability_of(spec)
        cause, detail = "", ""
        if status == "failed":
            cause, detail = cause_of(text), one_line(text)
            where = re.search(SETUP_NODE, text)
            if where:  # a setup node of the container failed, not the spec's own command
                detail = f"in {where.group(1)} ({where.group(2)}): {detail}"
            elif LIB_DIR_SPEC.search(spec) and driver_lib_dir and driver_lib_dir.rstrip("/") != DEBIAN_LIB_DIR:
                cause, detail = "driver_libs_elsewhere", f"here: {driver_lib_dir}; {detail}"
            last_failure[top] = (cause, detail)
        elif status == "skipped":
            left_out = next((c for pattern, c in LEFT_OUT if re.search(pattern, spec)), "")
            if left_out and "BeforeAll node failed" not in text:
                cause, detail = left_out, "left out of the run by the kit (-ginkgo.skip)"
            elif "BeforeAll node failed" in text and top in last_failure:
                cause, detail = last_failure[top]
                detail = "after a BeforeAll failed: " + detail
            else:
                detail = one_line(text)
        says, why = runbook_says(cap, summary)
        if PLAIN_IMAGE.search(spec):
            says, why = plain_image_says(summary, says, why)
        rows.append(Row(spec, status, cap, cause, detail, says, why, agreement(status, cause, says, why)))
    return rows


def agreement(status: str, cause: str, says: str, why: str) -> str:
    if cause in NOT_HERE or says in ("not checked", "not run"):
        return "n/a"
    if status == "skipped":
        return "n/a"
    if status == "passed":
        return "yes" if says == "works" else "DISAGREE"
    # failed: the runbook must say not working, for the same cause
    if says != "not working":
        return "DISAGREE"
    runbook_cause = why.split(":", 1)[0]
    same = cause == runbook_cause or (cause, runbook_cause) == ("libnvidia_container_absent", "container_cli_missing")
    return "yes" if same else "DISAGREE"


def markdown(rows: list[Row], junit: Path, record: Path) -> str:
    counts = {k: sum(r.result == k for r in rows) for k in ("passed", "failed", "skipped")}
    agree = {k: sum(r.agree == k for r in rows) for k in ("yes", "n/a", "DISAGREE")}
    out = [
        "# NVIDIA's end-to-end suite beside the runbook's verdict",
        "",
        f"- suite: `{junit.name}`: {len(rows)} specs, {counts['passed']} passed, {counts['failed']} failed, "
        f"{counts['skipped']} skipped",
        f"- runbook: `{record}` (summary.json)",
        f"- agreement: {agree['yes']} agree, {agree['n/a']} n/a (cannot run here, or not checked by the runbook), "
        f"{agree['DISAGREE']} disagree",
        "",
        "| spec | suite | cause | runbook on the capability | agree |",
        "| --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        cause = r.cause and f"`{r.cause}`: {KIT_CAUSE_TEXT.get(r.cause, '')}".rstrip(": ")
        detail = r.detail.replace("|", "\\|")
        cell = "; ".join(x for x in (cause, detail) if x)
        out.append(
            f"| {r.spec} | {r.result} | {cell} | {r.runbook} ({r.runbook_detail}) [{r.capability}] | {r.agree} |"
        )
    out += ["", "Capabilities:", ""]
    out += [f"- `{k}`: {v[0]}" for k, v in CAPABILITIES.items()]
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--skip-regex", action="store_true", help="print the -ginkgo.skip of LEFT_OUT and exit")
    ap.add_argument("junit", type=Path, nargs="?")
    ap.add_argument("record", type=Path, nargs="?", help="the runbook's record folder (summary.json)")
    ap.add_argument("--out", type=Path, help="write the markdown table here (default: stdout)")
    ap.add_argument("--json", type=Path, help="write the rows as JSON here")
    ap.add_argument("--driver-lib-dir", default="", help="the folder of this host's libcuda.so.1 (ldconfig -p)")
    args = ap.parse_args(argv)
    if args.skip_regex:
        print("|".join(pattern for pattern, _ in LEFT_OUT))
        return 0
    if args.junit is None or args.record is None:
        ap.error("give the suite's JUnit file and the runbook's record folder")
    try:
        summary = json.loads((args.record / "summary.json").read_text())
        rows = compare(args.junit, summary, args.driver_lib_dir)
    except (OSError, ValueError, ET.ParseError) as e:
        print(f"e2e_compare: cannot read the input: {e}; give the suite's JUnit file and a record", file=sys.stderr)
        return 2
    text = markdown(rows, args.junit, args.record)
    if args.out:
        args.out.write_text(text)
    else:
        sys.stdout.write(text)
    if args.json:
        args.json.write_text(json.dumps([asdict(r) for r in rows], indent=1) + "\n")
    return 1 if any(r.agree == "DISAGREE" for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
