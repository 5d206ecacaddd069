"""The result model: every check returns one small value; prose is rendered from it, never parsed."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from enum import Enum

from .errors import RunbookError

# The results travel in an executed notebook as a display output of this type: the record is read from it.
MIME_TYPE = "application/vnd.gpu-runbook.checks+json"


class Status(str, Enum):
    PASS = "pass"
    FAIL = "fail"
    WARN = "warn"
    SKIP = "skip"


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
    ):
        super().__init__(detail)
        self.status, self.detail = status, detail
        self.cause, self.remediation, self.notebook, self.evidence = cause, remediation, notebook, evidence


def skip(detail: str) -> Outcome:
    return Outcome(Status.SKIP, detail)


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


def verdict(results: list[CheckResult]) -> str:
    """``fail`` when any check failed, else ``pass`` (warnings and reasoned skips do not fail a run)."""
    return "fail" if any(r.status is Status.FAIL for r in results) else "pass"
