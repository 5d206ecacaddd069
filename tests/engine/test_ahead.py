"""Containers started ahead (runbook.engine.ahead) on the real engine: a step's request takes the output of
the same container, which ran once; an error comes back without a second run; a measuring container starts
once the others have ended; close removes what no step took; and a headless run gives the same checks with
its containers started ahead as with each step starting its own, the containers started before the step."""

import datetime as dt
import json
import re
import time

import pytest

from runbook import engine, runner
from runbook.engine import ahead
from runbook.errors import ContainerTimeout, ImageUnavailable
from runbook.steps import ahead as steps_ahead
from tests.utils.engine import TEST_IMAGE


@pytest.fixture
def started(tmp_path, monkeypatch):
    a = ahead.Ahead(tmp_path / "ahead", engine.run_id())
    monkeypatch.setenv(ahead.AHEAD_ENV, str(a.folder))
    yield a
    a.close()


def creates(client, since: float, label: str = "") -> list[dict]:
    """The engine's create events of runbook containers since ``since``: by default this session's (a run's
    own carry its run's id)."""
    label = label or f"{engine.LABEL}.run={engine.run_id()}"
    events = client.events(
        since=int(since) - 1,
        until=int(time.time()) + 1,
        decode=True,
        filters={"type": "container", "event": "create", "label": label},
    )
    return [e for e in events if e["timeNano"] >= since * 1e9]


def test_a_request_takes_the_output_of_the_container_started_ahead_once(client, started, no_leftovers):
    command = ["sh", "-c", "echo started $(cat /proc/sys/kernel/random/uuid)"]
    since = time.time()
    assert started.plan(lambda: (client, [ahead.Planned(TEST_IMAGE, command, {}, 60)])) == 1
    first = ahead.run(client, TEST_IMAGE, command, timeout_s=60)
    second = ahead.run(client, TEST_IMAGE, command, timeout_s=60)
    assert first.exit_code == 0 and first.output.startswith("started ")
    assert second.output.startswith("started ") and second.output != first.output  # a container of its own
    assert len(creates(client, since)) == 2
    started.close()
    assert started.counts() == {"started": 1, "taken": 1}


def test_another_request_runs_its_own_and_the_untaken_one_is_removed_at_close(client, started, no_leftovers):
    since = time.time()
    started.plan(lambda: (client, [ahead.Planned(TEST_IMAGE, ["sleep", "600"], {}, 900)]))
    with pytest.raises(ContainerTimeout):  # another timeout, another request: a container of its own
        ahead.run(client, TEST_IMAGE, ["sleep", "600"], timeout_s=1)
    t0 = time.monotonic()
    started.close()
    assert time.monotonic() - t0 < 30, "removed, not waited for"
    assert started.counts() == {"started": 1, "taken": 0}
    assert len(creates(client, since)) == 2


def test_errors_come_back_as_raised_without_a_second_container(client, started, no_leftovers):
    since = time.time()
    plans = [
        ahead.Planned("runbook-test/absent:none", ["true"], {}, 60),
        ahead.Planned(TEST_IMAGE, ["sleep", "30"], {}, 1),
    ]
    assert started.plan(lambda: (client, plans)) == 2
    with pytest.raises(ImageUnavailable) as missing:
        ahead.run(client, "runbook-test/absent:none", ["true"], timeout_s=60)
    with pytest.raises(ImageUnavailable) as direct:
        engine.run(client, "runbook-test/absent:none", ["true"], timeout_s=60)
    assert (str(missing.value), missing.value.cause) == (str(direct.value), direct.value.cause)
    with pytest.raises(ContainerTimeout) as hung:
        ahead.run(client, TEST_IMAGE, ["sleep", "30"], timeout_s=1)
    assert "ran past 1 s" in str(hung.value)
    assert len(creates(client, since)) == 1  # the sleeping one, once: the step did not run it again


def test_a_measuring_container_starts_once_the_others_have_ended(client, started, no_leftovers):
    others = [ahead.Planned(TEST_IMAGE, ["sh", "-c", f"sleep 1; date +%s.%N # {i}"], {}, 60) for i in range(2)]
    measuring = ahead.Planned(TEST_IMAGE, ["date", "+%s.%N"], {}, 60, measures=True)
    assert started.plan(lambda: (client, [measuring, *others])) == 3
    ended = [float(ahead.run(client, p.image, p.command, timeout_s=60).output) for p in others]
    began = float(ahead.run(client, measuring.image, measuring.command, timeout_s=60).output)
    assert began >= max(ended)


def step_cell_started(notebook) -> float:
    """When the cell that runs the step (ui.run_step) began, as the kernel recorded it."""
    cell = next(c for c in json.loads(notebook.read_text())["cells"] if "run_step" in "".join(c["source"]))
    busy = cell["metadata"]["execution"]["iopub.status.busy"].replace("Z", "+00:00")
    return dt.datetime.fromisoformat(busy).timestamp()


def without_times(text: str) -> str:
    return re.sub(r"\d+(\.\d+)? s\b", "N s", text)


def test_a_run_with_its_containers_started_ahead_records_what_each_step_alone_does(client, tmp_path, no_leftovers):
    values = {"cuda_image": TEST_IMAGE, "pytorch_image": TEST_IMAGE, "pull": "never", "timeout_s": 60}
    seen = {}
    for on in (True, False):
        since = time.time()
        summary, out = runner.run(tmp_path / str(on), values, only=["3", "4"], log=lambda m: None, start_ahead=on)
        made = [e["timeNano"] / 1e9 for e in creates(client, since, engine.LABEL)]
        seen[on] = summary, made, step_cell_started(out / "03-gpu-in-container.ipynb")
    (with_ahead, made, cell), (alone, made_alone, cell_alone) = seen[True], seen[False]
    shown = [(c["id"], c["status"], without_times(c["detail"]), c.get("evidence", "")) for c in with_ahead["checks"]]
    assert shown == [(c["id"], c["status"], without_times(c["detail"]), c.get("evidence", "")) for c in alone["checks"]]
    assert len(made) == len(made_alone) >= 3  # no container twice: the steps took every one started ahead
    # (a request the engine refuses, such as runtime=nvidia here, is started ahead and creates no container)
    assert with_ahead["ahead"]["started"] == with_ahead["ahead"]["taken"] >= len(made)
    assert all(t < cell for t in made), "started ahead: before the step's cell began"
    assert "ahead" not in alone and all(t > cell_alone for t in made_alone)


def test_a_run_that_does_not_configure_the_host_starts_ahead_with_parameters_that_act(client):
    """registry_mirrors acts only through step 2: a run of steps 3 and 4 with it set still plans."""
    values = {"cuda_image": TEST_IMAGE, "pytorch_image": TEST_IMAGE, "registry_mirrors": "https://mirror.example"}
    who, plans = steps_ahead.planned(values, ["03-gpu-in-container", "04-pytorch-in-container"])
    assert who is not None and {p.image for p in plans} == {TEST_IMAGE}
    assert ["sh", "-c", "echo ok"] in [p.command for p in plans]
    assert steps_ahead.planned(values, ["02-container-toolkit", "03-gpu-in-container"]) == (None, [])
