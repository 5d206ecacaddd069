"""What a step takes from the folder of containers started ahead (runbook.engine.ahead), and what a run
plans to start ahead, without an engine: outputs taken once, errors raised as the engine's were, anything
else in the folder ignored (the step then runs its own container), and nothing planned where a step could
change the host first."""

import json

import pytest
from docker.types import DeviceRequest

from runbook import errors, params
from runbook.engine import ahead
from runbook.steps import ahead as steps_ahead


class Client:
    """Stands in for a DockerClient: only its address is read before a container would run."""

    address = "unix:///var/run/docker.sock"


CLIENT = Client()
COMMAND = ["sh", "-c", "echo ok"]
ACTING_VALUES = {  # a value other than its default for each parameter that acts
    "toolkit_apply": True,
    "toolkit_version": "1.17.8",
    "toolkit_channel": "experimental",
    "toolkit_mirror": "http://127.0.0.1:8700",
    "set_as_default": True,
    "enable_cdi": True,
    "registry_mirrors": "https://mirror.example",
    "engine_restart": "none",
    "allow_restart_command": True,
    "add_docker_group": True,
}


@pytest.fixture
def folder(tmp_path, monkeypatch):
    f = tmp_path / "ahead"
    f.mkdir()
    monkeypatch.setenv(ahead.AHEAD_ENV, str(f))
    return f


def planned(folder, result, image="img", command=COMMAND, options=None, timeout_s=60.0) -> str:
    name = ahead.key(CLIENT.address, image, command, options, timeout_s)
    (folder / f"{name}.planned").touch()
    if result is not None:
        (folder / f"{name}.json").write_text(result if isinstance(result, str) else json.dumps(result))
    return name


def test_the_key_names_the_request_and_the_engine():
    opts = {"device_requests": [DeviceRequest(count=-1, capabilities=[["gpu"]])], "environment": {"A": "1"}}
    same = ahead.key("unix:///a", "img", COMMAND, dict(reversed(list(opts.items()))), 60)
    assert ahead.key("unix:///a", "img", COMMAND, opts, 60) == same
    assert ahead.key("unix:///a", "img", COMMAND, None, 60) == ahead.key("unix:///a", "img", COMMAND, {}, 60.0)
    others = {
        ahead.key("unix:///b", "img", COMMAND, opts, 60),
        ahead.key("unix:///a", "img2", COMMAND, opts, 60),
        ahead.key("unix:///a", "img", ["sh", "-c", "echo no"], opts, 60),
        ahead.key("unix:///a", "img", COMMAND, {**opts, "environment": {"A": "2"}}, 60),
        ahead.key("unix:///a", "img", COMMAND, opts, 61),
    }
    assert same not in others and len(others) == 5


def test_outside_a_run_nothing_is_taken(tmp_path, monkeypatch):
    monkeypatch.delenv(ahead.AHEAD_ENV, raising=False)
    assert ahead.take(CLIENT, "img", COMMAND, 60, None) is None


def test_an_output_is_taken_once(folder):
    planned(folder, {"exit_code": 3, "output": "ok\n", "duration_s": 0.25})
    out = ahead.take(CLIENT, "img", COMMAND, 60, None)
    assert (out.exit_code, out.output, out.duration_s) == (3, "ok\n", 0.25)
    assert ahead.take(CLIENT, "img", COMMAND, 60, None) is None


def test_another_request_takes_nothing(folder):
    planned(folder, {"exit_code": 0, "output": "ok\n", "duration_s": 0.25})
    assert ahead.take(CLIENT, "img", COMMAND, 61, None) is None
    assert ahead.take(CLIENT, "img", COMMAND, 60, {"runtime": "nvidia"}) is None
    assert ahead.take(CLIENT, "img", COMMAND, 60, None) is not None


def test_an_error_comes_back_as_the_engine_raised_it(folder):
    timeout = errors.ContainerTimeout(
        "sleep 30 in img ran past 1 s and was killed", cause="hung", remediation="raise it", output="partial"
    )
    planned(folder, {"error": ahead.error_fields(timeout)})
    back = ahead.take(CLIENT, "img", COMMAND, 60, None)
    assert type(back) is errors.ContainerTimeout
    assert (str(back), back.cause, back.remediation, back.output) == (str(timeout), "hung", "raise it", "partial")
    with pytest.raises(errors.ContainerTimeout):
        planned(folder, {"error": ahead.error_fields(timeout)}, image="img2")
        ahead.run(CLIENT, "img2", COMMAND, timeout_s=60)


@pytest.mark.parametrize(
    "left",
    [
        "not json",
        {"exit_code": "three", "output": "", "duration_s": 0},
        {"output": "no exit code"},
        {"error": None},  # an error that was not the runbook's own
        {"error": {"type": "SystemExit", "message": "a class containers.run never raises"}},
        {"error": "text"},
        [],
    ],
)
def test_anything_else_in_the_folder_is_not_taken(folder, left):
    planned(folder, left)
    assert ahead.take(CLIENT, "img", COMMAND, 60, None) is None


def test_a_step_waits_for_the_plan_then_for_the_output(folder, monkeypatch):
    """The step asks while the runner still plans: it waits for the plan, finds nothing planned, and runs."""
    (folder / ahead.PLANNING).touch()
    monkeypatch.setattr(ahead, "PLANNING_S", 0.3)
    assert ahead.take(CLIENT, "img", COMMAND, 60, None) is None
    (folder / ahead.PLANNING).unlink()
    name = planned(folder, None)  # planned, its container not ended yet: the step waits for it
    monkeypatch.setattr(ahead.time, "monotonic", iter([0, 0, 0, 1e9]).__next__)
    monkeypatch.setattr(ahead.time, "sleep", lambda s: None)
    assert ahead.take(CLIENT, "img", COMMAND, 60, None) is None  # past its deadline: not taken
    assert (folder / f"{name}.taken").exists()


def test_an_output_that_could_not_be_written_ends_the_wait(folder):
    name = planned(folder, None)
    (folder / f"{name}.lost").touch()  # what the runner leaves when the disk is full
    assert ahead.take(CLIENT, "img", COMMAND, 3600, None) is None


def test_a_plan_that_fails_starts_nothing_and_ends_the_wait(tmp_path):
    def broken():
        raise RuntimeError("the engine went away")

    a = ahead.Ahead(tmp_path / "ahead", "run")
    assert (a.folder / ahead.PLANNING).exists()
    assert a.plan(broken) == 0
    assert not (a.folder / ahead.PLANNING).exists()
    a.close()
    assert a.counts() == {"started": 0, "taken": 0}


ALL = ["01-preflight", "02-container-toolkit", "03-gpu-in-container", "04-pytorch-in-container", "06-report"]


@pytest.mark.parametrize(
    "values",
    [
        {"replay": "records/h200-2026-11-29-toolkit"},
        {"pull": "always"},  # the step pulls first: the image may change
    ]
    + [{name: value} for name, value in ACTING_VALUES.items()],  # step 2 may install the toolkit, restart the engine
)
def test_nothing_is_planned_where_a_step_could_change_what_runs(values):
    assert steps_ahead.planned(values, ALL) == (None, [])


def test_nothing_is_planned_for_the_steps_that_do_not_run():
    assert steps_ahead.planned({}, ["01-preflight", "05-why-no-nvcc", "06-report"]) == (None, [])


def test_every_parameter_that_acts_holds_the_plan_back():
    """A new parameter that changes the host holds it back too: the rule reads params.ACTING."""
    assert set(ACTING_VALUES) == set(params.ACTING)
