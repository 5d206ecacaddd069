"""Results drawn as plain text, HTML and SVG, and the record's report page. Pure: strings in, strings
out; no IPython, no widgets, no files (the notebook glue is ``ui``, the JupyterLab panel ``panel``)."""

from __future__ import annotations

import datetime as dt
import html

from ..i18n import _, active
from ..results import CheckResult, Status
from . import plot
from .checklist import COLOURS, CSS, badge, html_table, labelled_badge, text
from .gpus import gpus_html
from .gpus import gpus_text as per_gpu_text
from .ladder import Rung, ladder
from .ladder import headline as ladder_headline


def ladder_text(rungs: list[Rung]) -> str:
    not_run = _("not run").upper()
    lines = [
        f"{(r.status.value.upper() if r.status else not_run):7}  {r.name}" + (f"  [{r.check.id}]" if r.check else "")
        for r in rungs
    ]
    head, rung = ladder_headline(rungs)
    if rung:
        lines.append("\n" + _("{headline}: {rung}").format(headline=head, rung=rung.name) + f"\n  {rung.check.detail}")
    else:
        lines.append(f"\n{head}")
    if rung and rung.check.cause:
        lines.append("  " + _("cause: {cause}").format(cause=rung.check.cause))
    return "\n".join(lines)


def decided_by(rung: Rung) -> str:
    if rung.check is None:
        return ""
    return f"<code>{html.escape(rung.check.id)}</code>: {html.escape(rung.check.detail)}"


def ladder_html(rungs: list[Rung]) -> str:
    not_run = _("not run")
    header = "".join(f"<th>{h}</th>" for h in (_("status"), _("rung"), _("decided by")))
    rows = "".join(
        f"<tr><td>{badge(r.status) if r.status else not_run}</td><td>{html.escape(r.name)}</td>"
        f"<td>{decided_by(r)}</td></tr>"
        for r in rungs
    )
    head, rung = ladder_headline(rungs)
    head = head[0].upper() + head[1:]
    top = (
        "<p>{}</p>".format(
            _("<b>{headline}:</b> {rung}. {why}").format(
                headline=html.escape(head),
                rung=html.escape(rung.name),
                why=html.escape(rung.check.cause or rung.check.detail),
            )
        )
        if rung
        else "<p>{}</p>".format(html.escape(_("{headline}.").format(headline=head)))
    )
    return f'{top}<table class="rb-checks"><tr>{header}</tr>{rows}</table>'


def throughput_svg(results: list[CheckResult]) -> str:
    """Bar charts of pytorch.throughput: datasheet, host and container side by side ('' when not measured)."""
    found = next((r for r in results if r.id == "pytorch.throughput" and r.data.get("container")), None)
    if found is None:
        return ""
    d = found.data
    charts = []
    for key, title, unit in (
        ("bf16_matmul_tflops", _("bf16 matmul, {gpu}").format(gpu=d.get("gpu") or "?"), "TFLOP/s"),
        ("copy_gb_per_s", _("device-to-device copy, {gpu}").format(gpu=d.get("gpu") or "?"), "GB/s"),
    ):
        charts.append(
            plot.bars(title, unit, {part: (d.get(part) or {}).get(key) for part in ("datasheet", "host", "container")})
        )
    return "<div>" + "".join(charts) + "</div>"


def beside_host(inside: list[str] | None, host: list[str] | None) -> str:
    """'True' when the container's side equals the host's (in any order), 'False' when it does not, and what
    was not seen otherwise: the word a checked cell prints, the same on every host whose containers see its GPUs."""
    if inside is None:
        return "(not seen in the container)"
    if host is None:
        return "(the host's GPUs were not seen)"
    return str(sorted(inside) == sorted(host))


def _found(results: list[CheckResult], check_id: str) -> CheckResult | None:
    return next((r for r in results if r.id == check_id), None)


def gpus_text(results: list[CheckResult]) -> str:
    """What nvidia-smi saw in the container beside the host's GPUs, as stable lines (the nvidia-smi check nbval
    compares): no model, count or UUID in them, so that one reference holds on any NVIDIA host, and a container
    that sees no GPU, or other GPUs than the host's, prints another line."""
    smi, same = _found(results, "gpu.nvidia_smi"), _found(results, "gpu.same_gpus")
    ran = smi is not None and smi.status is Status.PASS
    inside = smi.data.get("gpus") if ran else None
    host = (same.data.get("host") if same else None) if ran else None
    lines = [f"nvidia-smi ran in the container: {ran}"]
    for what, key in (("count", ""), ("names", "name"), ("UUIDs", "uuid")):
        same_side = beside_host(_column(inside, key), _column(host, key))
        lines.append(f"the container's GPUs are the host's, by {what}: {same_side}")
    return "\n".join(lines)


def _column(gpus: list[dict] | None, key: str) -> list[str] | None:
    """One field of each GPU (``key`` '': a blank per GPU, so that only the count compares)."""
    return None if gpus is None else [g.get(key, "") if key else "" for g in gpus]


def torch_text(results: list[CheckResult]) -> str:
    """What PyTorch saw in the container, as stable lines (the torch.cuda check nbval compares): torch.cuda's
    devices beside the host's GPUs rather than their names, so that one reference holds on any NVIDIA host."""
    probe = _found(results, "pytorch.import")
    if probe is None or probe.status is not Status.PASS:
        return f"(pytorch.import: {probe.status.value if probe else 'missing'}: {probe.detail if probe else ''})"
    d = probe.data
    available = _found(results, "pytorch.cuda_available")
    cuda_available = d.get("cuda_available")
    host = (available.data.get("host_gpus") if available else None) if cuda_available else None
    inside = d.get("devices", []) if cuda_available else None
    inside, host = ([{"name": n} for n in names] if names is not None else None for names in (inside, host))
    lines = [f"torch {d.get('torch')}, built for CUDA {d.get('cuda')}", f"torch.cuda.is_available(): {cuda_available}"]
    for what, key in (("count", ""), ("name", "name")):
        same_side = beside_host(_column(inside, key), _column(host, key))
        lines.append(f"torch.cuda's devices are the host's GPUs, by {what}: {same_side}")
    if d.get("matmul"):
        m = d["matmul"]
        lines.append(f"{m.get('n')}x{m.get('n')} matmul on the GPU matches the CPU: {m.get('ok')}")
    return "\n".join(lines)


VERDICT_COLOURS = {"pass": COLOURS[Status.PASS], "fail": COLOURS[Status.FAIL], "incomplete": COLOURS[Status.WARN]}


def verdict_badge(verdict: str) -> str:
    return labelled_badge(verdict, VERDICT_COLOURS.get(verdict, COLOURS[Status.FAIL]))


def summary_headline(summary: dict) -> str:
    counts = ", ".join(f"{n} {s}" for s, n in summary["counts"].items() if n)
    return _("verdict: {verdict} ({counts})").format(verdict=summary["verdict"], counts=counts or _("no checks ran"))


def verdict_line(summary: dict) -> str:
    """The verdict and why, in one line: what an operator reads first."""
    reason = summary.get("verdict_reason")
    if reason:
        return _("verdict: {verdict} — {reason}").format(verdict=summary["verdict"], reason=reason)
    return _("verdict: {verdict}").format(verdict=summary["verdict"])


def engine_line(summary: dict) -> str:
    """The engine the run talked to, as summary.json's top facts name it ('' when none answered)."""
    kind, version = summary.get("engine"), summary.get("engine_version")
    if not version:
        return ""
    name = {"docker": "Docker", "podman": "Podman"}.get(kind or "docker", kind)
    mode = "" if summary.get("rootless") is None else _("rootless") if summary["rootless"] else _("rootful")
    return _("engine: {engine} {version} (API {api}{mode})").format(
        engine=name, version=version, api=summary.get("engine_api") or "?", mode=f", {mode}" if mode else ""
    )


def headline(summary: dict) -> str:
    """What an operator reads first: the first broken rung of the GPU access ladder and what to do, or
    that the path works; then the engine it was found on."""
    results = [CheckResult.from_dict(c) for c in summary["checks"]]
    head, rung = ladder_headline(ladder(results))
    on = engine_line(summary)
    if rung is None:
        return _("{headline}.").format(headline=head[0].upper() + head[1:]) + (f"\n  {on}" if on else "") + "\n"
    lines = [
        _("{headline}: {rung}").format(headline=head[0].upper() + head[1:], rung=rung.name),
        f"  {rung.check.id}: {rung.check.detail}",
    ]
    if rung.check.remediation:
        lines.append("  " + _("fix: {fix}").format(fix=rung.check.remediation))
    if on:
        lines.append(f"  {on}")
    return "\n".join(lines) + "\n"


def summary_text(summary: dict) -> str:
    results = [CheckResult.from_dict(c) for c in summary["checks"]]
    parts = [verdict_line(summary), ladder_text(ladder(results)), per_gpu_text(results), text(results)]
    return "\n\n".join(p for p in parts if p)


def summary_html(summary: dict) -> str:
    results = [CheckResult.from_dict(c) for c in summary["checks"]]
    counts = ", ".join(f"{n} {s}" for s, n in summary["counts"].items() if n)
    verdict_label, none_ran = _("Verdict:"), _("no checks ran")
    ladder_title, checks_title = _("GPU access ladder"), _("Checks")
    head = (
        f"<p>{verdict_label} {verdict_badge(summary['verdict'])} ({html.escape(counts or none_ran)})"
        f"<br>{html.escape(summary.get('verdict_reason', ''))}</p>"
    )
    return (
        head
        + f"<h3>{ladder_title}</h3>"
        + ladder_html(ladder(results))
        + throughput_svg(results)
        + gpus_html(results, "h3")
        + f"<h3>{checks_title}</h3>"
        + html_table(results)
    )


def report_page(summary: dict) -> str:
    """The record's report.html: self-contained (no scripts, no external files), the run at a glance."""
    checks = [CheckResult.from_dict(c) for c in summary["checks"]]
    counts = " · ".join(f"{n} {s}" for s, n in summary["counts"].items() if n)
    params = "".join(
        f"<tr><td><code>{html.escape(k)}</code></td><td><code>{html.escape(repr(val))}</code></td></tr>"
        for k, val in summary.get("parameters", {}).items()
    )
    first_fail = next((c for c in checks if c.status is Status.FAIL), None)
    top = (
        _("First failure: {id}: {detail}").format(
            id=f"<code>{html.escape(first_fail.id)}</code>", detail=html.escape(first_fail.detail)
        )
        if first_fail
        else html.escape(_("Every check passed or was skipped with a reason."))
    )
    when = summary.get("finished") or dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    lang = "zh-CN" if active() == "zh_CN" else "en"
    host = f"<b>{html.escape(summary['host'])}</b>"
    finished = _("Host {host}, finished {when}, runbook {version}.").format(
        host=host, when=html.escape(when), version=html.escape(summary["runbook_version"])
    )
    title, verdict_label = _("gpu-runbook record"), _("Verdict:")
    page_title = _("gpu-runbook record: {host}").format(host=summary["host"])
    ladder_title, checks_title, params_title = _("GPU access ladder"), _("Checks"), _("Parameters")
    return f"""<!DOCTYPE html>
<html lang="{lang}"><head><meta charset="utf-8">
<title>{html.escape(page_title)}</title>
<style>body{{font-family:system-ui,sans-serif;margin:24px;max-width:1200px}}{CSS}
.rb-verdict{{font-size:20px;margin:8px 0}} .rb-params td{{padding:2px 8px}}</style></head>
<body>
<h1>{title}</h1>
<p>{finished}{" " + html.escape(engine_line(summary)) if engine_line(summary) else ""}</p>
<p class="rb-verdict">{verdict_label} {verdict_badge(summary["verdict"])} &nbsp; {html.escape(counts)}</p>
<p>{html.escape(summary.get("verdict_reason", ""))}</p>
<p>{top}</p>
<h2>{ladder_title}</h2>
{ladder_html(ladder(checks))}
{throughput_svg(checks)}
{gpus_html(checks)}
<h2>{checks_title}</h2>
{html_table(checks, with_style=False)}
<h2>{params_title}</h2><table class="rb-params">{params}</table>
</body></html>
"""
