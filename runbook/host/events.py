"""XID events since boot from the kernel log, each explained from a sourced catalogue (``xid_catalogue.json``),
and DCGM's quick diagnostic where DCGM is installed."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from functools import cache
from importlib import resources

from ..diagnosis import NB_PREFLIGHT
from ..i18n import _
from ..results import Passed, fail, skip, warn

XID_LINE = re.compile(r"NVRM: Xid \(([^)]*)\): (\d+),?\s*(.*)")


OFF_THE_BUS = re.compile(r"fallen off the bus", re.I)


DCGM_INSTALL = (
    "sudo apt-get install -y datacenter-gpu-manager-4-cuda13 (or -cuda12; dnf: the same name) from NVIDIA's CUDA "
    "repository, then sudo systemctl enable --now nvidia-dcgm"
)


@cache
def xid_catalogue() -> dict:
    return json.loads(resources.files("runbook").joinpath("xid_catalogue.json").read_text())


def kernel_log(timeout_s: float = 10) -> str | None:
    """This boot's kernel messages: ``journalctl -k -b``, else /dev/kmsg; None when neither can be read
    (a journal that shows no line at all is not read: a user without access sees an empty one)."""
    exe = shutil.which("journalctl")
    if exe:
        try:
            out = subprocess.run(
                [exe, "-k", "-b", "--no-pager", "-q", "-o", "short-monotonic"],
                capture_output=True,
                text=True,
                timeout=timeout_s,
            )
            if out.returncode == 0 and out.stdout.strip():
                return out.stdout
        except (OSError, subprocess.TimeoutExpired):
            pass
    try:
        fd = os.open("/dev/kmsg", os.O_RDONLY | os.O_NONBLOCK)
    except OSError:
        return None
    lines = []
    try:
        while True:
            try:
                record = os.read(fd, 8192)
            except BlockingIOError:
                break
            except OSError:  # a record overwritten while reading (EPIPE): go on with the next
                continue
            if not record:
                break
            lines.append(record.decode(errors="replace").split(";", 1)[-1].rstrip("\n"))
    finally:
        os.close(fd)
    return "\n".join(lines) if lines else None


def xid_events(log: str) -> list[dict]:
    """Each ``NVRM: Xid`` line: its PCI address, number, the rest of the line, and the catalogue's entry."""
    table = xid_catalogue()["xid"]
    events = []
    for line in log.splitlines():
        m = XID_LINE.search(line)
        if m:
            events.append(
                {"pci": m.group(1), "xid": int(m.group(2)), "text": m.group(3).strip(), "entry": table.get(m.group(2))}
            )
    return events


def xid(log: str | None) -> Passed:
    if log is None:
        raise skip(
            _(
                "the kernel log cannot be read (journalctl -k, /dev/kmsg): run as root "
                "or in the systemd-journal group to see XID events"
            )
        )
    events = xid_events(log)
    off_bus = [line.strip() for line in log.splitlines() if OFF_THE_BUS.search(line)]
    lines = []
    worst = "ok"
    for e in events:
        entry = e["entry"]
        if entry:
            lines.append(f"Xid {e['xid']} ({e['pci']}): {entry['name']}: {entry['meaning']} [{entry['action']}]")
            if entry["severity"] == "fail":
                worst = "fail"
            elif worst == "ok":
                worst = "warn"
        else:
            lines.append(
                _("Xid {xid} ({pci}): not in the catalogue; see NVIDIA's Xid catalog").format(
                    xid=e["xid"], pci=e["pci"]
                )
            )
            worst = "warn" if worst == "ok" else worst
    if off_bus:
        worst = "fail"
        lines += off_bus[:3]
    data = {"xids": [e["xid"] for e in events], "fallen_off_the_bus": bool(off_bus)}
    evidence = "\n".join(lines)
    if worst == "ok":
        return Passed(_("no XID event in the kernel log since boot"), data=data)
    detail = _("XID events since boot: {xids}").format(xids=", ".join(str(x) for x in sorted(set(data["xids"]))) or "-")
    if off_bus:
        detail += "; " + _("a GPU has fallen off the bus")
    kw = {
        "cause": _("The driver reported GPU faults since boot; the evidence explains each one (NVIDIA's Xid catalog)."),
        "remediation": _(
            "Act on each XID's action in the evidence: RESTART_APP (the "
            "application's fault), RESET_GPU (`sudo nvidia-smi -r -i N`), "
            "RESTART_BM (reboot; fallen off the bus: check power, slot and "
            "cooling)."
        ),
        "notebook": NB_PREFLIGHT,
        "evidence": evidence,
        "data": data,
    }
    raise (fail if worst == "fail" else warn)(detail, **kw)


def dcgm(timeout_s: float = 300) -> Passed:
    exe = shutil.which("dcgmi")
    if exe is None:
        raise skip(
            _("dcgmi is not installed: DCGM's quick diagnostic (dcgmi diag -r 1) was not run; to run it: {how}").format(
                how=DCGM_INSTALL
            )
        )
    try:
        out = subprocess.run([exe, "diag", "-r", "1", "-j"], capture_output=True, text=True, timeout=timeout_s)
    except OSError as e:
        raise skip(_("{program} cannot be run: {error}").format(program=exe, error=e.strerror or e)) from None
    except subprocess.TimeoutExpired:
        raise fail(
            _("dcgmi diag -r 1 ran past {seconds:.0f} s").format(seconds=timeout_s), notebook=NB_PREFLIGHT
        ) from None
    try:
        doc = json.loads(out.stdout)
    except ValueError:
        raise fail(
            _("dcgmi diag -r 1 -j exited {code} without JSON").format(code=out.returncode),
            cause=_("DCGM's host engine may not run (`systemctl status nvidia-dcgm`)."),
            remediation=_("Start it: `sudo systemctl enable --now nvidia-dcgm`, then run again."),
            notebook=NB_PREFLIGHT,
            evidence=(out.stdout + out.stderr)[-4000:],
        ) from None
    results = list(_dcgm_results(doc))
    failed = [f"{name}: {status}" for name, status in results if status.lower() == "fail"]
    warned = [f"{name}: {status}" for name, status in results if status.lower() == "warn"]
    data = {"tests": [{"name": n, "status": s} for n, s in results]}
    evidence = "\n".join(f"{n}: {s}" for n, s in results)
    if failed:
        raise fail(
            "; ".join(failed),
            cause=_("DCGM's diagnostic found a fault."),
            remediation=_("Read the test's message in the evidence (dcgmi diag -r 1); reset or service the GPU."),
            notebook=NB_PREFLIGHT,
            evidence=evidence,
            data=data,
        )
    if not results:
        raise skip(_("dcgmi diag -r 1 -j answered, but with no test result"))
    if warned:
        raise warn("; ".join(warned), notebook=NB_PREFLIGHT, evidence=evidence, data=data)
    return Passed(
        _("dcgmi diag -r 1: {count} tests, none failed").format(count=len(results)), evidence=evidence, data=data
    )


def _dcgm_results(doc):
    """(test name, status) pairs anywhere in dcgmi's JSON: each test object has a name and its results
    (one per GPU), each with a status."""
    if isinstance(doc, dict):
        name = doc.get("name") or doc.get("test_name")
        res = doc.get("results")
        if name and isinstance(res, list):
            for r in res:
                if isinstance(r, dict) and "status" in r:
                    yield str(name), str(r["status"])
            return
        for v in doc.values():
            yield from _dcgm_results(v)
    elif isinstance(doc, list):
        for v in doc:
            yield from _dcgm_results(v)
