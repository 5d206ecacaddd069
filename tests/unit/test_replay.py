"""A recorded host's run replayed here: the committed H200 record (records/h200-2026-11-28), read through
the same step calls the notebooks make, on a machine with no GPU."""

import json
import shutil

import pytest

from runbook import params, record, ui
from runbook.catalogue import ESSENTIAL, NOTEBOOKS
from runbook.errors import ParameterError, RunSetupError
from runbook.record import read as read_summary
from runbook.record import replay
from runbook.results import Status
from runbook.steps import gpu_container, nvcc, preflight, pytorch_container, toolkit_state
from tests.utils.paths import REPO

H200 = REPO / "records" / "h200-2026-11-28"
STEP_FUNCTIONS = {
    "01-preflight": preflight.run,
    "02-container-toolkit": toolkit_state.run,
    "03-gpu-in-container": gpu_container.run,
    "04-pytorch-in-container": pytorch_container.run,
    "05-why-no-nvcc": nvcc.run,
}


def test_every_step_function_is_known_to_the_replay():
    for n in NOTEBOOKS:
        if n.module:
            assert replay.stem_of(n.step) == n.stem, f"{n.step.__module__} is not mapped to {n.stem}"


@pytest.mark.parametrize("stem", sorted(STEP_FUNCTIONS))
def test_a_replayed_step_answers_with_the_records_checks_in_order(stem):
    recorded = record.checks_by_step(read_summary(H200))[stem]
    got = replay.step(STEP_FUNCTIONS[stem], H200)()
    assert [c.id for c in got] == [c.id for c in recorded], f"{stem}: ids differ from the record's"
    assert [c.status for c in got] == [c.status for c in recorded], f"{stem}: statuses differ from the record's"
    assert [c.evidence for c in got] == [c.evidence for c in recorded], f"{stem}: evidence differs from the record's"


def test_every_replayed_check_says_where_and_when_it_ran():
    got = replay.step(gpu_container.run, H200)()
    unmarked = [c.id for c in got if not c.detail.startswith("replayed from vm, 2026-11-28: ")]
    assert unmarked == [], f"checks whose detail does not say they are replayed: {unmarked}"
    records = {c.data["replayed_from"]["record"] for c in got}
    assert records == {"h200-2026-11-28"}, f"expected the record's name in each check's data, got {records}"


def test_the_h200_replay_observes_every_essential_check_of_steps_1_3_and_4_passing():
    for stem in ("01-preflight", "03-gpu-in-container", "04-pytorch-in-container"):
        by_id = {c.id: c for c in replay.step(STEP_FUNCTIONS[stem], H200)()}
        for check_id in ESSENTIAL[stem]:
            assert by_id[check_id].status is Status.PASS, f"{check_id}: expected pass, got {by_id[check_id].status}"


def test_run_step_with_replay_shows_the_record_and_runs_nothing_here(capsys):
    results = ui.run_step(preflight.run, interactive=False, strict=False, replay=str(H200), docker_host="")
    out = capsys.readouterr().out
    assert "NVIDIA H200" in out, f"the H200's driver check is not shown:\n{out}"
    driver = next(c for c in results if c.id == "host.driver")
    assert driver.status is Status.PASS, f"expected the record's pass, got {driver.status}: {driver.detail}"


def test_the_replay_parameter_names_a_record_folder(tmp_path):
    assert params.validate({"replay": str(H200)})["replay"] == str(H200)
    with pytest.raises(ParameterError, match="replay"):
        params.validate({"replay": str(tmp_path)})


def test_a_relative_replay_is_read_from_the_current_folder(monkeypatch):
    monkeypatch.chdir(REPO / "records")
    got = params.validate({"replay": "h200-2026-11-28"})["replay"]
    assert got == str(H200), f"expected {H200}, got {got}"


def test_a_record_that_did_not_run_the_step_says_so(tmp_path):
    summary = read_summary(H200)
    summary["checks"] = [c for c in summary["checks"] if c["id"].startswith(("host.", "engine."))]
    summary["notebooks"] = summary["notebooks"][:1]
    (tmp_path / "summary.json").write_text(json.dumps(summary))
    with pytest.raises(RunSetupError, match="did not run 03-gpu-in-container"):
        replay.step(gpu_container.run, tmp_path)()


def test_a_summary_whose_counts_do_not_add_up_is_not_a_record(tmp_path):
    shutil.copy(H200 / "summary.json", tmp_path / "summary.json")
    summary = json.loads((tmp_path / "summary.json").read_text())
    summary["checks"].pop()
    (tmp_path / "summary.json").write_text(json.dumps(summary))
    with pytest.raises(RunSetupError, match="not a record this runbook wrote"):
        replay.step(preflight.run, tmp_path)()


def test_a_headless_replay_is_never_this_machines_pass_and_asks_no_driver_or_engine(tmp_path):
    """gpu-runbook run -p replay of the H100's passing record: every step shows that host's checks, and the
    verdict is incomplete (nothing was observed here), exit 1. The driver (an nvidia-smi first on PATH that
    notes each call) and the engine (a socket that notes each connection) are never asked."""
    import os
    import socket
    import threading

    from tests.utils.cli import run_cli

    record = REPO / "records" / "h100x1-2026-12-07-toolkit"
    calls = tmp_path / "calls"
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "nvidia-smi").write_text(f'#!/bin/sh\necho nvidia-smi "$@" >> {calls}\nexit 9\n')
    (bin_dir / "nvidia-smi").chmod(0o755)
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(tmp_path / "engine.sock"))
    server.listen(8)
    server.settimeout(0.2)
    connected, stop = [], threading.Event()

    def note():
        while not stop.is_set():
            try:
                connected.append(server.accept()[0])
            except TimeoutError:
                continue

    watcher = threading.Thread(target=note, daemon=True)
    watcher.start()
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "DOCKER_HOST": f"unix://{tmp_path}/engine.sock"}
    try:
        proc = run_cli(out=tmp_path / "replayed", replay=str(record), env=env, timeout=600)
    finally:
        stop.set()
        watcher.join()
        server.close()
    assert proc.returncode == 1, proc.stdout + proc.stderr[-3000:]
    summary = json.loads((tmp_path / "replayed" / "summary.json").read_text())
    assert summary["verdict"] == "incomplete", summary["verdict_reason"]
    assert summary["verdict_reason"].startswith("replayed from "), summary["verdict_reason"]
    assert summary["verdict_reason"].endswith("nothing was observed on this machine"), summary["verdict_reason"]
    assert not calls.exists(), f"the driver was asked: {calls.read_text()}"
    assert connected == [], f"the engine was asked {len(connected)} time(s)"
