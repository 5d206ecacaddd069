"""Checks drawn as plain text and HTML: a line per check, the status badges and colours, the table with
causes, fixes and the commands to copy. Pure: strings in, strings out."""

from __future__ import annotations

import html
import re

from ..i18n import N_, _, translate
from ..results import CheckResult, Status

COLOURS = {Status.PASS: "#1a7f37", Status.FAIL: "#cf222e", Status.WARN: "#9a6700", Status.SKIP: "#6e7781"}


CSS = """
table.rb-checks{border-collapse:collapse;font-family:system-ui,sans-serif;font-size:13px;width:100%!important;
  margin:4px 0!important}
.rb-checks td,.rb-checks th{border-bottom:1px solid #d0d7de;padding:4px 8px;text-align:left!important;
  vertical-align:top}
.rb-badge{color:#fff;border-radius:10px;padding:1px 8px;font-weight:600;font-size:11px;text-transform:uppercase}
.rb-checks pre{background:#f6f8fa;padding:6px;margin:4px 0;overflow-x:auto;font-size:12px;text-align:left}
.rb-checks code{font-size:12px}
.rb-checks summary{cursor:pointer;color:#0969da}
.rb-fix{margin-top:4px}
.rb-checks td:last-child{white-space:nowrap}
"""


def text(results: list[CheckResult]) -> str:
    """The results as plain lines: status, id, detail (its further lines indented); then cause and fix
    under each failure."""
    lines = []
    for r in results:
        lines.append(f"{r.status.value.upper():4}  {r.id:24} {r.detail}".replace("\n", "\n      "))
        if r.status in (Status.FAIL, Status.WARN):
            if r.cause:
                lines.append("      " + _("cause: {cause}").format(cause=r.cause))
            if r.remediation:
                lines.append("      " + _("fix:   {fix}").format(fix=r.remediation))
            if r.notebook:
                lines.append("      " + _("see:   {notebook}").format(notebook=r.notebook))
    return "\n".join(lines)


# What a badge says, in the reader's language; the status itself (``data-status``) stays as records have it.
LABELS = {
    "pass": N_("pass"),
    "warn": N_("warn"),
    "fail": N_("fail"),
    "skip": N_("skip"),
    "incomplete": N_("incomplete"),
    "broken": N_("broken"),  # a fleet's host whose run broke
    "unreachable": N_("unreachable"),  # a fleet's host not reached
}


def labelled_badge(value: str, colour: str) -> str:
    label = translate(LABELS[value]) if value in LABELS else value
    return (
        f'<span class="rb-badge" data-status="{html.escape(value)}" style="background:{colour}">'
        f"{html.escape(label)}</span>"
    )


def badge(status: Status) -> str:
    return labelled_badge(status.value, COLOURS[status])


def counts_html(results: list[CheckResult]) -> str:
    parts = [
        f"{badge(s)} {sum(1 for r in results if r.status is s)}" for s in Status if any(r.status is s for r in results)
    ]
    return " ".join(parts) or _("no checks")


COMMAND = re.compile(r"`([^`]+)`")


COMMAND_START = (
    "sudo ",
    "docker ",
    "nvidia-ctk ",
    "nvidia-smi",
    "systemctl ",
    "usermod ",
    "ldconfig ",
    "dmesg ",
    "lspci",
    "curl ",
    "apt-get ",
    "dnf ",
    "zypper ",
    "mamba ",
    "pip ",
)


def commands_in(text: str) -> list[str]:
    """The shell commands quoted in a fix (`...`), to show where they can be copied whole."""
    return [c for c in COMMAND.findall(text) if c.startswith(COMMAND_START)]


def html_table(results: list[CheckResult], with_style: bool = True) -> str:
    cause_label, fix_label, see_label = _("Cause:"), _("Fix:"), _("See:")
    copy_label, why_label, output_label = _("Commands to copy:"), _("cause and fix"), _("output")
    rows = []
    for r in results:
        body = [html.escape(r.detail)]
        if r.cause or r.remediation:
            fix = []
            if r.cause:
                fix.append(f'<div class="rb-fix"><b>{cause_label}</b> {html.escape(r.cause)}</div>')
            if r.remediation:
                fix.append(f'<div class="rb-fix"><b>{fix_label}</b> {html.escape(r.remediation)}</div>')
                cmds = commands_in(r.remediation)
                if cmds:
                    fix.append(
                        f'<div class="rb-fix">{copy_label}</div><pre class="rb-cmd">'
                        + html.escape("\n".join(cmds))
                        + "</pre>"
                    )
            if r.notebook:
                fix.append(f'<div class="rb-fix"><b>{see_label}</b> <code>{html.escape(r.notebook)}</code></div>')
            opened = " open" if r.status is Status.FAIL else ""
            body.append(f"<details{opened}><summary>{why_label}</summary>{''.join(fix)}</details>")
        if r.evidence:
            body.append(f"<details><summary>{output_label}</summary><pre>{html.escape(r.evidence)}</pre></details>")
        rows.append(
            f"<tr><td>{badge(r.status)}</td><td><code>{html.escape(r.id)}</code><br>{html.escape(r.title)}</td>"
            f"<td>{''.join(body)}</td><td>{r.duration_s:.2f} s</td></tr>"
        )
    style = f"<style>{CSS}</style>" if with_style else ""
    header = "".join(f"<th>{h}</th>" for h in (_("status"), _("check"), _("what was seen"), _("time")))
    return f'{style}<table class="rb-checks"><tr>{header}</tr>' + "".join(rows) + "</table>"
