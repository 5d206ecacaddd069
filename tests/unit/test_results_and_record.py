import json

import nbformat
from nbformat.v4 import new_code_cell, new_notebook, new_output

from runbook import record, ui
from runbook.errors import EngineUnreachable
from runbook.present import checklist
from runbook.present import report as render
from runbook.results import BLOCKED, CHOSEN, CheckResult, Passed, Status, chosen, run_check, skip, verdict


def test_run_check_statuses():
    assert run_check("a", "A", lambda: Passed("seen")).status is Status.PASS

    def skipper():
        raise skip("no engine")

    r = run_check("b", "B", skipper)
    assert (r.status, r.detail) == (Status.SKIP, "no engine")

    def engine_down():
        raise EngineUnreachable("no engine at x", cause="c", remediation="r", notebook="01-preflight.ipynb")

    r = run_check("c", "C", engine_down)
    assert (r.status, r.cause, r.remediation, r.notebook) == (Status.FAIL, "c", "r", "01-preflight.ipynb")
    assert r.duration_s >= 0


def test_a_bug_is_not_a_diagnosis():
    def broken():
        return {}["missing"]

    try:
        run_check("d", "D", broken)
    except KeyError:
        pass
    else:
        raise AssertionError("a programming error must not become a check result")


def r(check_id, status, detail="", skip_kind=""):
    return CheckResult(check_id, check_id, status, detail, skip_kind=skip_kind)


ESSENTIAL = {"01-preflight": ("host.driver", "engine.reachable"), "03-gpu-in-container": ("gpu.nvidia_smi",)}


def test_a_failed_check_fails_the_run():
    value, reason = verdict({"01-preflight": [r("host.driver", Status.FAIL)]}, ESSENTIAL)
    assert value == "fail"
    assert "host.driver" in reason


def test_every_essential_check_observed_passing_is_a_pass():
    by_step = {
        "01-preflight": [
            r("host.driver", Status.PASS),
            r("engine.reachable", Status.WARN),
            r("host.disk", Status.SKIP, skip_kind=CHOSEN),
        ]
    }
    assert verdict(by_step, ESSENTIAL)[0] == "pass"


def test_a_blocked_essential_check_is_incomplete_never_pass():
    by_step = {
        "01-preflight": [r("host.driver", Status.PASS), r("engine.reachable", Status.PASS)],
        "03-gpu-in-container": [
            r("cuda.image", Status.SKIP, "no image known for driver 470"),
            r("gpu.nvidia_smi", Status.SKIP, "no image"),
        ],
    }
    value, reason = verdict(by_step, ESSENTIAL)
    assert value == "incomplete"
    assert "gpu.nvidia_smi (skip: no image)" in reason


def test_a_run_with_no_check_is_incomplete():
    assert verdict({}, ESSENTIAL) == ("incomplete", "no check ran")
    assert verdict({"06-report": []}, ESSENTIAL)[0] == "incomplete"


def test_a_step_that_observed_nothing_is_incomplete():
    value, reason = verdict({"05-why-no-nvcc": [r("nvcc.cuda_image", Status.SKIP, "no engine")]}, ESSENTIAL)
    assert value == "incomplete"
    assert "05-why-no-nvcc" in reason


def replayed(check: CheckResult, mark=None) -> CheckResult:
    mark = {"record": "h", "origin": "gpu-a, 2026-12-07"} if mark is None else mark
    check.data = {"replayed_from": mark}
    return check


def test_checks_replayed_from_a_record_are_never_this_machines_pass():
    by_step = {"01-preflight": [replayed(r("host.driver", Status.PASS)), replayed(r("engine.reachable", Status.PASS))]}
    assert verdict(by_step, ESSENTIAL) == (
        "incomplete",
        "replayed from gpu-a, 2026-12-07: nothing was observed on this machine",
    )
    # a record's failure is that host's; whatever mark a check carries, it is a replay
    for mark in ({}, 0, "", "gpu-b", {"origin": ["x"]}):
        by_step = {"01-preflight": [replayed(r("host.driver", Status.FAIL), mark)]}
        assert verdict(by_step, ESSENTIAL)[0] == "incomplete", mark


def test_a_failure_here_during_a_replay_is_a_fail():
    """A notebook that stopped here while it replayed a record: observed on this machine, so it is said."""
    by_step = {
        "01-preflight": [replayed(r("host.driver", Status.PASS))],
        "02-container-toolkit": [r("notebook.02-container-toolkit", Status.FAIL)],
    }
    assert verdict(by_step, ESSENTIAL) == ("fail", "1 check failed: notebook.02-container-toolkit")


def test_skips_are_blocked_unless_chosen():
    assert r("x", Status.SKIP).skip_kind == BLOCKED
    assert run_check("x", "X", lambda: (_ for _ in ()).throw(chosen("asked"))).skip_kind == CHOSEN
    assert run_check("x", "X", lambda: (_ for _ in ()).throw(skip("no engine"))).skip_kind == BLOCKED
    assert r("x", Status.PASS).skip_kind == ""


def test_round_trip():
    r = CheckResult("x.y", "T", Status.WARN, "d", "c", "r", "n.ipynb", "ev", 1.23456, {"k": 1})
    assert CheckResult.from_dict(json.loads(json.dumps(r.to_dict()))) == CheckResult(
        "x.y", "T", Status.WARN, "d", "c", "r", "n.ipynb", "ev", 1.235, {"k": 1}
    )


def _executed(path, results, error=None):
    cell = new_code_cell("...")
    cell.outputs = [new_output("display_data", data=ui.Checks(results)._repr_mimebundle_())]
    if error:
        cell.outputs.append(new_output("error", ename=error[0], evalue=error[1], traceback=[]))
    nbformat.write(new_notebook(cells=[cell]), str(path))


def test_collect_reads_checks_and_errors_back_from_notebooks(tmp_path):
    _executed(tmp_path / "01-preflight.ipynb", [CheckResult("host.os", "OS", Status.PASS, "Ubuntu")])
    _executed(
        tmp_path / "03-gpu-in-container.ipynb",
        [CheckResult("cuda.image", "img", Status.SKIP, "no driver")],
        error=("NameError", "name 'x' is not defined"),
    )
    summary = record.collect(tmp_path)
    ids = [c["id"] for c in summary["checks"]]
    assert ids == ["host.os", "cuda.image", "notebook.03-gpu-in-container"]
    assert summary["verdict"] == "fail"
    assert summary["notebooks"][1]["error"] == "NameError: name 'x' is not defined"
    assert summary["counts"] == {"pass": 1, "fail": 1, "warn": 0, "skip": 1}


def test_report_html_is_self_contained_and_escapes(tmp_path):
    _executed(
        tmp_path / "01-preflight.ipynb",
        [CheckResult("host.driver", "Driver", Status.FAIL, "<script>alert(1)</script>", remediation="fix it")],
    )
    summary = record.collect(tmp_path)
    record.write(tmp_path, summary, render.report_page(summary))
    page = (tmp_path / "report.html").read_text()
    assert "<script>alert" not in page and "&lt;script&gt;" in page
    assert "http://" not in page and "https://" not in page  # nothing fetched when opened
    assert json.loads((tmp_path / "summary.json").read_text())["verdict"] == "fail"


def test_text_rendering_shows_cause_and_fix_of_failures():
    out = checklist.text(
        [
            CheckResult("engine.reachable", "E", Status.FAIL, "no engine", "not running", "start it", "01.ipynb"),
            CheckResult("host.os", "OS", Status.PASS, "Ubuntu", cause="ignored for a pass"),
        ]
    )
    assert "FAIL  engine.reachable" in out and "cause: not running" in out and "fix:   start it" in out
    assert "ignored for a pass" not in out


def test_fixes_fold_under_each_check_with_their_commands_to_copy():
    r = CheckResult(
        "toolkit.installed",
        "T",
        Status.FAIL,
        "nvidia-ctk not found",
        cause="no toolkit",
        remediation="Run `sudo nvidia-ctk runtime configure --runtime=docker`, then `sudo systemctl "
        "restart docker`; see `toolkit.plan`.",
    )
    page = checklist.html_table([r])
    assert "<details open><summary>cause and fix</summary>" in page
    assert (
        '<pre class="rb-cmd">sudo nvidia-ctk runtime configure --runtime=docker\nsudo systemctl restart docker</pre>'
        in page
    )
    assert checklist.commands_in(r.remediation) == [
        "sudo nvidia-ctk runtime configure --runtime=docker",
        "sudo systemctl restart docker",
    ]


def test_kernels_import_the_runners_own_package(monkeypatch):
    """The kernels start in notebooks/; PYTHONPATH leads them to this package, ahead of anything else,
    and keeps what the user had."""
    from pathlib import Path

    import runbook
    from runbook import runner

    monkeypatch.setenv("PYTHONPATH", "/opt/user-lib")
    here = str(Path(runbook.__file__).resolve().parent.parent)
    assert runner.kernel_pythonpath().split(":") == [here, "/opt/user-lib"]
    monkeypatch.setenv("PYTHONPATH", here)
    assert runner.kernel_pythonpath() == here
