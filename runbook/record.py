"""The record of a run, read back from its executed notebooks (the executed notebook is the record).

``collect`` gathers every check a notebook displayed (the ui's JSON output) and every notebook that
stopped on an error; ``write`` turns that into ``summary.json`` and a self-contained ``report.html``.
"""
from __future__ import annotations

import datetime as dt
import html
import json
import socket
from pathlib import Path

import nbformat

from . import __version__
from .files import write_atomic
from .results import CheckResult, Status, verdict
from .steps import REPORT, STEPS
from .ladder import ORDER, ladder
from .ui import CSS, MIME_TYPE, badge, html_table, ladder_html, throughput_svg


def notebook_checks(path: str | Path) -> tuple[list[CheckResult], str]:
    """The checks a notebook displayed, and the error it stopped on ('' when it ran through)."""
    nb = nbformat.read(str(path), as_version=4)
    checks, error = [], ""
    for cell in nb.cells:
        if cell.cell_type != "code":
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
    paths = [folder / n for n in names]
    checks: list[CheckResult] = []
    notebooks = []
    for path in paths:
        if not path.exists():
            notebooks.append({"name": path.name, "status": "missing"})
            continue
        found, error = notebook_checks(path)
        checks += found
        worst = max((c.status for c in found), key=lambda s: ORDER[s], default=None)
        notebooks.append({"name": path.name, "status": "error" if error else "ran", "checks": len(found),
                          "worst": worst.value if worst else None, **({"error": error} if error else {})})
        if error:
            checks.append(CheckResult(f"notebook.{path.stem}", f"{path.name} ran to the end", Status.FAIL,
                                      f"the notebook stopped: {error}",
                                      cause="An error the runbook does not diagnose (a bug, or a bad parameter).",
                                      remediation=f"Open the executed {path.name} in the record to see the traceback.",
                                      notebook=path.name))
    counts = {s.value: sum(1 for c in checks if c.status is s) for s in Status}
    return {"runbook_version": __version__, "host": socket.gethostname(), "verdict": verdict(checks),
            "counts": counts, "notebooks": notebooks, "checks": [c.to_dict() for c in checks]}


def write(folder: str | Path, summary: dict) -> None:
    folder = Path(folder)
    write_atomic(str(folder / "summary.json"), (json.dumps(summary, indent=2) + "\n").encode())
    write_atomic(str(folder / "report.html"), report_html(summary).encode())


def report_html(summary: dict) -> str:
    """A self-contained page (no scripts, no external files) showing the run at a glance."""
    checks = [CheckResult.from_dict(c) for c in summary["checks"]]
    v = Status.PASS if summary["verdict"] == "pass" else Status.FAIL
    counts = " · ".join(f"{n} {s}" for s, n in summary["counts"].items() if n)
    params = "".join(f"<tr><td><code>{html.escape(k)}</code></td><td><code>{html.escape(repr(val))}</code></td></tr>"
                     for k, val in summary.get("parameters", {}).items())
    first_fail = next((c for c in checks if c.status is Status.FAIL), None)
    headline = (f"First failure: <code>{html.escape(first_fail.id)}</code>: {html.escape(first_fail.detail)}"
                if first_fail else "Every check passed or was skipped with a reason.")
    when = summary.get("finished") or dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>gpu-runbook record: {html.escape(summary['host'])}</title>
<style>body{{font-family:system-ui,sans-serif;margin:24px;max-width:1200px}}{CSS}
.rb-verdict{{font-size:20px;margin:8px 0}} .rb-params td{{padding:2px 8px}}</style></head>
<body>
<h1>gpu-runbook record</h1>
<p>Host <b>{html.escape(summary['host'])}</b>, finished {html.escape(when)}, runbook {html.escape(summary['runbook_version'])}.</p>
<p class="rb-verdict">Verdict: {badge(v)} &nbsp; {html.escape(counts)}</p>
<p>{headline}</p>
<h2>GPU access ladder</h2>
{ladder_html(ladder(checks))}
{throughput_svg(checks)}
<h2>Checks</h2>
{html_table(checks, with_style=False)}
<h2>Parameters</h2><table class="rb-params">{params}</table>
</body></html>
"""
