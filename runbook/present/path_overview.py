"""The path at a glance, for JupyterLab's overview notebook: each step's state, its first problem, the
next step, and the banner of a replay. Pure: strings in, strings out."""

from __future__ import annotations

import html

from ..i18n import _, translate
from ..results import Status
from .checklist import COLOURS, LABELS


def overview_text(states: dict[str, str | None], next_step: str | None, firsts: dict[str, str] | None = None) -> str:
    """A line per step: its state, its first failing (or warning) check, and the next step marked."""
    firsts = firsts or {}
    not_yet, next_mark = _("not run yet"), _("<- next")
    return "\n".join(
        f"{step:28} {states[step] or not_yet}"
        + (f" ({firsts[step]})" if step in firsts else "")
        + ("   " + next_mark if step == next_step else "")
        for step in states
    )


def replay_banner(text: str) -> str:
    """A note that what follows is a recorded host's run, replayed: yellow, above it, hard to miss."""
    style = (
        "background:#fff8c5;border:1px solid #d4a72c;border-radius:6px;padding:6px 10px;margin:2px 0 6px;"
        "font-family:system-ui,sans-serif;font-size:13px"
    )
    return f'<div class="rb-replay" style="{style}">{html.escape(text)}</div>'


OVERVIEW_CSS = """
.rb-path{display:flex;align-items:stretch;font-family:system-ui,sans-serif;font-size:12px;margin:4px 0}
.rb-path>div{display:flex;flex-direction:column}
.rb-path .rb-mark{height:18px;color:#0969da;font-weight:600;text-align:center}
.rb-path a.rb-step{display:block;flex:1;width:136px;min-height:96px;border:2px solid;border-radius:8px;padding:6px 2px;
  text-align:center;text-decoration:none;color:inherit;box-sizing:border-box}
.rb-path a.rb-step:hover{box-shadow:0 0 0 2px #0969da55}
.rb-path .rb-state{font-weight:600}
.rb-path code{font-size:10.5px;padding:0 2px}
.rb-path .rb-arrow{color:#57606a;font-size:18px;padding:52px 3px 0}
.rb-next{font-family:system-ui,sans-serif;font-size:13px;margin:6px 0}
"""


def overview_html(
    states: dict[str, str | None],
    next_step: str | None,
    firsts: dict[str, str],
    titles: dict[str, str],
    replayed: str = "",
) -> str:
    """The path as a row of boxes, each a link to its step's notebook: coloured by how the step went (grey:
    not run yet), naming its first failing (or warning) check; the next step is marked and linked below.
    ``replayed`` says, above it all, which steps show a recorded host's run rather than this machine's."""
    not_yet = _("not run yet")
    boxes = []
    for i, step in enumerate(states):
        state = states[step]
        colour = COLOURS[Status(state)] if state else "#8c959f"
        first = f"<br><code>{html.escape(firsts[step]).replace('.', '.<wbr>')}</code>" if step in firsts else ""
        mark = _("next ▼") if step == next_step else ""
        tip = _("open {notebook}").format(notebook=f"{step}.ipynb")
        boxes.append(
            f'<div><div class="rb-mark">{mark}</div>'
            f'<a class="rb-step" href="{html.escape(step)}.ipynb" '
            f'title="{html.escape(tip)}" '
            f'style="border-color:{colour};background:{colour}22">'
            f"<b>{i + 1}</b><br>{html.escape(titles.get(step, step[3:].replace('-', ' ')))}<br>"
            f'<span class="rb-state" data-status="{html.escape(state or "")}" style="color:{colour}">'
            f"{html.escape(translate(LABELS[state]) if state in LABELS else state or not_yet)}</span>{first}</a>"
            "</div>"
        )
    arrow = '<div class="rb-arrow">→</div>'
    if next_step:
        state = states[next_step]
        why = (
            _("its first failing check: {id}").format(id=f"<code>{html.escape(firsts[next_step])}</code>")
            if next_step in firsts
            else ""
        )
        link = f'<a class="rb-next-link" href="{html.escape(next_step)}.ipynb">{html.escape(next_step)}.ipynb</a>'
        below = '<p class="rb-next">{}</p>'.format(
            _("Next: {link}, {title} ({why})").format(
                link=link,
                title=html.escape(titles.get(next_step, next_step)),
                why=why or html.escape(state or _("not run yet")),
            )
        )
    else:
        below = '<p class="rb-next">{}</p>'.format(_("Every step ran without a failure."))
    banner = replay_banner(replayed) if replayed else ""
    steps_label = _("the runbook's steps")
    return (
        f'<style>{OVERVIEW_CSS}</style><nav aria-label="{html.escape(steps_label)}">{banner}'
        f'<div class="rb-path">{arrow.join(boxes)}</div>{below}</nav>'
    )
