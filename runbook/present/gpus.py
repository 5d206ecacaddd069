"""A row per GPU where a host has several: each GPU's state in every health check, so that one bad GPU among
good ones stands out by name beside the checks' host-wide results. Pure: results in, text or HTML out; '' for a
host with one GPU (its checks table is its row)."""

from __future__ import annotations

import html

from ..i18n import _
from ..results import CheckResult, Status
from .checklist import badge

STATES = {"ok": Status.PASS, "warn": Status.WARN, "fail": Status.FAIL, "not observed": Status.SKIP}


def rows(results: list[CheckResult]) -> tuple[list[str], list[dict]]:
    """The health checks that judged several GPUs, and a row per GPU: index, name, UUID and, per check, its
    state and what was seen."""
    judged = [r for r in results if r.id.startswith("health.") and len(r.data.get("gpus", [])) >= 2]
    driver = next((r for r in results if r.id == "host.driver"), None)
    known = {g.get("index"): g for g in (driver.data.get("gpus", []) if driver else [])}
    table: dict[int, dict] = {}
    for r in judged:
        for g in r.data["gpus"]:
            if "gpu" not in g:  # a record written before the health checks named each GPU
                continue
            facts = known.get(g["gpu"], {})
            row = table.setdefault(
                g["gpu"], {"gpu": g["gpu"], "name": facts.get("name", ""), "uuid": facts.get("uuid", ""), "checks": {}}
            )
            row["checks"][r.id] = {"state": g["state"], "seen": g["seen"]}
    return [r.id for r in judged], [table[k] for k in sorted(table)]


def gpus_text(results: list[CheckResult]) -> str:
    """One line per GPU: its worst state and the checks that were not ok."""
    _ids, table = rows(results)
    lines = []
    for row in table:
        bad = [f"{cid}: {c['state']}" for cid, c in row["checks"].items() if c["state"] in ("fail", "warn")]
        worst = next((s for s in ("fail", "warn") if any(c["state"] == s for c in row["checks"].values())), "ok")
        lines.append(f"GPU {row['gpu']} {row['name']} {row['uuid']}: {worst}" + (f" ({'; '.join(bad)})" if bad else ""))
    return "\n".join(lines)


def gpus_html(results: list[CheckResult], heading: str = "h2") -> str:
    ids, table = rows(results)
    if not table:
        return ""
    gpu_label = _("GPU")
    head = f"<th>{html.escape(gpu_label)}</th>" + "".join(f"<th><code>{html.escape(i)}</code></th>" for i in ids)
    body = []
    for row in table:
        cells = "".join(
            f'<td title="{html.escape(row["checks"][i]["seen"])}">{badge(STATES[row["checks"][i]["state"]])}</td>'
            if i in row["checks"]
            else "<td></td>"
            for i in ids
        )
        who = html.escape(f"GPU {row['gpu']} {row['name']}") + f"<br><small>{html.escape(row['uuid'])}</small>"
        body.append(f"<tr><td>{who}</td>{cells}</tr>")
    title = html.escape(_("Each GPU"))
    return f'<{heading}>{title}</{heading}><table class="rb-checks"><tr>{head}</tr>{"".join(body)}</table>'
