"""Showing results in a notebook: HTML for JupyterLab, plain text for papermill and terminals.

Each display also carries the results as JSON under MIME_TYPE: that output, saved in the executed
notebook, is what the record is read from.
"""
from __future__ import annotations

import html
import inspect
import re
import sys

from . import params, plot
from .ladder import first_broken, first_warning, ladder
from .results import CheckResult, Status

MIME_TYPE = "application/vnd.gpu-runbook.checks+json"
COLOURS = {Status.PASS: "#1a7f37", Status.FAIL: "#cf222e", Status.WARN: "#9a6700", Status.SKIP: "#6e7781"}

CSS = """
table.rb-checks{border-collapse:collapse;font-family:system-ui,sans-serif;font-size:13px;width:100%!important;margin:4px 0!important}
.rb-checks td,.rb-checks th{border-bottom:1px solid #d0d7de;padding:4px 8px;text-align:left!important;vertical-align:top}
.rb-badge{color:#fff;border-radius:10px;padding:1px 8px;font-weight:600;font-size:11px;text-transform:uppercase}
.rb-checks pre{background:#f6f8fa;padding:6px;margin:4px 0;overflow-x:auto;font-size:12px;text-align:left}
.rb-checks code{font-size:12px}
.rb-checks summary{cursor:pointer;color:#0969da}
.rb-fix{margin-top:4px}
.rb-checks td:last-child{white-space:nowrap}
"""


def text(results: list[CheckResult]) -> str:
    """The results as plain lines: status, id, detail; then cause and fix under each failure."""
    lines = []
    for r in results:
        lines.append(f"{r.status.value.upper():4}  {r.id:24} {r.detail}")
        if r.status in (Status.FAIL, Status.WARN):
            if r.cause:
                lines.append(f"      cause: {r.cause}")
            if r.remediation:
                lines.append(f"      fix:   {r.remediation}")
            if r.notebook:
                lines.append(f"      see:   {r.notebook}")
    return "\n".join(lines)


def badge(status: Status) -> str:
    return f'<span class="rb-badge" style="background:{COLOURS[status]}">{status.value}</span>'


COMMAND = re.compile(r"`([^`]+)`")
COMMAND_START = ("sudo ", "docker ", "nvidia-ctk ", "nvidia-smi", "systemctl ", "usermod ", "ldconfig ", "dmesg ",
                 "lspci", "curl ", "apt-get ", "dnf ", "zypper ", "mamba ", "pip ")


def commands_in(text: str) -> list[str]:
    """The shell commands quoted in a fix (`...`), to show where they can be copied whole."""
    return [c for c in COMMAND.findall(text) if c.startswith(COMMAND_START)]


def html_table(results: list[CheckResult], with_style: bool = True) -> str:
    rows = []
    for r in results:
        body = [html.escape(r.detail)]
        if r.cause or r.remediation:
            fix = []
            if r.cause:
                fix.append(f'<div class="rb-fix"><b>Cause:</b> {html.escape(r.cause)}</div>')
            if r.remediation:
                fix.append(f'<div class="rb-fix"><b>Fix:</b> {html.escape(r.remediation)}</div>')
                cmds = commands_in(r.remediation)
                if cmds:
                    fix.append('<div class="rb-fix">Commands to copy:</div><pre class="rb-cmd">'
                               + html.escape("\n".join(cmds)) + "</pre>")
            if r.notebook:
                fix.append(f'<div class="rb-fix"><b>See:</b> <code>{html.escape(r.notebook)}</code></div>')
            opened = " open" if r.status is Status.FAIL else ""
            body.append(f"<details{opened}><summary>cause and fix</summary>{''.join(fix)}</details>")
        if r.evidence:
            body.append(f"<details><summary>output</summary><pre>{html.escape(r.evidence)}</pre></details>")
        rows.append(f"<tr><td>{badge(r.status)}</td><td><code>{html.escape(r.id)}</code><br>{html.escape(r.title)}</td>"
                    f"<td>{''.join(body)}</td><td>{r.duration_s:.2f} s</td></tr>")
    style = f"<style>{CSS}</style>" if with_style else ""
    return (f'{style}<table class="rb-checks"><tr><th>status</th><th>check</th><th>what was seen</th><th>time</th></tr>'
            + "".join(rows) + "</table>")


class Checks:
    """A list of results as a notebook output: HTML in JupyterLab, text elsewhere, JSON for the record."""

    def __init__(self, results: list[CheckResult]):
        self.results = results

    def _repr_mimebundle_(self, include=None, exclude=None):
        return {"text/plain": text(self.results), "text/html": html_table(self.results),
                MIME_TYPE: {"checks": [r.to_dict() for r in self.results]}}


def _display(obj, plain: str) -> None:
    """``obj`` through IPython's display in a kernel; ``plain`` printed anywhere else (a script, a
    plain Python shell), where display would print only the object's repr."""
    try:
        from IPython import get_ipython
        from IPython.display import display
    except ImportError:
        get_ipython = None
    if get_ipython is None or get_ipython() is None:
        print(plain)
    elif isinstance(obj, dict):
        display(obj, raw=True)
    else:
        display(obj)


def show(results: list[CheckResult]) -> None:
    """Display the results: rich in a notebook, plain text outside one."""
    _display(Checks(results), text(results))


def show_evidence(results: list[CheckResult], check_id: str) -> None:
    """Print one check's raw tool output (e.g. nvidia-smi's table) as a cell output of its own."""
    for r in results:
        if r.id == check_id:
            print(r.evidence.rstrip() if r.evidence else f"({check_id}: {r.status.value}: {r.detail})")
            return
    raise KeyError(check_id)


class PullProgress:
    """Pull progress as plain text lines: one per layer when it finishes, and a total at the end."""

    def __init__(self, stream=None):
        self.stream = stream or sys.stdout
        self.layers: dict[str, int] = {}
        self.done: set[str] = set()

    def __call__(self, event: dict) -> None:
        layer, status = event.get("id"), event.get("status", "")
        detail = event.get("progressDetail") or {}
        if layer and detail.get("total"):
            self.layers[layer] = detail["total"]
        if layer and status in ("Pull complete", "Already exists") and layer not in self.done:
            self.done.add(layer)
            size = self.layers.get(layer, 0)
            print(f"  layer {layer}: {status.lower()} ({size / 1e6:.1f} MB)", file=self.stream, flush=True)
        elif status.startswith(("Digest:", "Status:")):
            print(f"  {status}", file=self.stream, flush=True)


class Summary:
    """A run's summary (record.collect) as a notebook output: verdict, counts and every check."""

    def __init__(self, summary: dict):
        self.summary = summary
        self.results = [CheckResult.from_dict(c) for c in summary["checks"]]

    def _headline(self) -> str:
        counts = ", ".join(f"{n} {s}" for s, n in self.summary["counts"].items() if n)
        return f"verdict: {self.summary['verdict']} ({counts or 'no checks ran'})"

    def _repr_mimebundle_(self, include=None, exclude=None):
        v = Status.PASS if self.summary["verdict"] == "pass" else Status.FAIL
        head = f"<p>Verdict: {badge(v)} {html.escape(self._headline().split(' ', 2)[2])}</p>"
        rungs = ladder(self.results)
        return {"text/plain": "\n\n".join([self._headline(), ladder_text(rungs), text(self.results)]),
                "text/html": head + "<h3>GPU access ladder</h3>" + ladder_html(rungs) + throughput_svg(self.results)
                + "<h3>Checks</h3>" + html_table(self.results)}


def show_summary(summary: dict) -> None:
    s = Summary(summary)
    _display(s, s._repr_mimebundle_()["text/plain"])


def ladder_text(rungs) -> str:
    lines = [f"{(r.status.value if r.status else 'not run').upper():7}  {r.name}"
             + (f"  [{r.check.id}]" if r.check else "") for r in rungs]
    headline, rung = ladder_headline(rungs)
    lines.append(f"\n{headline}" + (f": {rung.name}\n  {rung.check.detail}" if rung else ""))
    if rung and rung.check.cause:
        lines.append(f"  cause: {rung.check.cause}")
    return "\n".join(lines)


def ladder_headline(rungs):
    """What the ladder says first: the break on the run's own path, else the first alternative or
    warning that does not work, else that all is well; with the rung it is about."""
    broken = first_broken(rungs)
    if broken:
        return "first rung that does not work", broken
    warned = first_warning(rungs)
    if warned:
        return "every rung on this run's path works; the first that does not (a warning)", warned
    return "every rung that was tried works", None


def ladder_html(rungs) -> str:
    rows = "".join(
        f"<tr><td>{badge(r.status) if r.status else 'not run'}</td><td>{html.escape(r.name)}</td>"
        f"<td>{'<code>' + html.escape(r.check.id) + '</code>: ' + html.escape(r.check.detail) if r.check else ''}</td></tr>"
        for r in rungs)
    headline, rung = ladder_headline(rungs)
    headline = html.escape(headline[0].upper() + headline[1:])
    head = (f"<p><b>{headline}:</b> {html.escape(rung.name)}. {html.escape(rung.check.cause or rung.check.detail)}</p>"
            if rung else f"<p>{headline}.</p>")
    return f'{head}<table class="rb-checks"><tr><th>status</th><th>rung</th><th>decided by</th></tr>{rows}</table>'


def throughput_svg(results: list[CheckResult]) -> str:
    """Bar charts of pytorch.throughput: datasheet, host and container side by side ('' when not measured)."""
    found = next((r for r in results if r.id == "pytorch.throughput" and r.data.get("container")), None)
    if found is None:
        return ""
    d = found.data
    charts = []
    for key, title, unit in (("bf16_matmul_tflops", f"bf16 matmul, {d['gpu']}", "TFLOP/s"),
                             ("copy_gb_per_s", f"device-to-device copy, {d['gpu']}", "GB/s")):
        charts.append(plot.bars(title, unit, {part: (d.get(part) or {}).get(key)
                                              for part in ("datasheet", "host", "container")}))
    return "<div>" + "".join(charts) + "</div>"


def show_torch(results: list[CheckResult]) -> None:
    """What PyTorch saw in the container, as stable lines (the torch.cuda check nbval compares)."""
    probe = next((r for r in results if r.id == "pytorch.import"), None)
    if probe is None or probe.status is not Status.PASS:
        print(f"(pytorch.import: {probe.status.value if probe else 'missing'}: {probe.detail if probe else ''})")
        return
    d = probe.data
    print(f"torch {d['torch']}, built for CUDA {d['cuda']}")
    print(f"torch.cuda.is_available(): {d['cuda_available']}")
    print(f"torch.cuda.device_count(): {d['device_count']}")
    for i, name in enumerate(d.get("devices", [])):
        print(f"  cuda:{i} {name}")
    if "matmul" in d:
        print(f"{d['matmul']['n']}x{d['matmul']['n']} matmul on the GPU matches the CPU: {d['matmul']['ok']}")


def show_throughput(results: list[CheckResult]) -> None:
    """The throughput charts in a notebook; the check's own line where no HTML can be shown."""
    svg = throughput_svg(results)
    found = next((r for r in results if r.id == "pytorch.throughput"), None)
    line = f"pytorch.throughput: {found.status.value}: {found.detail}" if found else "pytorch.throughput: not run"
    _display({"text/plain": line, "text/html": svg or html.escape(line)}, line)


# --- JupyterLab: a panel per step (ipywidgets, imported only when a panel is made) -----------------

def run_step(step, interactive: bool = False, **values) -> list[CheckResult]:
    """Run a step's checks once and show them. Headless: plain output. Interactive (JupyterLab): a
    panel with a button that runs them again and live pull progress; nothing ever waits for a click."""
    takes_progress = "progress" in inspect.signature(step).parameters
    interactive = params.validate({"interactive": interactive})["interactive"]  # "false" from a CLI is False
    if not interactive:
        results = step(progress=PullProgress(), **values) if takes_progress else step(**values)
        show(results)
        return results
    panel = StepPanel(step, values, takes_progress)
    panel.show()
    return panel.results


def counts_html(results: list[CheckResult]) -> str:
    parts = [f"{badge(s)} {sum(1 for r in results if r.status is s)}" for s in Status
             if any(r.status is s for r in results)]
    return " ".join(parts) or "no checks"


class StepPanel:
    """A button that runs the step's checks, a status line of badges, and pull progress bars; the
    results are a cell output of their own (updated in place), so the saved notebook is the record."""

    def __init__(self, step, values: dict, takes_progress: bool = False):
        import ipywidgets as w
        self.step, self.values, self.takes_progress = step, values, takes_progress
        self.button = w.Button(description="Run checks", icon="play", button_style="primary",
                               tooltip="Run this step's checks again")
        self.status = w.HTML(value="")
        self.progress = WidgetPullProgress()
        self.widget = w.VBox([w.HBox([self.button, self.status]), self.progress.widget])
        self.button.on_click(lambda _: self.run())
        self.results: list[CheckResult] = []
        self.runs = 0
        self._handle = None

    def show(self) -> None:
        from IPython.display import display
        display(self.widget)
        self.run()

    def run(self) -> list[CheckResult]:
        from IPython.display import display
        self.button.disabled = True
        self.status.value = "running…"
        self.progress.reset()
        try:
            kwargs = dict(self.values)
            if self.takes_progress:
                kwargs["progress"] = self.progress
            self.results = self.step(**kwargs)
        finally:
            self.button.disabled = False
        self.runs += 1
        self.status.value = f"run {self.runs}: {counts_html(self.results)}"
        if self._handle is None:
            self._handle = display(Checks(self.results), display_id=True)
        else:
            self._handle.update(Checks(self.results))
        return self.results


class WidgetPullProgress:
    """Live pull progress: one bar per layer (bytes) and a line with layers done and bytes so far."""

    def __init__(self):
        import ipywidgets as w
        self._w = w
        self.summary = w.HTML(value="")
        self.bars: dict[str, "w.IntProgress"] = {}
        self.box = w.VBox([])
        self.widget = w.VBox([self.summary, self.box])
        self.done: set[str] = set()

    def reset(self) -> None:
        self.bars, self.done = {}, set()
        self.box.children = ()
        self.summary.value = ""

    def __call__(self, event: dict) -> None:
        layer, status = event.get("id"), event.get("status", "")
        detail = event.get("progressDetail") or {}
        if layer and status == "Downloading" and detail.get("total"):
            bar = self.bars.get(layer)
            if bar is None:
                bar = self._w.IntProgress(value=0, min=0, max=detail["total"], description=layer[:12],
                                          layout=self._w.Layout(width="420px"))
                self.bars[layer] = bar
                self.box.children = tuple(self.bars.values())
            bar.value = min(detail.get("current", 0), bar.max)
        if layer and status in ("Download complete", "Pull complete", "Already exists"):
            if layer in self.bars:
                self.bars[layer].value = self.bars[layer].max
                self.bars[layer].bar_style = "success"
            self.done.add(layer)
        got = sum(b.value for b in self.bars.values())
        total = sum(b.max for b in self.bars.values())
        text = f"layers done: {len(self.done)} of {max(len(self.bars), len(self.done))}; {got / 1e6:.1f} of {total / 1e6:.1f} MB"
        if status.startswith("Status:"):
            text += f" — {status[len('Status:'):].strip()}"
        self.summary.value = html.escape(text)


# --- the overview picture --------------------------------------------------------------------------

def step_states(summary: dict, steps) -> dict[str, str | None]:
    """How each step went: its worst check status, fail for a notebook that stopped on an error, None
    for a step not run yet."""
    by_name = {n["name"]: n for n in summary.get("notebooks", [])}
    states = {}
    for step in steps:
        nb = by_name.get(f"{step}.ipynb", {})
        states[step] = "fail" if nb.get("status") == "error" else (nb.get("worst") if nb.get("checks") else None)
    return states


def next_step_of(states: dict[str, str | None]) -> str | None:
    """The step to take next (``states`` from step_states, in order): the first that failed or has not
    run; None when all ran without failing."""
    return next((step for step, state in states.items() if state in (None, "fail")), None)


def overview_svg(summary: dict, steps) -> str:
    """The path as boxes and arrows: each step coloured by how it went (grey: not run yet), and the next
    step to take marked."""
    width, box_w, gap, y = 150, 132, 18, 40
    parts = []
    states = step_states(summary, steps)
    next_step = next_step_of(states)
    for i, step in enumerate(steps):
        state = states[step]
        colour = COLOURS.get(Status(state), "#d0d7de") if state else "#d0d7de"
        x = 10 + i * width
        label = step[3:].replace("-", " ")
        parts.append(f'<rect x="{x}" y="{y}" width="{box_w}" height="56" rx="8" fill="{colour}" fill-opacity="0.18" '
                     f'stroke="{colour}" stroke-width="2"/>'
                     f'<text x="{x + box_w / 2}" y="{y + 22}" text-anchor="middle" font-weight="600">{i + 1}</text>'
                     f'<text x="{x + box_w / 2}" y="{y + 42}" text-anchor="middle">{html.escape(label)}</text>'
                     f'<text x="{x + box_w / 2}" y="{y + 76}" text-anchor="middle" fill="{colour}">'
                     f'{html.escape(state or "not run yet")}</text>')
        if i < len(steps) - 1:
            ax = x + box_w
            parts.append(f'<line x1="{ax + 2}" y1="{y + 28}" x2="{ax + gap - 2}" y2="{y + 28}" stroke="#57606a" '
                         f'stroke-width="2" marker-end="url(#rb-arrow)"/>')
        if step == next_step:
            parts.append(f'<text x="{x + box_w / 2}" y="{y - 12}" text-anchor="middle" font-weight="600" '
                         f'fill="#0969da">next ▼</text>')
    total_w = 20 + len(steps) * width
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{total_w}" height="140" role="img" '
            f'aria-label="the runbook\'s steps" style="font-family:system-ui,sans-serif;font-size:12px">'
            '<defs><marker id="rb-arrow" markerWidth="8" markerHeight="8" refX="6" refY="4" orient="auto">'
            '<path d="M0,0 L8,4 L0,8 z" fill="#57606a"/></marker></defs>' + "".join(parts) + "</svg>")


def show_overview(summary: dict, steps) -> None:
    states = step_states(summary, steps)
    next_step = next_step_of(states)
    lines = [f"{step:28} {states[step] or 'not run yet'}{'   <- next' if step == next_step else ''}" for step in steps]
    _display({"text/plain": "\n".join(lines), "text/html": overview_svg(summary, steps)}, "\n".join(lines))
