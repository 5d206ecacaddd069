"""The JupyterLab panel's logic without a browser: the button runs the step again, the badges and the
results follow, and the pull progress bars follow real pull events."""

from runbook import panel, record, render, ui
from runbook.progress import PullProgress
from runbook.results import CheckResult, Status


class Step:
    """A step whose outcome changes between runs, as a host does while someone fixes it."""

    def __init__(self):
        self.calls = []

    def __call__(self, progress=None, docker_host=""):
        self.calls.append((progress, docker_host))
        status = Status.FAIL if len(self.calls) == 1 else Status.PASS
        return [CheckResult("engine.reachable", "Engine", status, f"run {len(self.calls)}")]


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
