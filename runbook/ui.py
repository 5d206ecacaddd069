"""Showing results in a notebook: HTML for JupyterLab, plain text for papermill and terminals.

Each display of checks also carries them as JSON under ``results.MIME_TYPE``: that output, saved in the
executed notebook, is what the record is read from. Outside a kernel (a script, a plain Python shell)
the same calls print plain text.
"""

from __future__ import annotations

import html
from collections.abc import Callable

from . import i18n, params, record
from .catalogue import BY_STEM
from .errors import ChecksFailed
from .i18n import _, ngettext
from .present import checklist, path_overview
from .present import report as render
from .present.progress import PullProgress
from .results import MIME_TYPE, CheckResult, Status


class Checks:
    """A list of results as a notebook output: HTML in JupyterLab, text elsewhere, JSON for the record."""

    def __init__(self, results: list[CheckResult]):
        self.results = results

    def _repr_mimebundle_(self, include=None, exclude=None):
        return {
            "text/plain": checklist.text(self.results),
            "text/html": checklist.html_table(self.results),
            MIME_TYPE: {"checks": [r.to_dict() for r in self.results]},
        }


def _display(bundle: dict) -> None:
    """A MIME bundle through IPython's display in a kernel; its plain text printed anywhere else."""
    try:
        from IPython import get_ipython
        from IPython.display import display
    except ImportError:
        get_ipython = None
    if get_ipython is None or get_ipython() is None:
        print(bundle["text/plain"])
    else:
        display(bundle, raw=True)


def show(results: list[CheckResult]) -> None:
    """Display the results: rich in a notebook, plain text outside one."""
    _display(Checks(results)._repr_mimebundle_())


def _show_view(results: list[CheckResult], view: Callable[[list[CheckResult]], dict]) -> None:
    """Show ``view(results)``, a MIME bundle. Results from a JupyterLab panel carry ``follow``: the panel
    shows the view and draws it again from each new run. A view of plain text alone is printed elsewhere,
    as a stream (the output nbval compares)."""
    follow = getattr(results, "follow", None)
    if follow is not None:
        follow(view)
        return
    bundle = view(results)
    if set(bundle) == {"text/plain"}:
        print(bundle["text/plain"])
    else:
        _display(bundle)


def evidence_text(results: list[CheckResult], check_id: str) -> str:
    """One check's raw tool output, or its status and detail when it has none."""
    for r in results:
        if r.id == check_id:
            return r.evidence.rstrip() if r.evidence else f"({check_id}: {r.status.value}: {r.detail})"
    return "({})".format(_("{id}: not in this run").format(id=check_id))


def show_evidence(results: list[CheckResult], check_id: str) -> None:
    """One check's raw tool output (e.g. nvidia-smi's table) as a cell output of its own; in JupyterLab
    it follows the panel's runs."""
    if not any(r.id == check_id for r in results):
        raise KeyError(check_id)
    _show_view(results, lambda rs: {"text/plain": evidence_text(rs, check_id)})


def show_summary(summary: dict, lang: str = "") -> None:
    """The run at a glance, in ``lang`` ('': the locale's); above it, which steps were replayed from a
    record, if any."""
    i18n.activate(params.validate({"lang": lang})["lang"])
    note = replayed_note(summary)
    text, page = render.summary_text(summary), render.summary_html(summary)
    if note:
        text, page = f"{note}\n\n{text}", path_overview.replay_banner(note) + page
    _display({"text/plain": text, "text/html": page})


def show_gpus(results: list[CheckResult]) -> None:
    """The container's GPUs beside the host's (the nvidia-smi check nbval compares)."""
    _show_view(results, lambda rs: {"text/plain": render.gpus_text(rs)})


def show_torch(results: list[CheckResult]) -> None:
    _show_view(results, lambda rs: {"text/plain": render.torch_text(rs)})


def throughput_bundle(results: list[CheckResult]) -> dict:
    """The throughput charts; the check's own line where no HTML can be shown."""
    svg = render.throughput_svg(results)
    found = next((r for r in results if r.id == "pytorch.throughput"), None)
    line = (
        f"pytorch.throughput: {found.status.value}: {found.detail}"
        if found
        else _("{id}: not run").format(id="pytorch.throughput")
    )
    return {"text/plain": line, "text/html": svg or html.escape(line)}


def show_throughput(results: list[CheckResult]) -> None:
    _show_view(results, throughput_bundle)


def show_overview(summary: dict, steps, lang: str = "") -> None:
    """The path: each step's state and first problem, a link to each notebook and to the next step; in
    ``lang`` ('': the locale's)."""
    i18n.activate(params.validate({"lang": lang})["lang"])
    states = record.step_states(summary, steps)
    next_step = record.next_step_of(states)
    firsts = {step: c.id for step, c in record.first_problems(summary).items()}
    titles = {s: i18n.translate(n.title) for s, n in BY_STEM.items()}
    note = replayed_note(summary)
    _display(
        {
            "text/plain": (note + "\n" if note else "") + path_overview.overview_text(states, next_step, firsts),
            "text/html": path_overview.overview_html(states, next_step, firsts, titles, note),
        }
    )


def replayed_note(summary: dict) -> str:
    """Which steps show a recorded host's run (their checks say ``replayed_from``), and whose; '' for none."""
    origins: dict[str, list[str]] = {}
    for step, checks in record.checks_by_step(summary).items():
        marks = {
            f"{m.get('record', '?')} ({m.get('origin', '?')})" if isinstance(m, dict) else str(m)
            for c in checks
            if (m := c.data.get("replayed_from"))
        }
        for mark in marks:
            origins.setdefault(mark, []).append(step)
    return "; ".join(
        _("Replayed from the record {record}, not run here: {steps}").format(record=mark, steps=", ".join(steps))
        for mark, steps in origins.items()
    )


def run_step(
    step, interactive: bool = False, strict: bool = False, replay: str = "", lang: str = "", **values
) -> list[CheckResult]:
    """Run a step's checks once and show them. Headless: plain output and, when ``strict``, a failed check
    raises ChecksFailed after the output is shown (so papermill and pipelines see a failing cell).
    Interactive (JupyterLab): a panel with a button that runs them again and live pull progress; nothing
    ever waits for a click, and nothing raises. With ``replay`` (a record's folder) the checks are that
    record's for this step, marked as replayed, and nothing runs here. ``lang`` is the language the
    results are written in ('' : the locale's)."""
    flags = params.validate({"interactive": interactive, "strict": strict, "replay": replay, "lang": lang})
    i18n.activate(flags["lang"])
    if flags["replay"]:
        from .record.replay import step as replayed

        step = replayed(step, flags["replay"])
    if not flags["interactive"]:
        results = step(progress=PullProgress(), **values)
        show(results)
        failed = [r.id for r in results if r.status is Status.FAIL]
        if flags["strict"] and failed:
            raise ChecksFailed(
                ngettext(
                    "{count} check failed: {ids} (strict: see the output above)",
                    "{count} checks failed: {ids} (strict: see the output above)",
                    len(failed),
                ).format(count=len(failed), ids=", ".join(failed))
            )
        return results
    from .present.panel import StepPanel

    panel = StepPanel(step, values, Checks)
    panel.show()
    return panel.results
