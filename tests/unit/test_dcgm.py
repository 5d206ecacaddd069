"""DCGM's quick diagnostic read from ``dcgmi diag -j``. The one public capture of DCGM 4.x JSON found is a test
object quoted in NVIDIA/DCGM issue #215 (tests/fixtures/health/, verbatim); the document around it, and the
DCGM 3.x documents, are built here from the field names DCGM's own JSON writer uses (dcgmi/Diag.cpp and
nvvs/include/NvvsJsonStrings.h, tests/fixtures/README.md names the commits): they are not captures."""

import copy
import json
import os
import stat
from pathlib import Path

import pytest

from runbook.host import events
from runbook.results import Status, run_check

FIXTURES = Path(__file__).parent.parent / "fixtures" / "health"
ISSUE_215 = json.loads(
    (FIXTURES / "dcgmi-diag-r4-dcgm4-issue215-fragment.txt").read_text().rstrip().rstrip(",")
)  # the quote ends inside its array: one test object and the comma after it


def dcgm4(*tests: dict) -> dict:
    """A DCGM 4.x document (``DCGM Diagnostic`` > ``test_categories`` > ``tests``) holding the given tests."""
    return {
        "DCGM Diagnostic": {"test_categories": [{"category": "Hardware", "tests": list(tests)}]},
        "metadata": {"version": "4.1.1"},
    }


def dcgm3_level1(deployment_status: dict[str, str], per_gpu: dict[str, list[dict]] | None = None) -> dict:
    """A DCGM 3.x document: the Deployment tests with one result for all GPUs (no ``gpu_ids``), other tests
    with one result per GPU, ``gpu_ids`` a string, a warning a plain string (dcgmi/Diag.cpp of DCGM 3.2)."""
    categories = [
        {
            "category": "Deployment",
            "tests": [{"name": n, "results": [{"status": s}]} for n, s in deployment_status.items()],
        }
    ]
    if per_gpu:
        categories.append({"category": "Integration", "tests": [{"name": n, "results": r} for n, r in per_gpu.items()]})
    return {"DCGM GPU Diagnostic": {"test_categories": categories, "version": "3.2.6"}}


def parse(doc: dict) -> list[tuple[str, str, str]]:
    return [(r["test"], r["gpu"], r["status"]) for r in events._dcgm_results(doc)]


def run_dcgm(monkeypatch, tmp_path, stdout: str, code: int = 0):
    """events.dcgm() against a stand-in ``dcgmi`` on PATH (DCGM needs NVIDIA GPUs and cannot be installed
    here): a script that prints ``stdout`` and exits ``code``, and records its arguments."""
    (tmp_path / "out.json").write_text(stdout)
    exe = tmp_path / "dcgmi"
    exe.write_text(f'#!/bin/sh\necho "$@" > "{tmp_path}/args"\ncat "{tmp_path}/out.json"\nexit {code}\n')
    exe.chmod(exe.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    r = run_check("health.dcgm", "t", events.dcgm)
    assert (tmp_path / "args").read_text().split() == ["diag", "-r", "1", "-j"]
    return r


def test_the_issue_215_capture_gives_the_diagnostic_test_on_each_of_eight_gpus():
    assert parse(dcgm4(ISSUE_215)) == [("diagnostic", f"GPU {i}", "pass") for i in range(8)]


def test_the_issue_215_capture_passes_end_to_end_with_each_gpu_in_the_evidence(monkeypatch, tmp_path):
    r = run_dcgm(monkeypatch, tmp_path, json.dumps(dcgm4(ISSUE_215)))
    assert r.status is Status.PASS, r
    assert "8 results passed" in r.detail
    assert "diagnostic (GPU 7): Pass" in r.evidence
    assert "859.08 gigaflops" in r.evidence  # DCGM's own info line travels with the result


def test_the_issue_215_capture_with_one_status_changed_to_fail_fails_naming_the_test_and_gpu(monkeypatch, tmp_path):
    """The capture altered in ONE field: GPU 3's status "Pass" -> "Fail"; dcgmi exits non-zero then."""
    test = copy.deepcopy(ISSUE_215)
    test["results"][3]["status"] = "Fail"
    r = run_dcgm(monkeypatch, tmp_path, json.dumps(dcgm4(test)), code=226)
    assert r.status is Status.FAIL
    assert r.detail == "diagnostic (GPU 3): Fail"
    assert r.data["returncode"] == 226


def test_a_not_run_result_is_never_counted_as_passed(monkeypatch, tmp_path):
    """The capture altered in ONE field: GPU 5's status "Pass" -> "Not Run"."""
    test = copy.deepcopy(ISSUE_215)
    test["results"][5]["status"] = "Not Run"
    r = run_dcgm(monkeypatch, tmp_path, json.dumps(dcgm4(test)))
    assert r.status is Status.PASS
    assert "7 results passed" in r.detail and "not run: diagnostic (GPU 5): Not Run" in r.detail


def test_a_4x_warning_is_named_with_its_test_gpu_and_dcgm_words(monkeypatch, tmp_path):
    """A 4.x result's warnings are objects (``warning``, ``error_id``, ``error_category``, ``error_severity``)."""
    test = copy.deepcopy(ISSUE_215)
    test["results"][0]["status"] = "Warn"
    test["results"][0]["warnings"] = [
        {"warning": "Persistence mode for GPU 0 is disabled.", "error_id": 29, "error_category": 8, "error_severity": 1}
    ]
    r = run_dcgm(monkeypatch, tmp_path, json.dumps(dcgm4(test)))
    assert r.status is Status.WARN
    assert r.detail == "diagnostic (GPU 0): Warn: Persistence mode for GPU 0 is disabled."


def test_a_4x_test_with_only_its_summary_reads_the_summary():
    doc = dcgm4({"name": "software", "results": [], "test_summary": {"status": "Fail", "info": ["x"]}})
    assert parse(doc) == [("software", "", "fail")]


def test_a_3x_level_1_document_gives_each_deployment_test_and_each_gpu():
    doc = dcgm3_level1(
        {"Denylist": "Pass", "NVML Library": "Pass", "Persistence Mode": "Skip"},
        {"PCIe": [{"gpu_ids": "0", "status": "Pass"}, {"gpu_ids": "1", "status": "Pass"}]},
    )
    assert parse(doc) == [
        ("Denylist", "", "pass"),
        ("NVML Library", "", "pass"),
        ("Persistence Mode", "", "skip"),
        ("PCIe", "GPU 0", "pass"),
        ("PCIe", "GPU 1", "pass"),
    ]


def test_a_3x_failure_names_the_test_and_gpu_with_its_warning_string(monkeypatch, tmp_path):
    doc = dcgm3_level1(
        {"Denylist": "Pass"},
        {"PCIe": [{"gpu_ids": "1", "status": "Fail", "warnings": "GPU 1 PCIe link is degraded", "error_id": 1}]},
    )
    r = run_dcgm(monkeypatch, tmp_path, "Successfully ran diagnostic for group.\n" + json.dumps(doc), code=226)
    assert r.status is Status.FAIL
    assert r.detail == "PCIe (GPU 1): Fail: GPU 1 PCIe link is degraded"


def test_only_skipped_tests_are_a_skip_not_a_pass(monkeypatch, tmp_path):
    r = run_dcgm(monkeypatch, tmp_path, json.dumps(dcgm3_level1({"Denylist": "Skip", "Inforom": "Not Run"})))
    assert r.status is Status.SKIP
    assert "ran no test to its end" in r.detail and "Inforom: Not Run" in r.detail


def test_an_unknown_status_word_is_not_a_pass():
    assert parse(dcgm3_level1({"Denylist": "Inconclusive"})) == [("Denylist", "", "skip")]


@pytest.mark.parametrize(
    "doc, reason",
    [
        # dcgmi's HelperDisplayFailureMessage: the version and the error, nothing else
        (
            {"DCGM Diagnostic": {"version": "4.1.1", "runtime_error": "Host engine connection invalid/disconnected"}},
            "Host engine connection invalid",
        ),
        ({"DCGM GPU Diagnostic": {"version": "3.2.6"}}, "exit code 0"),
    ],
)
def test_a_document_with_no_test_result_is_a_skip_with_dcgms_reason(monkeypatch, tmp_path, doc, reason):
    r = run_dcgm(monkeypatch, tmp_path, json.dumps(doc))
    assert r.status is Status.SKIP
    assert "no test result" in r.detail and reason in r.detail


@pytest.mark.parametrize("stdout", ["Error: unable to establish a connection to the host engine\n", "Error 5"])
def test_output_that_is_not_a_json_document_fails_with_what_dcgmi_printed(monkeypatch, tmp_path, stdout):
    r = run_dcgm(monkeypatch, tmp_path, stdout, code=255)
    assert r.status is Status.FAIL
    assert "without JSON" in r.detail and stdout.strip() in r.evidence
