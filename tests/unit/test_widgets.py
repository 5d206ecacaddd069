"""The JupyterLab panel's logic without a browser: the button runs the step again with the values its
widgets show, the badges, the results and every view of them follow, and the pull progress bars follow
real pull events. What a notebook would show is what IPython's display publishes."""

import ipywidgets as w
import pytest

from runbook import panel, record, render, ui
from runbook.progress import PullProgress
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
    from tests.helpers import REPO

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
    return {
        "notebooks": [
            {"name": f"{s}.ipynb", "status": "ran", "checks": 1, "worst": w} for s, w in zip(STEPS, worst, strict=False)
        ]
    }


def next_marker_x(svg):
    """The x of the "next" marker, and the x of each step's box centre, as drawn."""
    import re

    marker = float(re.search(r'<text x="([\d.]+)"[^>]*>next ▼', svg).group(1))
    centres = [float(x) + 66 for x in re.findall(r'<rect x="([\d.]+)"', svg)]
    return marker, centres


def test_the_next_step_is_the_first_that_failed_or_has_not_run():
    def next_of(summary):
        return record.next_step_of(record.step_states(summary, STEPS))

    assert next_of(ran("fail", "warn")) == "01-preflight"
    assert next_of(ran("pass", "warn")) == "03-gpu-in-container"
    assert next_of(ran("pass", "pass", "pass")) is None
    errored = {"notebooks": [{"name": "01-preflight.ipynb", "status": "error", "checks": 0}]}
    assert record.step_states(errored, STEPS)["01-preflight"] == "fail"


def overview_svg(summary):
    states = record.step_states(summary, STEPS)
    return render.overview_svg(states, record.next_step_of(states))


def test_overview_draws_each_step_and_marks_the_next_one():
    svg = overview_svg(ran("fail", "warn"))
    assert svg.count("<rect") == 3 and svg.count("not run yet") == 1 and svg.count("next ▼") == 1
    marker, centres = next_marker_x(svg)
    assert marker == centres[0]  # above the failed first step
    svg = overview_svg(ran("pass", "pass"))
    assert svg.count(">pass<") == 2
    marker, centres = next_marker_x(svg)
    assert marker == centres[2]  # above the step not run yet
    assert "next ▼" not in overview_svg(ran("pass", "pass", "pass"))


def test_overview_as_text_outside_a_notebook(capsys):
    ui.show_overview(ran("pass", "fail"), STEPS)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["01-preflight", "pass"]
    assert lines[1].split() == ["02-container-toolkit", "fail", "<-", "next"]
    assert lines[2].split() == ["03-gpu-in-container", "not", "run", "yet"]


def test_interactive_given_as_text_by_a_command_line_is_understood():
    step = Step()
    ui.run_step(step, interactive="false")
    assert isinstance(step.calls[0][0], PullProgress)
