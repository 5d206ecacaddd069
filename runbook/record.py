"""The record of a run, read back from its executed notebooks (the executed notebook is the record).

``collect`` gathers every check a notebook displayed (its output of type ``results.MIME_TYPE``) and
every notebook that stopped on an error; ``write`` turns that into ``summary.json`` and a
self-contained ``report.html``; ``step_states`` says how far a run has come, step by step.
"""

from __future__ import annotations

import json
import socket
from pathlib import Path

from . import render
from .catalogue import ESSENTIAL, REPORT, STEPS
from .files import write_atomic
from .i18n import _
from .ladder import ORDER
from .params import for_record, masked
from .results import MIME_TYPE, CheckResult, Status, verdict
from .version import version_info


def notebook_checks(path: str | Path) -> tuple[list[CheckResult], str]:
    """The checks a notebook displayed, and the error it stopped on ('' when it ran through)."""
    nb = json.loads(Path(path).read_text(encoding="utf-8"))
    checks, error = [], ""
    for cell in nb.get("cells", []):
        if cell.get("cell_type") != "code":
            continue
        for out in cell.get("outputs", []):
            if out.get("output_type") in ("display_data", "execute_result") and MIME_TYPE in out.get("data", {}):
                checks += [CheckResult.from_dict(d) for d in out["data"][MIME_TYPE]["checks"]]
            elif out.get("output_type") == "error" and not error:
                error = f"{out.get('ename')}: {out.get('evalue')}"
    return checks, error


def collect(folder: str | Path, names: list[str] | None = None) -> dict:
    """The summary of the executed step notebooks in ``folder`` (those present, or ``names``), in order."""
    folder = Path(folder)
    if names is None:
        names = [f"{s}.ipynb" for s in STEPS if s != REPORT and (folder / f"{s}.ipynb").exists()]
    checks: list[CheckResult] = []
    by_step: dict[str, list[CheckResult]] = {}
    notebooks = []
    for path in (folder / n for n in names):
        by_step[path.stem] = []
        if not path.exists():
            notebooks.append({"name": path.name, "status": "missing"})
            continue
        found, error = notebook_checks(path)
        checks += found
        by_step[path.stem] += found
        worst = max((c.status for c in found), key=lambda s: ORDER[s], default=None)
        notebooks.append(
            {
                "name": path.name,
                "status": "error" if error else "ran",
                "checks": len(found),
                "worst": worst.value if worst else None,
                **({"error": error} if error else {}),
            }
        )
        if error:
            stopped = CheckResult(
                f"notebook.{path.stem}",
                _("{notebook} ran to the end").format(notebook=path.name),
                Status.FAIL,
                _("the notebook stopped: {error}").format(error=error),
                cause=_("An error the runbook does not diagnose (a bug, or a bad parameter)."),
                remediation=_("Open the executed {notebook} in the record to see the traceback.").format(
                    notebook=path.name
                ),
                notebook=path.name,
            )
            checks.append(stopped)
            by_step[path.stem].append(stopped)
    counts = {s.value: sum(1 for c in checks if c.status is s) for s in Status}
    value, reason = verdict(by_step, ESSENTIAL)
    return {
        "schema_version": SCHEMA_VERSION,
        **version_info(),
        "host": socket.gethostname(),
        **host_facts(checks),
        "verdict": value,
        "verdict_reason": reason,
        "counts": counts,
        "notebooks": notebooks,
        "checks": [c.to_dict() for c in checks],
    }


def relocate(path: Path) -> None:
    """Make an executed notebook fit to share: papermill records the absolute paths it read and wrote (the
    record keeps only the notebook's name) and the parameters as given (credentials are masked)."""
    try:
        nb = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return  # nothing written (the run could not start it): collect reports it missing
    meta = nb.get("metadata", {}).get("papermill")
    if isinstance(meta, dict):
        meta["input_path"] = meta["output_path"] = path.name
        if isinstance(meta.get("parameters"), dict):
            meta["parameters"] = for_record(meta["parameters"])
    for cell in nb.get("cells", []):
        if "injected-parameters" in cell.get("metadata", {}).get("tags", []):
            source = cell.get("source", "")
            cell["source"] = masked(source) if isinstance(source, str) else [masked(line) for line in source]
    write_atomic(str(path), (json.dumps(nb, indent=1, ensure_ascii=False) + "\n").encode())


SCHEMA_VERSION = 2  # summary.json's layout (README, "summary.json"); raised when a key changes meaning


def host_facts(checks: list[CheckResult]) -> dict:
    """The host as the checks observed it, at the top of the summary so that scripts need not dig in
    checks[].data: None where it was not observed."""
    data = {c.id: c.data for c in checks if c.status is not Status.SKIP}
    os_data, driver = data.get("host.os", {}), data.get("host.driver", {})
    return {
        "os": " ".join(x for x in (os_data.get("id"), os_data.get("version_id")) if x) or None,
        "kernel": os_data.get("kernel"),
        "driver_version": driver.get("driver_version"),
        "cuda_ceiling": driver.get("cuda_version"),
        "gpus": [g.get("name") for g in driver.get("gpus", [])] if driver else None,
        "engine": data.get("engine.reachable", {}).get("engine"),
        "engine_version": data.get("engine.reachable", {}).get("version"),
        "engine_api": data.get("engine.reachable", {}).get("api_version"),
        "rootless": data.get("engine.reachable", {}).get("rootless"),
        "toolkit_version": data.get("toolkit.installed", {}).get("version"),
    }


def write(folder: str | Path, summary: dict) -> None:
    folder = Path(folder)
    write_atomic(str(folder / "summary.json"), (json.dumps(summary, indent=2) + "\n").encode())
    write_atomic(str(folder / "report.html"), render.report_page(summary).encode())


def step_states(summary: dict, steps) -> dict[str, str | None]:
    """How each step went: its worst check status, fail for a notebook that stopped on an error, None
    for a step not run yet."""
    by_name = {n["name"]: n for n in summary.get("notebooks", [])}
    states = {}
    for step in steps:
        nb = by_name.get(f"{step}.ipynb", {})
        states[step] = "fail" if nb.get("status") == "error" else (nb.get("worst") if nb.get("checks") else None)
    return states


def next_step_of(states: dict[str, str | None]) -> str | None:
    """The step to take next (``states`` from step_states, in order): the first that failed or has not
    run; None when all ran without failing."""
    return next((step for step, state in states.items() if state in (None, "fail")), None)


def checks_by_step(summary: dict) -> dict[str, list[CheckResult]]:
    """Each step's checks (by stem), as ``collect`` wrote them: in the notebooks' order, a notebook's own
    checks then, when it stopped on an error, its ``notebook.<stem>`` failure."""
    checks = [CheckResult.from_dict(c) for c in summary.get("checks", [])]
    by_step, at = {}, 0
    for nb in summary.get("notebooks", []):
        count = nb.get("checks", 0) + (nb.get("status") == "error")
        by_step[nb["name"].removesuffix(".ipynb")] = checks[at : at + count]
        at += count
    if at != len(checks):
        raise ValueError(f"the summary's notebooks account for {at} checks, its checks list holds {len(checks)}")
    return by_step


def first_problems(summary: dict) -> dict[str, CheckResult]:
    """For each step that failed or warned, the first check with that status: what its box names."""
    firsts = {}
    for step, checks in checks_by_step(summary).items():
        for status in (Status.FAIL, Status.WARN):
            found = next((c for c in checks if c.status is status), None)
            if found:
                firsts[step] = found
                break
    return firsts
