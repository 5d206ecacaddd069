"""The record of a run, read back from its executed notebooks (the executed notebook is the record).

``collect`` gathers every check a notebook displayed (its output of type ``results.MIME_TYPE``) and
every notebook that stopped on an error; ``write`` turns that into ``summary.json`` and a
self-contained ``report.html``; ``step_states`` says how far a run has come, step by step.

Its modules:

- ``replay``: a recorded host's run shown as if it ran here
- ``bundle``: the support bundle: versions, configs, CDI specs, journals, a record; credentials masked
- ``shapes``: the shape of the checks' data that a record's readers dig into
- ``checked_verdict``: a record's verdict as its own checks bear it out, not as it says
"""

from __future__ import annotations

import json
import math
import socket
from pathlib import Path

from ..catalogue import ESSENTIAL, REPORT, STEPS
from ..errors import RecordNotWritten, RunSetupError
from ..files import read_json, write_atomic
from ..i18n import _
from ..params import for_record, masked
from ..results import MIME_TYPE, ORDER, CheckResult, Status, verdict
from ..version import version_info
from . import shapes


def code_cells(path: str | Path) -> list[dict]:
    """The code cells of the notebook at ``path``, each with its outputs as a list of objects (others left
    out): OSError for a file that cannot be read (``files.read_json``), ValueError for one that is not a
    notebook."""
    nb = read_json(str(path))
    cells = nb.get("cells") if isinstance(nb, dict) else None
    if not isinstance(cells, list):
        raise ValueError(_("it is not a notebook (no list of cells)"))
    found = []
    for cell in cells:
        if isinstance(cell, dict) and cell.get("cell_type") == "code":
            outputs = cell.get("outputs")
            found.append(
                {**cell, "outputs": [o for o in outputs if isinstance(o, dict)] if isinstance(outputs, list) else []}
            )
    return found


def notebook_checks(path: str | Path) -> tuple[list[CheckResult], str]:
    """The checks a notebook displayed, and the error it stopped on ('' when it ran through); ValueError
    (or OSError) for a file that is not a notebook, or whose checks are not checks."""
    checks, error = [], ""
    for cell in code_cells(path):
        for out in cell["outputs"]:
            data = out.get("data")
            if (
                out.get("output_type") in ("display_data", "execute_result")
                and isinstance(data, dict)
                and MIME_TYPE in data
            ):
                shown = data[MIME_TYPE].get("checks") if isinstance(data[MIME_TYPE], dict) else None
                if not isinstance(shown, list):
                    raise ValueError(_("its output of checks holds no list of checks"))
                wrong = next(filter(None, (check_problem(i, c) for i, c in enumerate(shown))), "")
                if wrong:
                    raise ValueError(wrong)
                checks += [CheckResult.from_dict(d) for d in shown]
            elif out.get("output_type") == "error" and not error:
                error = f"{out.get('ename')}: {out.get('evalue')}"
    return checks, error


def collect(folder: str | Path, names: list[str] | None = None, stopped: dict[str, str] | None = None) -> dict:
    """The summary of the executed notebooks in ``folder`` (the steps present, or ``names``), in order.

    ``stopped`` names the notebooks the runner saw stop, and on what: a notebook that stopped is a failed
    check even where its file cannot show the error. The report (06) contributes no checks of its own
    (it shows the others'), only its failure when it stopped.
    """
    folder = Path(folder)
    stopped = stopped or {}
    if names is None:
        names = [f"{s}.ipynb" for s in STEPS if s != REPORT and (folder / f"{s}.ipynb").exists()]
    checks: list[CheckResult] = []
    by_step: dict[str, list[CheckResult]] = {}
    notebooks = []
    for path in (folder / n for n in names):
        if path.stem != REPORT:
            by_step[path.stem] = []
        if not path.exists():
            notebooks.append({"name": path.name, "status": "missing"})
            continue
        try:
            found, error = notebook_checks(path)
        except (OSError, ValueError) as e:  # a notebook that is not one the runbook ran: said, the others kept
            found, error = [], _("it cannot be read back: {error}").format(error=getattr(e, "strerror", None) or e)
        if path.stem == REPORT:
            found = []
        error = error or stopped.get(path.name, "")
        if found or error:
            by_step.setdefault(path.stem, [])
        checks += found
        by_step.get(path.stem, []).extend(found)
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
            failure = CheckResult(
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
            checks.append(failure)
            by_step[path.stem].append(failure)
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
        nb = read_json(str(path))
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
    data = (json.dumps(nb, indent=1, ensure_ascii=False) + "\n").encode()
    try:
        write_atomic(str(path), data)
    except OSError as e:  # a full or read-only disk
        raise RecordNotWritten(path.parent, path.name, e, len(data)) from None


SCHEMA_VERSION = 2  # summary.json's layout (docs/user-guide/cli.md, "A run"); raised when a key changes meaning
READABLE = (1, 2)  # the layouts read back: 1 lacked the host's facts at the top


def host_facts(checks: list[CheckResult]) -> dict:
    """The host as the checks observed it, at the top of the summary so that scripts need not dig in
    checks[].data: None where it was not observed."""
    data = {c.id: c.data for c in checks if c.status is not Status.SKIP}
    os_data, driver = data.get("host.os", {}), data.get("host.driver", {})
    # the engine as step 1 found it, else as an image pull of a later step saw it (a run of some steps)
    pulled = (d.get("engine") for d in data.values() if isinstance(d, dict) and isinstance(d.get("engine"), dict))
    reached = data.get("engine.reachable") or next(pulled, {})
    return {
        "os": " ".join(x for x in (os_data.get("id"), os_data.get("version_id")) if x) or None,
        "kernel": os_data.get("kernel"),
        "driver_version": driver.get("driver_version"),
        "cuda_ceiling": driver.get("cuda_version"),
        "gpus": [g.get("name") for g in driver.get("gpus", [])] if driver else None,
        "engine": reached.get("engine"),
        "engine_version": reached.get("version"),
        "engine_api": reached.get("api_version"),
        "rootless": reached.get("rootless"),
        "toolkit_version": data.get("toolkit.installed", {}).get("version"),
    }


def read(folder: str | Path) -> dict:
    """A record's summary.json, checked to be one this runbook wrote (``problems`` says what is not):
    what verify, replay, the Lab and the fleet report read. A RunSetupError that says what is wrong
    otherwise: a file that only looks like a record is never acted on."""
    path = Path(folder) / "summary.json"
    try:
        summary = read_json(str(path))
    except (OSError, UnicodeDecodeError) as e:
        why = getattr(e, "strerror", None) or str(e)
        raise RunSetupError(
            _("{record} holds no readable summary.json ({error}): not a record").format(record=folder, error=why)
        ) from None
    except ValueError as e:
        raise RunSetupError(
            _("{path} is not JSON ({error}): not a record this runbook wrote").format(path=path, error=e)
        ) from None
    wrong = problems(summary)
    if wrong:
        raise RunSetupError(
            _("{path} is not a record this runbook wrote: {problems}").format(path=path, problems="; ".join(wrong)),
            remediation=_(
                "Give the folder of a run's record: gpu-runbook run writes summary.json beside the notebooks."
            ),
        )
    return summary


def problems(summary) -> list[str]:
    """What keeps ``summary`` from being a record of this schema: its type, version, missing or mistyped
    keys, checks that are not checks. Empty for a record."""
    if not isinstance(summary, dict):
        return [_("it holds a {kind}, not an object").format(kind=type(summary).__name__)]
    if not _unicode(summary):
        return [_("it holds text that is not Unicode (a lone surrogate)")]
    version = summary.get("schema_version", 1)  # the first records had none
    if version not in READABLE or isinstance(version, bool):
        return [
            _("its schema_version is {found}; this runbook reads {wanted}").format(
                found=repr(version), wanted=", ".join(map(str, READABLE))
            )
        ]
    found = _kinds(summary, {"checks": list, "notebooks": list, "parameters": dict, "steps": list, "verdict": str})
    if found:
        return found
    found = _kinds(summary, {"counts": dict, "host": str, "runbook_version": str})  # what the pages show
    for i, c in enumerate(summary["checks"]):
        wrong = check_problem(i, c)
        if wrong:
            found.append(wrong)
            break
    statuses = {s.value for s in Status}
    for i, n in enumerate(summary["notebooks"]):
        if not (isinstance(n, dict) and isinstance(n.get("name"), str) and isinstance(n.get("checks", 0), int)):
            found.append(_("notebooks[{index}] is not a notebook entry (a name and a count)").format(index=i))
            break
        if (
            n.get("status", "ran") not in ("ran", "error", "missing")
            or n.get("worst") not in (None, *statuses)
            or not isinstance(n.get("error", ""), str)
        ):
            found.append(_("notebooks[{index}] has fields of the wrong type").format(index=i))
            break
        if n["name"] not in NOTEBOOK_NAMES:  # checks under a made-up step would count for nothing essential
            found.append(
                _("notebooks[{index}] is not a notebook of the runbook: {name}").format(index=i, name=ascii(n["name"]))
            )
            break
    wrong = [k for k in TEXTS if not isinstance(summary.get(k, ""), str | None)]
    if wrong:
        found.append(_("{keys} should be text").format(keys=", ".join(wrong)))
    if isinstance(summary.get("counts"), dict) and not all(
        isinstance(k, str) and _count(v) for k, v in summary["counts"].items()
    ):
        found.append(_("counts is not a count of checks per status"))
    unknown = [s for s in summary["steps"] if not isinstance(s, str) or s not in STEPS]
    if unknown:
        found.append(_("steps names what is not a step: {names}").format(names=", ".join(map(repr, unknown))))
    if summary["verdict"] not in ("pass", "fail", "incomplete"):
        found.append(_("verdict {value} is not pass, fail or incomplete").format(value=repr(summary["verdict"])))
    if not found:
        try:
            checks_by_step(summary)
        except ValueError as e:
            found.append(str(e))
    return found


def _kinds(summary: dict, kinds: dict[str, type]) -> list[str]:
    """The keys of ``kinds`` that ``summary`` lacks or holds another type of value under."""
    found = []
    for key, kind in kinds.items():
        if key not in summary:
            found.append(_("{key} is missing").format(key=key))
        elif not isinstance(summary[key], kind):
            found.append(
                _("{key} is a {found}, not a {wanted}").format(
                    key=key, found=type(summary[key]).__name__, wanted=kind.__name__
                )
            )
    return found


def check_problem(index: int, c) -> str:
    """What keeps ``c``, the check at ``index`` of a summary or of a notebook's output, from being one as
    this runbook writes it; '' for a check."""
    statuses = {s.value for s in Status}
    if not (isinstance(c, dict) and isinstance(c.get("id"), str) and c.get("status") in statuses):
        return _("checks[{index}] is not a check (an id and a status of {statuses})").format(
            index=index, statuses=", ".join(sorted(statuses))
        )
    if (
        not isinstance(c.get("data", {}), dict)
        or not all(isinstance(c.get(k, ""), str) for k in CHECK_TEXTS)
        or not _number(c.get("duration_s", 0.0))
    ):
        return _("checks[{index}] ({id}) has fields of the wrong type").format(index=index, id=c["id"])
    if not _unicode(c):
        return _("checks[{index}] ({id}) holds text that is not Unicode").format(index=index, id=repr(c["id"]))
    if not shapes.data_fits(c["id"], c.get("data", {})):
        return _("checks[{index}] ({id}) holds data of another shape than this runbook writes").format(
            index=index, id=c["id"]
        )
    return ""


TEXTS = ("started", "finished", "verdict_reason", "lang")  # text (or null) where present
NOTEBOOK_NAMES = {f"{s}.ipynb" for s in STEPS}
CHECK_TEXTS = ("title", "detail", "cause", "remediation", "notebook", "evidence", "skip_kind")


def _unicode(value) -> bool:
    """Whether every text in ``value`` can be written as UTF-8 (JSON lets a lone surrogate through)."""
    try:
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _count(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def write(folder: str | Path, summary: dict, page: str) -> None:
    """summary.json, and ``page`` (the report drawn from it) as report.html."""
    folder = Path(folder)
    files = {
        "summary.json": (json.dumps(summary, indent=2) + "\n").encode(),
        "report.html": page.encode(),
    }
    for name, data in files.items():
        try:
            write_atomic(str(folder / name), data)
        except OSError as e:  # a full or read-only disk
            raise RecordNotWritten(folder, name, e, sum(map(len, files.values()))) from None


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
        raise ValueError(
            _("the summary's notebooks account for {counted} checks, its checks list holds {held}").format(
                counted=at, held=len(checks)
            )
        )
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
