"""A record's verdict as a reader should take it: the verdict its own checks give, by the runbook's rules
(``results.verdict``), unless the record says worse. A record is data: one that says ``pass`` over checks
that failed, over no checks at all, or over checks replayed from another host, is not taken at its word.
A record may say worse than its checks: that stands. An interrupted run's record says ``incomplete``
whatever its checks say (the runner's rule: it did not end), and that stands too.
"""

from __future__ import annotations

from ..catalogue import ESSENTIAL, REPORT
from ..i18n import _
from ..results import verdict
from . import checks_by_step

RANK = {"pass": 0, "incomplete": 1, "fail": 2}


def observed(summary: dict) -> tuple[str, str]:
    """The verdict and its reason for a record read back (``record.read``: its shape already checked)."""
    by_step = checks_by_step(summary)
    if not by_step.get(REPORT):  # the report shows the others' checks; it observes nothing of its own
        by_step.pop(REPORT, None)
    value, reason = verdict(by_step, ESSENTIAL)
    said = summary.get("verdict")
    says_no_better = said in RANK and RANK[said] >= RANK[value]
    interrupted = said == "incomplete" and bool(summary.get("interrupted"))  # the runner's rule for a cut run
    if says_no_better or interrupted:
        return said, summary.get("verdict_reason") or reason
    return value, _("the record says {said}, but its checks say {value}: {reason}").format(
        said=said, value=value, reason=reason
    )
