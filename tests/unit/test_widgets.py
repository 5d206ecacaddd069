"""The JupyterLab panel's logic without a browser: the button runs the step again with the values its
widgets show, the badges, the results and every view of them follow, and the pull progress bars follow
real pull events. What a notebook would show is what IPython's display publishes."""

import re
import sys

import ipywidgets as w
import pytest

from runbook import record, ui
from runbook.present import panel, path_overview
from runbook.present.progress import PullProgress
from runbook.results import CheckResult, Status


class Step:
    """A step whose outcome changes between runs, as a host does while someone fixes it."""

    def __init__(self):
        self.calls = []
        self.values = []

    def __call__(self, progress=None, docker_host="", **values):
        self.calls.append((progress, docker_host))
        self.values.append(values)
        status = Status.FAIL if len(self.calls) == 1 else Status.PASS
        evidence = f"evidence of run {len(self.calls)}"
        return [CheckResult("engine.reachable", "Engine", status, f"run {len(self.calls)}", evidence=evidence)]


@pytest.fixture
def published(tmp_path, monkeypatch):
    """An IPython shell, as in a kernel, whose display publisher keeps every output and update it is given."""
    from IPython.core.displaypub import CapturingDisplayPublisher
    from IPython.core.interactiveshell import InteractiveShell
    from traitlets.config import Config

    monkeypatch.setenv("IPYTHONDIR", str(tmp_path))
    monkeypatch.setitem(sys.modules, "__main__", sys.modules["__main__"])  # the shell puts its own there
    config = Config()
    config.HistoryManager.enabled = False
    shell = InteractiveShell.instance(config=config)
    shell.display_pub = CapturingDisplayPublisher()
    yield shell.display_pub.outputs
    InteractiveShell.clear_instance()


def shown_as(outputs, display_id) -> str:
    """The text a display shows now: its last output or update."""
    texts = [o["data"].get("text/plain", "") for o in outputs if (o["transient"] or {}).get("display_id") == display_id]
    return texts[-1] if texts else ""


def test_interactive_runs_once_at_once_with_widget_progress():
    step = Step()
    results = ui.run_step(step, interactive=True, docker_host="unix:///x.sock")
    assert [r.status for r in results] == [Status.FAIL] and len(step.calls) == 1
    progress, host = step.calls[0]
    assert isinstance(progress, panel.WidgetPullProgress) and host == "unix:///x.sock"


def test_the_button_runs_the_checks_again_and_updates_the_badges():
    step = Step()
    p = panel.StepPanel(step, {"docker_host": "unix:///x.sock"}, ui.Checks)
    p.show()
    assert "run 1:" in p.status.value and ">fail<" in p.status.value
    assert p.results[0].detail == "run 1"
    p.button.click()
    assert p.runs == 2 and p.results[0].status is Status.PASS and len(step.calls) == 2
    assert "run 2:" in p.status.value and ">pass<" in p.status.value and ">fail<" not in p.status.value
    assert not p.button.disabled


def test_the_panel_offers_the_parameters_a_class_may_change():
    values = {"docker_host": "", "gpu_mode": "gpus", "cuda_image": "auto", "pull_devel": False, "toolkit_apply": False}
    p = panel.StepPanel(Step(), values, ui.Checks)
    assert sorted(p.widgets) == ["cuda_image", "gpu_mode", "pull_devel"], sorted(p.widgets)
    mode = p.widgets["gpu_mode"]
    assert isinstance(mode, w.Dropdown), type(mode)
    assert list(mode.options) == ["gpus", "runtime", "cdi", "manual"], mode.options
    assert isinstance(p.widgets["cuda_image"], w.Text), type(p.widgets["cuda_image"])
    assert isinstance(p.widgets["pull_devel"], w.Checkbox), type(p.widgets["pull_devel"])


def test_run_checks_uses_the_values_the_widgets_show():
    step = Step()
    p = panel.StepPanel(step, {"docker_host": "", "gpu_mode": "gpus", "cuda_image": "auto"}, ui.Checks)
    p.show()
    p.widgets["gpu_mode"].value = "runtime"
    p.widgets["cuda_image"].value = "127.0.0.1:5000/runbook-test/lab:1"
    p.button.click()
    expected = {"gpu_mode": "runtime", "cuda_image": "127.0.0.1:5000/runbook-test/lab:1"}
    assert step.values[-1] == expected, f"expected {expected}, got {step.values[-1]}"
    assert "gpu_mode=runtime" in p.status.value, p.status.value


def test_a_bad_value_in_a_widget_is_refused_by_name_and_nothing_runs():
    step = Step()
    p = panel.StepPanel(step, {"docker_host": "", "cuda_image": "auto"}, ui.Checks)
    p.show()
    p.widgets["cuda_image"].value = "not an image"
    p.button.click()
    assert len(step.calls) == 1, f"expected no second run, got {len(step.calls)} runs"
    assert "cuda_image" in p.status.value and "not an image reference" in p.status.value, p.status.value


@pytest.mark.parametrize(
    "name, typed, words",
    [
        ("gpus", "٠", "or a list of GPU indices"),  # another script's zero: no GPU the driver knows
        ("gpus", "00,0", "more than once"),
        ("cuda_image", "nvidia/cuda@sha256:" + "0" * 40, "not an image reference"),
    ],
)
def test_what_a_widget_is_typed_is_checked_as_the_command_line_is(name, typed, words):
    step = Step()
    p = panel.StepPanel(step, {"docker_host": "", "gpus": "all", "cuda_image": "auto"}, ui.Checks)
    p.show()
    p.widgets[name].value = typed
    p.button.click()
    assert len(step.calls) == 1, f"expected no second run, got {len(step.calls)} runs"
    assert name in p.status.value and words in p.status.value, p.status.value


def test_a_value_that_is_not_a_choice_is_shown_and_refused():
    step = Step()
    p = panel.StepPanel(step, {"docker_host": "", "gpu_mode": "gpu"}, ui.Checks)
    p.show()
    assert p.widgets["gpu_mode"].value == "gpu", p.widgets["gpu_mode"].value
    assert step.calls == [], f"expected no run, got {len(step.calls)}"
    assert "not one of" in p.status.value, p.status.value


def test_the_notebooks_results_and_every_view_of_them_follow_each_run(published):
    step = Step()
    results = ui.run_step(step, interactive=True)
    ui.show_evidence(results, "engine.reachable")
    view = next(
        o["transient"]["display_id"] for o in published if "evidence of run 1" in o["data"].get("text/plain", "")
    )
    results.panel.button.click()
    assert results[0].detail == "run 2", f"the notebook's results are still {results[0].detail!r}"
    assert shown_as(published, view) == "evidence of run 2", shown_as(published, view)


def test_a_replayed_step_shows_whose_run_it_is_and_offers_no_parameters():
    from runbook.steps import gpu_container
    from tests.utils.paths import REPO

    results = ui.run_step(gpu_container.run, interactive=True, replay=str(REPO / "records" / "h200-2026-11-28"))
    p = results.panel
    banner = p.widget.children[0].value
    assert "Replay of the record h200-2026-11-28" in banner, banner
    assert "gpu_mode=manual" in banner, banner
    assert p.widgets == {}, sorted(p.widgets)


def test_headless_prints_plain_text_and_needs_no_click(capsys):
    step = Step()
    results = ui.run_step(step, interactive=False)
    assert results[0].status is Status.FAIL and len(step.calls) == 1
    assert isinstance(step.calls[0][0], PullProgress)
    out = capsys.readouterr().out
    assert "FAIL" in out and "engine.reachable" in out and "run 1" in out and "object at 0x" not in out


def test_pull_progress_bars_follow_the_events():
    """Events as the engine sends them while pulling a two-layer image from the loopback registry."""
    p = panel.WidgetPullProgress()
    events = [
        {"status": "Pulling from runbook-test/pullme", "id": "1"},
        {"status": "Pulling fs layer", "progressDetail": {}, "id": "aaa"},
        {"status": "Pulling fs layer", "progressDetail": {}, "id": "bbb"},
        {"status": "Downloading", "progressDetail": {"current": 500, "total": 2000}, "id": "aaa"},
        {"status": "Downloading", "progressDetail": {"current": 1000, "total": 1000}, "id": "bbb"},
        {"status": "Download complete", "progressDetail": {}, "id": "bbb"},
        {"status": "Downloading", "progressDetail": {"current": 1500, "total": 2000}, "id": "aaa"},
    ]
    for e in events:
        p(e)
    assert set(p.bars) == {"aaa", "bbb"}
    assert (p.bars["aaa"].value, p.bars["aaa"].max) == (1500, 2000)
    assert p.bars["bbb"].bar_style == "success"
    assert "layers done: 1 of 2" in p.summary.value
    p({"status": "Pull complete", "progressDetail": {}, "id": "aaa"})
    p({"status": "Status: Downloaded newer image for x:1"})
    assert p.bars["aaa"].value == 2000 and "layers done: 2 of 2" in p.summary.value
    assert "Downloaded newer image" in p.summary.value
    p.reset()
    assert p.bars == {} and p.box.children == ()


STEPS = ("01-preflight", "02-container-toolkit", "03-gpu-in-container")


def ran(*worst):
    """A summary as ``record.collect`` writes it: one check per step that ran, of the status given."""
    notebooks, checks = [], []
    for stem, status in zip(STEPS, worst, strict=False):
        notebooks.append({"name": f"{stem}.ipynb", "status": "ran", "checks": 1, "worst": status})
        checks.append(CheckResult(f"{stem[3:]}.check", "A check", Status(status)).to_dict())
    return {"notebooks": notebooks, "checks": checks}


def test_the_next_step_is_the_first_that_failed_or_has_not_run():
    def next_of(summary):
        return record.next_step_of(record.step_states(summary, STEPS))

    assert next_of(ran("fail", "warn")) == "01-preflight"
    assert next_of(ran("pass", "warn")) == "03-gpu-in-container"
    assert next_of(ran("pass", "pass", "pass")) is None
    errored = {"notebooks": [{"name": "01-preflight.ipynb", "status": "error", "checks": 0}]}
    assert record.step_states(errored, STEPS)["01-preflight"] == "fail"


def overview(summary):
    states = record.step_states(summary, STEPS)
    firsts = {step: c.id for step, c in record.first_problems(summary).items()}
    return path_overview.overview_html(states, record.next_step_of(states), firsts, {s: s for s in STEPS})


def boxes(html):
    """Each step's box as drawn: its link and its text, in order."""
    found = re.findall(r'<a class="rb-step" href="([^"]+)"[^>]*>(.*?)</a>', html)
    return [(href, text.replace("<wbr>", "")) for href, text in found]  # <wbr>: where a long id may break


def test_each_box_links_to_its_notebook():
    links = [href for href, _ in boxes(overview(ran("fail", "warn")))]
    assert links == [f"{s}.ipynb" for s in STEPS], links


def test_each_box_names_its_first_failing_or_warning_check():
    texts = [text for _, text in boxes(overview(ran("fail", "warn")))]
    assert "<code>preflight.check</code>" in texts[0], texts[0]
    assert "<code>container-toolkit.check</code>" in texts[1], texts[1]
    assert "<code>" not in texts[2], texts[2]  # not run yet: nothing to name


def test_the_next_step_is_marked_and_is_a_link():
    html = overview(ran("pass", "fail"))
    marks = [m for m in re.findall(r'<div class="rb-mark">([^<]*)</div>', html)]
    assert marks == ["", "next ▼", ""], marks
    link = re.search(r'<a class="rb-next-link" href="([^"]+)"', html)
    assert link and link.group(1) == "02-container-toolkit.ipynb", html
    assert "its first failing check: <code>container-toolkit.check</code>" in html


def test_with_every_step_through_there_is_no_next_step():
    html = overview(ran("pass", "warn", "pass"))
    assert "next ▼" not in html and "rb-next-link" not in html, html


def replayed(summary, step_index):
    mark = {"record": "h200-2026-11-28", "host": "vm", "origin": "vm, 2026-11-28"}
    summary["checks"][step_index]["data"] = {"replayed_from": mark}
    return summary


def test_the_overview_says_which_steps_are_a_replay_and_of_what():
    note = ui.replayed_note(replayed(ran("pass", "fail"), 0))
    assert note == "Replayed from the record h200-2026-11-28 (vm, 2026-11-28), not run here: 01-preflight", note


def test_a_run_of_this_machine_is_not_called_a_replay():
    assert ui.replayed_note(ran("pass", "fail")) == ""


def test_the_overview_shows_the_replay_above_the_path(capsys):
    ui.show_overview(replayed(ran("pass", "fail"), 0), STEPS)
    first = capsys.readouterr().out.splitlines()[0]
    assert first.startswith("Replayed from the record h200-2026-11-28"), first


def test_the_report_shows_the_replay_above_the_verdict(capsys):
    from runbook.record import read as read_summary
    from tests.utils.paths import REPO

    summary = read_summary(REPO / "records" / "h200-2026-11-28")
    for i in range(len(summary["checks"])):
        replayed(summary, i)
    ui.show_summary(summary)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("Replayed from the record h200-2026-11-28 (vm, 2026-11-28)"), lines[0]
    assert lines[2].startswith("verdict: fail"), lines[2]


def test_overview_as_text_outside_a_notebook(capsys):
    ui.show_overview(ran("pass", "fail"), STEPS)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["01-preflight", "pass"]
    assert lines[1].split() == ["02-container-toolkit", "fail", "(container-toolkit.check)", "<-", "next"]
    assert lines[2].split() == ["03-gpu-in-container", "not", "run", "yet"]


def test_interactive_given_as_text_by_a_command_line_is_understood():
    step = Step()
    ui.run_step(step, interactive="false")
    assert isinstance(step.calls[0][0], PullProgress)
