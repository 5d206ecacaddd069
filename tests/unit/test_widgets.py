"""The JupyterLab panel's logic without a browser: the button runs the step again, the badges and the
results follow, and the pull progress bars follow real pull events."""
from runbook import ui
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
    assert isinstance(progress, ui.WidgetPullProgress) and host == "unix:///x.sock"


def test_the_button_runs_the_checks_again_and_updates_the_badges():
    step = Step()
    panel = ui.StepPanel(step, {"docker_host": "unix:///x.sock"}, takes_progress=True)
    panel.show()
    assert "run 1:" in panel.status.value and ">fail<" in panel.status.value
    assert panel.results[0].detail == "run 1"
    panel.button.click()
    assert panel.runs == 2 and panel.results[0].status is Status.PASS and len(step.calls) == 2
    assert "run 2:" in panel.status.value and ">pass<" in panel.status.value and ">fail<" not in panel.status.value
    assert not panel.button.disabled


def test_headless_prints_plain_text_and_needs_no_click(capsys):
    step = Step()
    results = ui.run_step(step, interactive=False)
    assert results[0].status is Status.FAIL and len(step.calls) == 1
    assert isinstance(step.calls[0][0], ui.PullProgress)


def test_pull_progress_bars_follow_the_events():
    """Events as the engine sends them while pulling a two-layer image from the loopback registry."""
    p = ui.WidgetPullProgress()
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


def test_overview_marks_what_ran_and_what_is_next():
    summary = {"notebooks": [
        {"name": "01-preflight.ipynb", "status": "ran", "checks": 6, "worst": "fail"},
        {"name": "02-container-toolkit.ipynb", "status": "ran", "checks": 5, "worst": "warn"},
    ]}
    steps = ("01-preflight", "02-container-toolkit", "03-gpu-in-container")
    svg = ui.overview_svg(summary, steps)
    assert svg.count("<rect") == 3 and svg.count("not run yet") == 1
    assert svg.index("next ▼") < svg.index("preflight") + 400  # the failed first step is what comes next
    done = {"notebooks": [{"name": f"{s}.ipynb", "status": "ran", "checks": 1, "worst": "pass"} for s in steps[:2]]}
    svg = ui.overview_svg(done, steps)
    assert svg.count(">pass<") == 2 and "next ▼" in svg
    assert svg.rindex("next ▼") > svg.index("container toolkit")


def test_interactive_given_as_text_by_a_command_line_is_understood():
    step = Step()
    ui.run_step(step, interactive="false")
    assert isinstance(step.calls[0][0], ui.PullProgress)
