"""The fleet report page: self-contained HTML (no scripts, no external files). Pure: hosts in, a string
out. One matrix, hosts by checks, one badge per cell; beside each host its outcome, the first broken
rung of its GPU access ladder and what it runs; the hosts grouped by what they share, each group under
a row that says what that is."""

from __future__ import annotations

import datetime as dt
import html
from urllib.parse import quote

from ..i18n import N_, _, active, ngettext, translate
from ..present.checklist import COLOURS, CSS, labelled_badge
from ..results import Status

OUTCOME_COLOURS = {
    "pass": COLOURS[Status.PASS],
    "fail": COLOURS[Status.FAIL],
    "incomplete": COLOURS[Status.WARN],
    "broken": "#8250df",
    "unreachable": "#24292f",
}
SHARED = (  # the labels are message ids, shown translated
    ("gpu", N_("GPU")),
    ("driver", N_("driver")),
    ("cuda", N_("CUDA")),
    ("toolkit", N_("toolkit")),
    ("engine", N_("engine")),
)
PAGE_CSS = """
body{font-family:system-ui,sans-serif;margin:24px;color:#1f2328}
.fl-verdict{font-size:20px;margin:8px 0}
table.fl-matrix{border-collapse:collapse;font-size:13px;margin:8px 0 24px}
.fl-matrix td,.fl-matrix th{border-bottom:1px solid #d0d7de;padding:4px 6px;text-align:left;vertical-align:middle}
.fl-matrix th.fl-id{vertical-align:bottom;padding:4px 1px;font-weight:500;font-size:11px}
.fl-matrix th.fl-id span{writing-mode:vertical-rl;transform:rotate(180deg);white-space:nowrap;font-family:monospace}
.fl-cell{width:18px;height:18px;border-radius:4px;color:#fff;font-size:10px;font-weight:700;text-align:center;
  line-height:18px;display:inline-block}
.fl-matrix td.fl-c{padding:2px 1px;text-align:center}
.fl-sub{color:#57606a;font-size:11px}
.fl-none{color:#8c959f}
.fl-rung{min-width:180px}
.fl-matrix td.fl-host,.fl-matrix td.fl-shared{white-space:nowrap}
.fl-why{color:#57606a;white-space:pre-wrap;font-family:monospace;font-size:12px}
h2{font-size:16px;margin:20px 0 4px}
.fl-matrix tr.fl-group th{background:#f6f8fa;font-size:14px;padding:8px 6px;border-top:2px solid #d0d7de}
"""


def outcome_badge(outcome: str) -> str:
    colour = OUTCOME_COLOURS.get(outcome, COLOURS[Status.SKIP])
    return labelled_badge(outcome, colour)


def cell(host, check_id: str) -> str:
    c = host.by_id.get(check_id)
    if c is None:
        return '<td class="fl-c"><span class="fl-none" title="{}">·</span></td>'.format(html.escape(_("not run")))
    tip = html.escape(f"{check_id}: {c.status.value}: {c.detail}", quote=True)
    return (
        f'<td class="fl-c"><span class="fl-cell" style="background:{COLOURS[c.status]}" title="{tip}">'
        f"{c.status.value[0].upper()}</span></td>"
    )


def where_it_broke(host) -> str:
    broken, failure = host.first_broken, host.first_failure
    if broken:
        cause = html.escape(broken.check.cause or broken.check.detail, quote=True)
        return f'<span title="{cause}">{html.escape(broken.name)}</span><br><code>{html.escape(broken.check.id)}</code>'
    if failure:
        first = _("first failure: {id}").format(id=f"<code>{html.escape(failure.id)}</code>")
        return '<span class="fl-none">{}</span><br>{}'.format(html.escape(_("no rung broken")), first)
    return '<span class="fl-none">{}</span>'.format(html.escape(_("none"))) if host.checks else ""


def row(host, ids: list[str]) -> str:
    """A host's row; its name links to its report as the fleet report draws it (``report_path``)."""
    name = html.escape(host.name)
    href = quote(report_path(host))
    link = f'<a href="{html.escape(href, quote=True)}">{name}</a>' if host.summary else name
    sub = []
    reported = (host.summary or {}).get("host", "")
    if reported and reported != host.name:
        sub.append(html.escape(_("hostname {name}").format(name=reported)))
    if host.groups:
        sub.append(html.escape(", ".join(host.groups)))
    head = (
        f'<td class="fl-host"><b>{link}</b>'
        + (f'<br><span class="fl-sub">{" · ".join(sub)}</span>' if sub else "")
        + "</td>"
    )
    shared = host.shared()
    columns = "".join(f'<td class="fl-shared">{html.escape(shared[key])}</td>' for key, _label in SHARED)
    if host.checks:
        matrix = "".join(cell(host, i) for i in ids)
    else:
        matrix = f'<td colspan="{max(len(ids), 1)}" class="fl-why">{html.escape(host.message or host.state)}</td>'
    return (
        f'<tr>{head}<td>{outcome_badge(host.outcome)}</td><td class="fl-rung">{where_it_broke(host)}</td>'
        f"{columns}{matrix}</tr>"
    )


def group_title(shared: dict[str, str], members: list) -> str:
    count = len(members)
    if not members[0].checks:
        return ngettext(
            "{count} host without a record (broken or unreachable)",
            "{count} hosts without a record (broken or unreachable)",
            count,
        ).format(count=count)
    what = " · ".join(f"{translate(label)} {html.escape(shared[key])}" for key, label in SHARED)
    return ngettext("{count} host: {shared}", "{count} hosts: {shared}", count).format(count=count, shared=what)


def failures(hosts: list) -> str:
    """For each host that failed: its first failure with cause and fix, folded."""
    items = []
    for h in hosts:
        f = h.first_failure
        if f is None:
            continue
        fix = "".join(
            f'<div class="rb-fix"><b>{label}:</b> {html.escape(text)}</div>'
            for label, text in ((_("Cause"), f.cause), (_("Fix"), f.remediation), (_("See"), f.notebook))
            if text
        )
        items.append(
            f"<li><details><summary><b>{html.escape(h.name)}</b>: <code>{html.escape(f.id)}</code> "
            f"{html.escape(f.detail)}</summary>{fix}</details></li>"
        )
    title = _("First failure of each host")
    return f"<h2>{title}</h2><ul>{''.join(items)}</ul>" if items else ""


def report_path(host) -> str:
    """Where a host's report is, beside the fleet page: drawn from its summary.json, never the report.html
    the host sent (a host's file is data, and a page of its own could hold scripts)."""
    return f"{REPORTS}/{host.name}.html"


REPORTS = "reports"


def page(hosts: list, summary: dict) -> str:
    """The fleet page."""
    by_name = {h.name: h for h in hosts}
    grouped = [
        (g["shared"], [by_name[n] for n in g["hosts"]]) for g in summary["groups"]
    ]  # as fleet.summary grouped them
    ids = summary["checks"]
    header = (
        "<tr>"
        + "".join(f"<th>{h}</th>" for h in (_("host"), _("outcome"), _("first broken rung")))
        + "".join(f"<th>{translate(label)}</th>" for _key, label in SHARED)
        + "".join(f'<th class="fl-id"><span>{html.escape(i)}</span></th>' for i in ids)
        + "</tr>"
    )
    width = 3 + len(SHARED) + len(ids)
    sections = "".join(
        f'<tr class="fl-group"><th colspan="{width}">{group_title(shared, members)}</th></tr>'
        + "".join(row(h, ids) for h in members)
        for shared, members in grouped
    )
    counts = " · ".join(f"{n} {html.escape(o)}" for o, n in summary["counts"].items())
    legend = " ".join(
        f'<span class="fl-cell" style="background:{COLOURS[s]}">{s.value[0].upper()}</span> {s.value}' for s in Status
    )
    when = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    lang = "zh-CN" if active() == "zh_CN" else "en"
    title = _("gpu-runbook fleet report")
    verdict = _("Fleet verdict: {verdict} &nbsp; {hosts} hosts: {counts}").format(
        verdict=outcome_badge(summary["verdict"]), hosts=summary["hosts"], counts=counts
    )
    made = _(
        "Made {when}. Checks: {legend}; hover a cell for what was seen, follow a host's name to its record."
    ).format(when=html.escape(when), legend=legend)
    return f"""<!DOCTYPE html>
<html lang="{lang}"><head><meta charset="utf-8"><title>{title}</title>
<style>{CSS}{PAGE_CSS}</style></head>
<body>
<h1>{title}</h1>
<p class="fl-verdict">{verdict}</p>
<p class="fl-sub">{made}</p>
<table class="fl-matrix">{header}{sections}</table>
{failures(hosts)}
</body></html>
"""
