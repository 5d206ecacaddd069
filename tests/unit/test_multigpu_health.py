"""One bad GPU among good ones: the real ``nvidia-smi -q -x`` of a host with two RTX A5000s
(tests/fixtures/field/xml/telegraf-dual_a5000-v13.xml, influxdata/telegraf), each test changing one field of ONE
GPU by code and saying which; the health checks name that GPU, the verdict fails, the report has a row per GPU."""

import xml.etree.ElementTree as ET
from pathlib import Path

from runbook.catalogue import ESSENTIAL
from runbook.host import health
from runbook.present import gpus, report
from runbook.results import CheckResult, Status, run_check, verdict

DUAL = (Path(__file__).parent.parent / "fixtures" / "field" / "xml" / "telegraf-dual_a5000-v13.xml").read_text()
CHECKS = {cid: (title, fn) for cid, title, fn in health.CHECKS}


def one_gpu_changed(index: int, path: str, text: str) -> str:
    """The two-GPU capture with ``path`` of GPU ``index`` only set to ``text``."""
    root = ET.fromstring(DUAL)
    el = root.findall("gpu")[index].find(path)
    assert el is not None, path
    el.text = text
    return ET.tostring(root, encoding="unicode")


def health_results(xml: str) -> list[CheckResult]:
    return [run_check(cid, str(title), lambda fn=fn: fn(xml)) for cid, (title, fn) in CHECKS.items()]


def test_the_capture_as_it_is_judges_each_gpu():
    r = {c.id: c for c in health_results(DUAL)}
    assert [g["gpu"] for g in r["health.memory"].data["gpus"]] == [0, 1]
    assert r["health.memory"].status is Status.PASS  # row remapping: nothing pending on either
    assert r["health.ecc"].status is Status.WARN  # the capture's own ECC: Disabled on both


def test_one_gpu_with_a_failed_row_remapping_fails_the_verdict_and_is_named():
    """Changed: GPU 1's remapped_rows/remapped_row_failure, No -> Yes; GPU 0 stays as captured."""
    results = health_results(one_gpu_changed(1, "remapped_rows/remapped_row_failure", "Yes"))
    memory = next(c for c in results if c.id == "health.memory")
    assert memory.status is Status.FAIL
    assert memory.detail == "GPU 1 (00000000:C1:00.0): row remapping failed"
    assert [g["state"] for g in memory.data["gpus"]] == ["ok", "fail"]
    outcome, why = verdict({"01-preflight": results}, ESSENTIAL)
    assert outcome == "fail" and "health.memory" in why
    ids, rows = gpus.rows(results)
    assert "health.memory" in ids and [r["gpu"] for r in rows] == [0, 1]
    assert rows[1]["checks"]["health.memory"]["state"] == "fail" and rows[0]["checks"]["health.memory"]["state"] == "ok"
    text = gpus.gpus_text(results)
    assert text.splitlines()[1].startswith("GPU 1") and "health.memory: fail" in text.splitlines()[1]
    assert "health.memory" not in text.splitlines()[0]


def test_the_report_has_a_row_per_gpu_with_names_from_the_driver_check():
    results = health_results(one_gpu_changed(0, "remapped_rows/remapped_row_pending", "Yes"))
    driver = CheckResult(
        "host.driver", "t", Status.PASS, "", data={"gpus": [{"index": 0, "name": "NVIDIA RTX A5000", "uuid": "GPU-ab"}]}
    )
    summary = {
        "host": "h",
        "runbook_version": "0",
        "verdict": "pass",
        "counts": {},
        "checks": [c.to_dict() for c in [driver, *results]],
    }
    page = report.report_page(summary)
    assert page.count("<td>GPU 0 NVIDIA RTX A5000<br><small>GPU-ab</small></td>") == 1 and "GPU 1 " in page
    assert "GPU 0 NVIDIA RTX A5000 GPU-ab: warn (" in report.summary_text(summary)


def test_one_gpu_has_no_per_gpu_table():
    root = ET.fromstring(DUAL)
    root.remove(root.findall("gpu")[1])
    assert gpus.gpus_html(health_results(ET.tostring(root, encoding="unicode"))) == ""
