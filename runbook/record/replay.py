"""A recorded host's run, shown as if it ran here: a class on machines without a GPU walks the whole path
with the checks and evidence another host really produced.

- a step replayed returns the checks its notebook recorded in the record's ``summary.json``, in order,
  with their evidence and data; nothing runs on this machine, no engine or driver is asked anything;
- every replayed check says so: its detail starts with ``replayed from <host>, <date>:`` and its data
  names the record (``replayed_from``), so a saved notebook or a record made from it cannot pass for
  this machine's own observation;
- a folder that is not a record, or a record that did not run the step, is a RunSetupError that says so.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from ..catalogue import NOTEBOOKS
from ..errors import RunSetupError
from ..i18n import _
from ..results import CheckResult
from . import checks_by_step
from . import read as read_summary


def origin(summary: dict) -> str:
    """Where and when the record was made: its host and the day its run finished."""
    day = (summary.get("finished") or summary.get("started") or "an unknown day")[:10]
    return f"{summary.get('host', 'an unknown host')}, {day}"


def stem_of(step: Callable) -> str:
    """The notebook whose step function ``step`` is (runbook.steps.<module>.run)."""
    module = getattr(step, "__module__", "")
    for n in NOTEBOOKS:
        if n.module and module == f"runbook.steps.{n.module}":
            return n.stem
    raise RunSetupError(
        _("{step} is not one of the runbook's steps: there is nothing to replay for it").format(
            step=repr(module or step)
        )
    )


def recorded(folder: str | Path, stem: str) -> list[CheckResult]:
    """The checks the record in ``folder`` holds for the step ``stem``, each marked as replayed."""
    summary = read_summary(folder)
    try:
        by_step = checks_by_step(summary)
    except (KeyError, TypeError, ValueError) as e:
        raise RunSetupError(
            _("{file} is not a record this runbook wrote: {error}").format(file=f"{folder}/summary.json", error=e)
        ) from None
    if stem not in by_step:
        raise RunSetupError(
            _("the record in {folder} did not run {notebook}").format(folder=folder, notebook=f"{stem}.ipynb"),
            remediation=_("Replay a record that ran every step, or run {notebook} here (replay empty).").format(
                notebook=f"{stem}.ipynb"
            ),
        )
    where = origin(summary)
    mark = {"record": Path(folder).name, "host": summary.get("host", ""), "origin": where}
    return [
        replace(
            c,
            detail=_("replayed from {origin}: {detail}").format(origin=where, detail=c.detail),
            data={**c.data, "replayed_from": mark},
        )
        for c in by_step[stem]
    ]


@dataclass(frozen=True)
class Replay:
    """A step function that answers with a record's checks instead of running them (same signature)."""

    folder: str
    stem: str
    summary: dict

    def __call__(self, progress=None, **values) -> list[CheckResult]:
        return recorded(self.folder, self.stem)

    @property
    def banner(self) -> str:
        """What a panel says above a replay: whose run it is, and with which parameters it was made."""
        given = self.summary.get("parameters", {})
        shown = ", ".join(f"{k}={given[k]}" for k in ("gpu_mode", "cuda_image", "pytorch_image") if k in given)
        if shown:
            return _(
                "Replay of the record {record} (host {origin}; {parameters}): these checks ran there, "
                "not on this machine."
            ).format(record=Path(self.folder).name, origin=origin(self.summary), parameters=shown)
        return _("Replay of the record {record} (host {origin}): these checks ran there, not on this machine.").format(
            record=Path(self.folder).name, origin=origin(self.summary)
        )


def step(fn: Callable, folder: str | Path) -> Replay:
    """The replay of the step function ``fn`` from the record in ``folder``."""
    return Replay(str(folder), stem_of(fn), read_summary(folder))
