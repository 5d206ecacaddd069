"""The JupyterLab panel of a step: a button that runs its checks again with the parameters its widgets
show, a status line of badges, live pull progress bars, and the results' views kept up with each run.
The only module that imports ipywidgets."""

from __future__ import annotations

import html

import ipywidgets as w
from IPython.display import display

from .. import params
from ..errors import ParameterError
from ..i18n import _
from ..results import CheckResult, Status
from .checklist import COLOURS, counts_html
from .path_overview import replay_banner

# The parameters a class may change from the panel: choices, images, GPUs, what to measure. Those that change
# the host (toolkit_apply, daemon_json, engine_restart…) are set in the parameters cell or not at all.
EDITABLE = (
    "gpu_mode",
    "gpus",
    "pull",
    "cuda_image",
    "pytorch_image",
    "devel_image",
    "pull_devel",
    "measure_throughput",
)


def parameter_widget(name: str, value):
    """A dropdown for a parameter with choices, a checkbox for a flag, a text box for the rest."""
    param = params.BY_NAME[name]
    style, label = {"description_width": "initial"}, name
    choices = getattr(param.check, "choices", None)
    if choices:  # a value that is not a choice stays shown, and the run refuses it by name
        options = list(choices) + ([] if value in choices else [value])
        return w.Dropdown(options=options, value=value, description=label, style=style)
    if param.type is bool:
        return w.Checkbox(value=bool(value), description=label, indent=False)
    width = "420px" if name.endswith("_image") else "200px"
    return w.Text(value=str(value), description=label, style=style, layout=w.Layout(width=width))


class LiveResults(list):
    """The results a notebook holds from a panel: one list, refilled by each run of the panel, whose views
    (ui.show_evidence, show_torch, show_throughput) the panel draws again from each run."""

    def __init__(self, panel: StepPanel):
        super().__init__()
        self.panel = panel

    def follow(self, view) -> None:
        self.panel.follow(view)


class StepPanel:
    """A button that runs the step's checks with the values its widgets show (set from the parameters cell
    when the cell ran, changed there or here), a status line of badges, and pull progress bars. The results
    are a cell output of their own, and every view of them follows each run; the saved notebook is the
    record. A replayed step shows whose run it is instead of the widgets."""

    def __init__(self, step, values: dict, checks_output):
        self.step, self.values, self.checks_output = step, values, checks_output
        self.button = w.Button(
            description=_("Run checks"), icon="play", button_style="primary", tooltip=_("Run this step's checks again")
        )
        self.status = w.HTML(value="")
        self.progress = WidgetPullProgress()
        banner = getattr(step, "banner", "")
        try:
            typed = params.validate(values)  # "false" from a command line is False
        except ParameterError:
            typed = values  # shown as given; a run says what is wrong
        self.widgets = {} if banner else {n: parameter_widget(n, typed[n]) for n in EDITABLE if n in values}
        head = [w.HBox([self.button, self.status])]
        if banner:
            head.insert(0, w.HTML(value=replay_banner(banner)))
        if self.widgets:
            head.append(w.HBox(list(self.widgets.values()), layout=w.Layout(flex_flow="row wrap")))
        self.widget = w.VBox([*head, self.progress.widget])
        self.button.on_click(lambda _: self.run())
        self.results = LiveResults(self)
        self.views: list = []  # (display handle, view) of each view of the results shown in the notebook
        self.runs = 0
        self._handle = None

    def show(self) -> None:
        display(self.widget)
        self.run()

    def current(self) -> dict:
        """The values a run uses: the parameters cell's, with the widgets' over them."""
        return {**self.values, **{name: widget.value for name, widget in self.widgets.items()}}

    def run(self) -> list[CheckResult]:
        values = self.current()
        try:
            params.validate(values)
        except ParameterError as e:
            not_run = html.escape(_("not run: {error}").format(error=e))
            self.status.value = f'<span style="color:{COLOURS[Status.FAIL]}">{not_run}</span>'
            return self.results
        self.button.disabled = True
        self.status.value = _("running…")
        self.progress.reset()
        try:
            self.results[:] = self.step(progress=self.progress, **values)
        finally:
            self.button.disabled = False
        self.runs += 1
        chosen = ", ".join(f"{name}={values[name]}" for name in self.widgets)
        self.status.value = _("run {number}: {counts}").format(number=self.runs, counts=counts_html(self.results)) + (
            f" &nbsp; <small>{html.escape(chosen)}</small>" if chosen else ""
        )
        if self._handle is None:
            self._handle = display(self.checks_output(self.results), display_id=True)
        else:
            self._handle.update(self.checks_output(self.results))
        for handle, view in self.views:
            handle.update(view(self.results), raw=True)
        return self.results

    def follow(self, view) -> None:
        """Show ``view(results)`` (a MIME bundle) where it was asked for, and draw it again on each run
        (outside a kernel it is printed once: there is nothing to update)."""
        handle = display(view(self.results), raw=True, display_id=True)
        if handle is not None:
            self.views.append((handle, view))


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
        text = _("layers done: {done} of {layers}; {got:.1f} of {total:.1f} MB").format(
            done=len(self.done), layers=max(len(self.bars), len(self.done)), got=got / 1e6, total=total / 1e6
        )
        if status.startswith("Status:"):
            text += f" — {status[len('Status:') :].strip()}"
        self.summary.value = html.escape(text)
