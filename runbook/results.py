"""The result model: every check returns one small value; prose is rendered from it, never parsed.

A status says what was observed. A skip says why nothing was: ``chosen`` when the user asked for it
(``pull_devel=false``, ``measure_throughput=false``, ``toolkit_apply=false``), ``blocked`` when a
precondition failed or the runbook could not decide (no image known for the driver, an image absent
with ``pull=never``). The verdict is ``pass`` only when what the run exists to observe was observed.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from enum import Enum

from .errors import RunbookError
from .i18n import _, ngettext

# The results travel in an executed notebook as a display output of this type: the record is read from it.
MIME_TYPE = "application/vnd.gpu-runbook.checks+json"


CHOSEN, BLOCKED = "chosen", "blocked"


PROGRESS_ENV = "GPU_RUNBOOK_PROGRESS"  # the file a headless run's events go to (present.progress follows it)


def announce(event: dict) -> None:
    """Append one event to the file the runner follows, when there is one (a headless run)."""
    path = os.environ.get(PROGRESS_ENV)
    if path:
        with open(path, "a", encoding="utf-8") as f:
            f.write(json.dumps(event) + "\n")


class Status(str, Enum):
    PASS = "pass"
    FAIL = "fail"
    WARN = "warn"
    SKIP = "skip"


ORDER = {Status.FAIL: 3, Status.WARN: 2, Status.PASS: 1, Status.SKIP: 0}


@dataclass
class CheckResult:
    """One observed fact about the host, with what to do when it is wrong.

    ``id`` is stable across releases (records and scripts key on it); ``detail`` says what was
    observed (or, for a skip, why nothing was); ``cause`` and ``remediation`` say why it failed and
    what fixes it; ``evidence`` holds raw tool output; ``notebook`` names the notebook that fixes it.
    """

    id: str
    title: str
    status: Status
    detail: str = ""
    cause: str = ""
    remediation: str = ""
    notebook: str = ""
    evidence: str = ""
    duration_s: float = 0.0
    data: dict = field(default_factory=dict)
    skip_kind: str = ""  # for a skip: "chosen" (the user asked for it) or "blocked" (it could not be observed)

    def __post_init__(self):
        if self.status is Status.SKIP and not self.skip_kind:
            self.skip_kind = BLOCKED

    def to_dict(self) -> dict:
        d = asdict(self)
        d["status"] = self.status.value
        d["duration_s"] = round(self.duration_s, 3)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> CheckResult:
        known = {k: d[k] for k in cls.__dataclass_fields__ if k in d}
        known["status"] = Status(d["status"])
        return cls(**known)

    @property
    def ok(self) -> bool:
        return self.status in (Status.PASS, Status.WARN)


class Outcome(Exception):
    """Raised inside a check to end it with a status other than pass (a skip, a warn, a fail)."""

    def __init__(
        self,
        status: Status,
        detail: str,
        *,
        cause: str = "",
        remediation: str = "",
        notebook: str = "",
        evidence: str = "",
        skip_kind: str = "",
        data: dict | None = None,
    ):
        super().__init__(detail)
        self.status, self.detail = status, detail
        self.cause, self.remediation, self.notebook, self.evidence = cause, remediation, notebook, evidence
        self.skip_kind, self.data = skip_kind, data or {}


def skip(detail: str) -> Outcome:
    """Nothing could be observed: a precondition failed, or the runbook could not decide."""
    return Outcome(Status.SKIP, detail, skip_kind=BLOCKED)


def chosen(detail: str) -> Outcome:
    """Nothing was observed because the user asked so (a parameter turned the check off)."""
    return Outcome(Status.SKIP, detail, skip_kind=CHOSEN)


def fail(detail: str, **kw) -> Outcome:
    return Outcome(Status.FAIL, detail, **kw)


def warn(detail: str, **kw) -> Outcome:
    return Outcome(Status.WARN, detail, **kw)


@dataclass
class Passed:
    """What a check function returns when the check passed: what was seen, and data for later checks."""

    detail: str
    evidence: str = ""
    data: dict = field(default_factory=dict)


def run_check(check_id: str, title: str, fn: Callable[[], Passed], data: dict | None = None) -> CheckResult:
    """Run one check function, timing it; an Outcome or a RunbookError becomes the result's status.
    ``data`` is recorded whatever the outcome (what the check was asked to do, e.g. its GPU access mode).

    Any other exception is a bug in the runbook and propagates: it must not be mistaken for a
    diagnosis of the host.
    """
    announce({"check": check_id, "title": title})
    start = time.monotonic()
    try:
        passed = fn()
        result = CheckResult(check_id, title, Status.PASS, passed.detail, evidence=passed.evidence, data=passed.data)
    except Outcome as o:
        result = CheckResult(
            check_id,
            title,
            o.status,
            o.detail,
            cause=o.cause,
            remediation=o.remediation,
            notebook=o.notebook,
            evidence=o.evidence,
            skip_kind=o.skip_kind,
            data=o.data,
        )
    except RunbookError as e:
        result = CheckResult(
            check_id,
            title,
            Status.FAIL,
            str(e),
            cause=e.cause,
            remediation=e.remediation,
            notebook=e.notebook,
            evidence=e.evidence,
        )
    result.duration_s = time.monotonic() - start
    result.data = {**(data or {}), **result.data}
    return result


def verdict(by_step: dict[str, list[CheckResult]], essential: dict[str, tuple[str, ...]]) -> tuple[str, str]:
    """The run's verdict and why, from the checks of the steps that ran (``by_step``) and the checks
    each step exists to observe (``essential``, from the catalogue):

    - ``fail``: a check failed;
    - ``incomplete``: nothing failed, but no check ran, an essential check was not observed passing,
      or a step observed nothing at all (every check skipped as blocked);
    - ``pass``: every essential check was observed passing (warnings and chosen skips allowed).

    Checks replayed from a record (``replayed_from`` in their data) were observed on that record's host, not
    here: a run that shows them is ``incomplete``, whatever they say, unless something failed here.
    """
    results = [r for checks in by_step.values() for r in checks]
    replayed = sorted({replayed_origin(r) for r in results} - {""})
    failed = [r.id for r in results if r.status is Status.FAIL and not replayed_origin(r)]
    if replayed and not failed:
        return "incomplete", _("replayed from {origins}: nothing was observed on this machine").format(
            origins="; ".join(replayed)
        )
    if failed:
        return "fail", ngettext("{count} check failed: {ids}", "{count} checks failed: {ids}", len(failed)).format(
            count=len(failed), ids=", ".join(failed)
        )
    if not results:
        return "incomplete", _("no check ran")
    by_id = {r.id: r for r in results}
    unseen = []
    for step in by_step:
        for check_id in essential.get(step, ()):
            r = by_id.get(check_id)
            if r is None or not r.ok:
                unseen.append(
                    f"{check_id} ({r.status.value}: {r.detail})" if r else _("{id} (not run)").format(id=check_id)
                )
    if unseen:
        return "incomplete", _("essential check(s) not observed passing: {checks}").format(checks="; ".join(unseen))
    blind = [step for step, checks in by_step.items() if all(r.status is Status.SKIP for r in checks)]
    if blind:
        return "incomplete", _("nothing was observed in {steps}: every check was skipped").format(
            steps=", ".join(blind)
        )
    return "pass", _("every essential check of the steps that ran was observed passing")


def replayed_origin(r: CheckResult) -> str:
    """Where a replayed check was observed (its record's host and day); '' for a check observed here."""
    if not isinstance(r.data, dict) or "replayed_from" not in r.data:
        return ""
    mark = r.data["replayed_from"]
    where = (mark.get("origin") or mark.get("record")) if isinstance(mark, dict) else mark
    return str(where) if where and isinstance(where, str) else _("a record")
