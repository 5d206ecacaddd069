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
    start = out.stdout.find("{")  # some versions print a line before the document
    try:  # dcgmi exits non-zero when a test fails: the document still says which
        doc = json.loads(out.stdout[start:]) if start >= 0 else None
        if not isinstance(doc, dict):
            raise ValueError
    except ValueError:
        raise fail(
            _("dcgmi diag -r 1 -j exited {code} without JSON").format(code=out.returncode),
            cause=_("DCGM's host engine may not run (`systemctl status nvidia-dcgm`)."),
            remediation=_("Start it: `sudo systemctl enable --now nvidia-dcgm`, then run again."),
            notebook=NB_PREFLIGHT,
            evidence=(out.stdout + out.stderr)[-4000:],
        ) from None
    results = list(_dcgm_results(doc))
    lines = [_dcgm_line(r) for r in results]

    def having(status: str) -> list[str]:
        return [_dcgm_line(r) for r in results if r["status"] == status]

    failed, warned, passed = having("fail"), having("warn"), having("pass")
    data = {"tests": results, "returncode": out.returncode}
    evidence = "\n".join(lines)
    if failed:
        raise fail(
            "; ".join(failed),
            cause=_("DCGM's diagnostic found a fault."),
            remediation=_("Read the test's message in the evidence (dcgmi diag -r 1); reset or service the GPU."),
            notebook=NB_PREFLIGHT,
            evidence=evidence,
            data=data,
        )
    if warned:
        raise warn("; ".join(warned), notebook=NB_PREFLIGHT, evidence=evidence, data=data)
    if not passed:
        error = _dcgm_runtime_error(doc)
        if results:
            raise skip(_("dcgmi diag -r 1 ran no test to its end: {tests}").format(tests="; ".join(lines)))
        raise skip(
            _("dcgmi diag -r 1 -j answered (exit code {code}), but with no test result{reason}").format(
                code=out.returncode, reason=": " + error if error else ""
            )
        )
    detail = _("dcgmi diag -r 1: {passed} results passed, none failed").format(passed=len(passed))
    if len(passed) < len(results):
        detail += "; " + _("not run: {tests}").format(tests=", ".join(having("skip")))
    return Passed(detail, evidence=evidence, data=data)


DCGM_STATUS = {"pass": "pass", "fail": "fail", "warn": "warn", "skip": "skip", "skipped": "skip", "not run": "skip"}


def _dcgm_results(doc):
    """One result per test and GPU anywhere in dcgmi's JSON: DCGM 2.x/3.x key the document "DCGM GPU Diagnostic"
    and name the GPUs in ``gpu_ids``; 4.x key it "DCGM Diagnostic", name each entity (``entity_group``,
    ``entity_id``) and add a ``test_summary``, the result of a test that has no per-GPU one. A status other
    than Pass, Fail or Warn (Skip, Not Run, one a later DCGM invents) is a skip, never a pass."""
    if isinstance(doc, dict):
        name = doc.get("name") or doc.get("test_name")
        res = doc.get("results")
        if name and isinstance(res, list):
            entries = [r for r in res if isinstance(r, dict) and "status" in r]
            summary = doc.get("test_summary")
            if not entries and isinstance(summary, dict) and "status" in summary:
                entries = [summary]
            for r in entries:
                raw = str(r["status"])
                yield {
                    "test": str(name),
                    "gpu": _dcgm_entity(r),
                    "status": DCGM_STATUS.get(raw.strip().lower(), "skip"),
                    "reported": raw,
                    "messages": _dcgm_messages(r.get("warnings")) or _dcgm_messages(r.get("info")),
                }
            return
        for v in doc.values():
            yield from _dcgm_results(v)
    elif isinstance(doc, list):
        for v in doc:
            yield from _dcgm_results(v)


def _dcgm_entity(result: dict) -> str:
    """Which GPU (or other entity) a result is about; "" for a result about all of them."""
    if "entity_id" in result:
        group = str(result.get("entity_group") or "GPU")
        return f"{group} {result['entity_id']}"
    ids = result.get("gpu_ids", result.get("gpu_id"))
    return "" if ids is None or ids == "" else f"GPU {ids}"


def _dcgm_messages(items) -> list[str]:
    """DCGM's own words: a warning is a string (2.x/3.x) or an object with ``warning`` (4.x); info is strings."""
    if isinstance(items, str):
        items = [items]
    if not isinstance(items, list):
        return []
    return [str(i.get("warning", "")) if isinstance(i, dict) else str(i) for i in items if i]


def _dcgm_line(r: dict) -> str:
    where = f"{r['test']} ({r['gpu']})" if r["gpu"] else r["test"]
    text = f"{where}: {r['reported']}"
    return text + (": " + " ".join(r["messages"]) if r["messages"] else "")


def _dcgm_runtime_error(doc) -> str:
    """DCGM's reason for running no test (``runtime_error``), wherever the version puts it."""
    if isinstance(doc, dict):
        if isinstance(doc.get("runtime_error"), str):
            return doc["runtime_error"]
        for v in doc.values():
            if found := _dcgm_runtime_error(v):
                return found
    return ""
