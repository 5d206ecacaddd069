"""A fleet's records read as one: each host's outcome, its first broken rung, what it runs, and the
fleet's verdict; ``report`` writes the fleet page, the JSON summary and a JUnit file per host.

A fleet folder holds one folder per host, as the playbook (``fleet/site.yml``) fetches them: the host's
record (``summary.json``, ``report.html``, the executed notebooks) when its run was made, and
``fleet.json``, what became of it (``ran``, ``broken``: its run could not be made or crashed,
``unreachable``). A folder with a record and no ``fleet.json`` (a record copied in) counts as ran.
Every host folder is shown: a host without a record is reported with why, never dropped.

Its modules:

- ``page``: the fleet's report page
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from .. import record
from ..errors import RunSetupError
from ..files import read_json, write_atomic
from ..i18n import _
from ..present import junit
from ..present.ladder import first_broken, ladder
from ..present.report import report_page
from ..record.checked_verdict import observed as observed_verdict
from ..results import CheckResult, Status
from . import page as fleet_page

OUTPUTS = ("fleet-report.html", "fleet-summary.json", "junit", fleet_page.REPORTS)  # what report writes in out
STATES = ("ran", "broken", "unreachable", "checked")  # what fleet.json says became of a host (checked: --check)
NOT_SEEN = "none"  # what a shared column says when the host answered and has no such thing


@dataclass
class Host:
    """One host of the fleet: its outcome, and its record when there is one."""

    name: str  # the inventory's name for it, the folder's name
    state: str  # ran, broken, unreachable
    message: str = ""  # why it is broken or unreachable
    groups: list[str] = field(default_factory=list)
    summary: dict | None = None
    checks: list[CheckResult] = field(default_factory=list)

    @property
    def outcome(self) -> str:
        """What the host came to: its record's verdict when it ran, else its state."""
        return self.summary["verdict"] if self.state == "ran" and self.summary else self.state

    @property
    def passed(self) -> bool:
        return self.outcome == "pass"

    @property
    def by_id(self) -> dict[str, CheckResult]:
        return {c.id: c for c in self.checks}

    @property
    def first_broken(self):
        """The first rung of the GPU access ladder that failed on the run's own path, or None."""
        return first_broken(ladder(self.checks)) if self.checks else None

    @property
    def first_failure(self) -> CheckResult | None:
        return next((c for c in self.checks if c.status is Status.FAIL), None)

    def shared(self) -> dict[str, str]:
        """What hosts can have in common: GPUs, driver, the CUDA it supports, toolkit, engine."""
        if not self.checks:
            return {"gpu": "", "driver": "", "cuda": "", "toolkit": "", "engine": ""}
        by_id = self.by_id
        driver = _data(by_id, "host.driver")
        names = [g.get("name", "?") for g in driver.get("gpus", [])]
        gpu = ", ".join(f"{names.count(n)}× {n}" for n in dict.fromkeys(names)) or NOT_SEEN
        return {
            "gpu": gpu,
            "driver": driver.get("driver_version") or NOT_SEEN,
            "cuda": driver.get("cuda_version") or NOT_SEEN,
            "toolkit": _data(by_id, "toolkit.installed").get("version") or NOT_SEEN,
            "engine": _data(by_id, "engine.reachable").get("version") or NOT_SEEN,
        }

    def to_dict(self) -> dict:
        broken, failure = self.first_broken, self.first_failure
        return {
            "name": self.name,
            "outcome": self.outcome,
            "state": self.state,
            "message": self.message,
            "groups": self.groups,
            "hostname": (self.summary or {}).get("host", ""),
            **self.shared(),
            "verdict_reason": (self.summary or {}).get("verdict_reason", ""),
            "counts": (self.summary or {}).get("counts", {}),
            "first_broken_rung": {"rung": broken.name, "check": broken.check.id} if broken else None,
            "first_failure": (
                {
                    "id": failure.id,
                    "detail": failure.detail,
                    "cause": failure.cause,
                    "remediation": failure.remediation,
                }
                if failure
                else None
            ),
            "record": f"{self.name}/summary.json" if self.summary else None,
        }


def _data(by_id: dict[str, CheckResult], check_id: str) -> dict:
    c = by_id.get(check_id)
    return c.data if c and c.status is Status.PASS else {}


def read_host(folder: Path) -> Host:
    """A host from its folder: fleet.json says what became of it, summary.json is its record. A host whose
    fleet.json or record cannot be read is ``broken``, with why: it is reported beside the others."""
    try:
        return _read_host(folder)
    except (RunSetupError, OSError) as e:  # OSError: a folder this user may not read
        if not folder.name.isprintable():  # no name to report it under
            raise
        error = e.strerror if isinstance(e, OSError) and e.strerror else e
        return Host(folder.name, "broken", _("its files cannot be read: {error}").format(error=error))


def _read_host(folder: Path) -> Host:
    if not folder.name.isprintable():  # a control character, or bytes that are not UTF-8 (surrogates)
        raise RunSetupError(
            _("the host folder {name} in {folder} is not named in printable UTF-8 text").format(
                name=ascii(folder.name), folder=folder.parent
            ),
            remediation=_("Rename it as the inventory names the host."),
        )
    outcome = _read_json(folder / "fleet.json") or {}
    if not (
        isinstance(outcome, dict)
        and outcome.get("state") in (None, *STATES)
        and isinstance(outcome.get("message", ""), str)
        and isinstance(outcome.get("groups", []), list)
        and all(isinstance(g, str) for g in outcome.get("groups", []))
    ):
        raise RunSetupError(
            _("{path} is not what the playbook writes (an object with state, message, groups)").format(
                path=folder / "fleet.json"
            )
        )
    has_record = (folder / "summary.json").exists()
    state = outcome.get("state") or ("ran" if has_record else "broken")
    summary = record.read(folder) if state == "ran" and has_record else None  # refused when not a record
    message = outcome.get("message", "")
    if state == "ran" and summary is None:
        state, message = "broken", message or _("the host ran, but its folder holds no summary.json")
    if state != "ran":
        summary = None  # a record left from an earlier play is not this play's
    checks = [CheckResult.from_dict(c) for c in summary["checks"]] if summary else []
    if summary:  # the verdict its checks bear out: a record that says pass over no checks is data, not a pass
        value, reason = observed_verdict(summary)
        summary = {**summary, "verdict": value, "verdict_reason": reason}
    return Host(folder.name, state, message, list(outcome.get("groups", [])), summary, checks)


def _read_json(path: Path) -> dict | None:
    try:
        return read_json(str(path))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as e:
        raise RunSetupError(_("cannot read {path}: {error}").format(path=path, error=e)) from None


def read(folder: str | Path) -> list[Host]:
    """Every host folder in ``folder`` (those holding fleet.json or summary.json), by name."""
    folder = Path(folder)
    try:
        hosts = [read_host(d) for d in sorted(folder.iterdir()) if is_host(d)]
    except OSError as e:
        raise RunSetupError(
            _("{folder} is not a folder of host records: {error}").format(folder=folder, error=e.strerror or e)
        ) from None
    if not hosts:
        raise RunSetupError(
            _("{folder} holds no host folders (each with fleet.json or summary.json)").format(folder=folder),
            remediation=_("Point it at the folder the playbook fetched the records into (gpu_runbook_fleet_out)."),
        )
    return hosts


def is_host(d: Path) -> bool:
    """A folder the playbook fetched a host into (fleet.json) or a record copied in (summary.json); a folder
    this user may not look into is one too, and is reported broken."""
    if not d.is_dir() or d.name.startswith("."):
        return False
    try:
        return (d / "fleet.json").exists() or (d / "summary.json").exists()
    except OSError:
        return True


def verdict(hosts: list[Host]) -> str:
    """``pass`` when every host ran and passed, else ``fail``."""
    return "pass" if all(h.passed for h in hosts) else "fail"


def check_ids(hosts: list[Host]) -> list[str]:
    """Every check id seen, each where the records put it: an id that only some hosts have (say
    ``gpu.mode.cdi``) sits after the check it follows in their records."""
    order: list[str] = []
    for h in hosts:
        previous = None
        for c in h.checks:
            if c.id not in order:
                order.insert(order.index(previous) + 1 if previous else len(order), c.id)
            previous = c.id
    return order


def groups(hosts: list[Host]) -> list[tuple[dict[str, str], list[Host]]]:
    """The hosts grouped by what they share (GPUs, driver, CUDA, toolkit, engine), largest group first;
    hosts without a record form a group of their own, last."""
    found: dict[tuple, list[Host]] = {}
    for h in hosts:
        found.setdefault(tuple(h.shared().items()), []).append(h)
    ordered = sorted(found.items(), key=lambda kv: (not kv[1][0].checks, -len(kv[1]), kv[1][0].name))
    return [(dict(key), members) for key, members in ordered]


def summary(hosts: list[Host]) -> dict:
    outcomes = [h.outcome for h in hosts]
    return {
        "verdict": verdict(hosts),
        "hosts": len(hosts),
        "counts": {o: outcomes.count(o) for o in dict.fromkeys(sorted(outcomes))},
        "groups": [{"shared": shared, "hosts": [h.name for h in members]} for shared, members in groups(hosts)],
        "checks": check_ids(hosts),
        "by_host": [h.to_dict() for h in hosts],
    }


def text(hosts: list[Host]) -> str:
    """One line per host: name, outcome, and where it broke (the first broken rung, else the first
    failed check, else why there is no record)."""
    width = max(len(h.name) for h in hosts)
    lines = []
    for h in hosts:
        broken, failure = h.first_broken, h.first_failure
        if h.state != "ran":
            why = h.message.splitlines()[0] if h.message else ""
        elif broken:
            why = _("first broken rung: {rung} ({id})").format(rung=broken.name, id=broken.check.id)
        elif failure:
            why = _("first failure: {id}: {detail}").format(id=failure.id, detail=failure.detail)
        elif not h.passed:
            why = next(iter((h.summary.get("verdict_reason") or "").splitlines()), "")
        else:
            why = ""
        lines.append(f"{h.name:{width}}  {h.outcome.upper():11}  {why}".rstrip())
    return "\n".join(lines)


def report(folder: str | Path, out: str | Path | None = None) -> tuple[list[Host], dict, Path]:
    """``gpu-runbook fleet-report``: read the fleet folder, write ``fleet-report.html``,
    ``fleet-summary.json``, ``junit/<host>.xml`` and ``reports/<host>.html`` (each host's report drawn
    from its summary.json) into ``out`` (default: the fleet folder itself); returns the hosts, the
    summary and where it was written."""
    folder = Path(folder).absolute()
    hosts = read(folder)
    out = Path(out).absolute() if out else folder
    refuse_host_folders(hosts, folder, out)
    try:
        return hosts, *_write(hosts, folder, out)
    except OSError as e:
        raise RunSetupError(
            _("cannot write the fleet report into {out}: {error}").format(out=out, error=e.strerror or e),
            remediation=_("Give --out a folder you can write."),
        ) from None


def refuse_host_folders(hosts: list[Host], folder: Path, out: Path) -> None:
    """The report is never written into a host's folder, nor over one named as one of its files."""
    where = out.resolve()
    inside = [h.name for h in hosts if where.is_relative_to((folder / h.name).resolve())]
    if inside:
        raise RunSetupError(
            _("--out {out} is inside the host folder {name}: the report would be written among its record").format(
                out=out, name=inside[0]
            ),
            remediation=_("Write the report elsewhere: --out OUT."),
        )
    taken = sorted({h.name for h in hosts} & set(OUTPUTS)) if where == folder.resolve() else []
    if taken:
        raise RunSetupError(
            _("the host folder(s) {names} in {folder} have the names of the report's own files").format(
                names=", ".join(taken), folder=folder
            ),
            remediation=_("Write the report elsewhere: --out OUT."),
        )


def _write(hosts: list[Host], folder: Path, out: Path) -> tuple[dict, Path]:
    (out / "junit").mkdir(parents=True, exist_ok=True)
    base = os.path.relpath(folder, out).replace(os.sep, "/")  # the summary names the hosts' records
    base = "" if base == "." else base
    result = summary(hosts)
    for entry in result["by_host"]:
        if entry["record"]:
            entry["record"] = f"{base}/{entry['record']}" if base else entry["record"]
    write_atomic(str(out / "fleet-summary.json"), (json.dumps(result, indent=2) + "\n").encode())
    write_atomic(str(out / "fleet-report.html"), fleet_page.page(hosts, result).encode())
    for h in hosts:
        if h.summary:
            path = out / fleet_page.report_path(h)
            path.parent.mkdir(exist_ok=True)
            write_atomic(str(path), report_page(h.summary).encode())
    for h in hosts:
        write_atomic(str(out / "junit" / f"{h.name}.xml"), junit.xml(h).encode())
    return result, out
