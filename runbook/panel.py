"""The JupyterLab panel of a step: a button that runs its checks again, a status line of badges, and
live pull progress bars. The only module that imports ipywidgets."""

from __future__ import annotations

import html

import ipywidgets as w
from IPython.display import display

from .render import counts_html
from .results import CheckResult


class StepPanel:
    """A button that runs the step's checks, a status line of badges, and pull progress bars; the
    results are a cell output of their own (updated in place), so the saved notebook is the record."""

    def __init__(self, step, values: dict, checks_output):
        self.step, self.values, self.checks_output = step, values, checks_output
        self.button = w.Button(
            description="Run checks", icon="play", button_style="primary", tooltip="Run this step's checks again"
        )
        self.status = w.HTML(value="")
        self.progress = WidgetPullProgress()
        self.widget = w.VBox([w.HBox([self.button, self.status]), self.progress.widget])
        self.button.on_click(lambda _: self.run())
        self.results: list[CheckResult] = []
        self.runs = 0
        self._handle = None

    def show(self) -> None:
        display(self.widget)
        self.run()

    def run(self) -> list[CheckResult]:
        self.button.disabled = True
        self.status.value = "running…"
        self.progress.reset()
        try:
            self.results = self.step(progress=self.progress, **self.values)
        finally:
            self.button.disabled = False
        self.runs += 1
        self.status.value = f"run {self.runs}: {counts_html(self.results)}"
        if self._handle is None:
            self._handle = display(self.checks_output(self.results), display_id=True)
        else:
            self._handle.update(self.checks_output(self.results))
        return self.results


class WidgetPullProgress:
    """Live pull progress: one bar per layer (bytes) and a line with layers done and bytes so far."""

    def __init__(self):
        self.summary = w.HTML(value="")
        self.bars: dict[str, w.IntProgress] = {}
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
                bar = w.IntProgress(
                    value=0, min=0, max=detail["total"], description=layer[:12], layout=w.Layout(width="420px")
                )
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
        text = (
            f"layers done: {len(self.done)} of {max(len(self.bars), len(self.done))}; "
            f"{got / 1e6:.1f} of {total / 1e6:.1f} MB"
        )
        if status.startswith("Status:"):
            text += f" — {status[len('Status:') :].strip()}"
        self.summary.value = html.escape(text)
