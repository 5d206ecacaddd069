"""GPU health from the real H200 capture (every check passes with its real values) and from copies of it
changed by code, one fault per test; XID lines are real kernel log lines from public reports
(tests/fixtures/health/README.md)."""

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from runbook import host
from runbook.host import events, health
from runbook.present import ladder
from runbook.results import Status, run_check
from runbook.steps import Context, preflight

FIXTURES = Path(__file__).parent.parent / "fixtures"
H200 = (FIXTURES / "h200" / "nvidia-smi-q-x.xml").read_text()
CHECKS = {cid: fn for cid, _title, fn in health.CHECKS}


def mutated(changes: dict[str, str | None], add: dict[str, str] | None = None) -> str:
    """The H200 capture with each path's text set (None: the element removed); ``add``: new elements."""
    root = ET.fromstring(H200)
    gpu = root.find("gpu")
    for path, text in changes.items():
        el = gpu.find(path)
        assert el is not None, f"the capture has no {path}"
        if text is None:
            parent = gpu.find(path.rsplit("/", 1)[0]) if "/" in path else gpu
            parent.remove(el)
        else:
            el.text = text
    for path, text in (add or {}).items():
        parent_path, _sep, tag = path.rpartition("/")
        parent = gpu.find(parent_path) if parent_path else gpu
        if parent is None:
            parent = ET.SubElement(gpu, parent_path)
        ET.SubElement(parent, tag).text = text
    return ET.tostring(root, encoding="unicode")


def check(cid: str, xml: str):
    return run_check(cid, cid, lambda: CHECKS[cid](xml))


@pytest.mark.parametrize("cid", sorted(CHECKS))
def test_the_h200_passes_every_health_check_with_its_real_values(cid):
    r = check(cid, H200)
    assert r.status is Status.PASS, r
    assert "GPU 0 (00000000:00:06.0)" in r.detail


def test_the_real_values_are_in_the_details():
    assert "Enabled" in check("health.persistence", H200).detail
    assert "x16 of x16, gen 5 of 5" in check("health.pcie", H200).detail
    assert "gpu_idle" in check("health.clocks", H200).detail


CASES = [
    ("health.persistence", {"persistence_mode": "Disabled"}, None, Status.WARN, "Disabled"),
    ("health.persistence", {"persistence_mode": "N/A"}, None, Status.SKIP, "not reported"),
    ("health.ecc", {"ecc_mode/current_ecc": "Disabled"}, None, Status.WARN, "ECC Disabled"),
    ("health.ecc", {"ecc_errors/volatile/dram_uncorrectable": "2"}, None, Status.FAIL, "2 uncorrectable"),
    ("health.ecc", {"ecc_errors/aggregate/sram_uncorrectable_secded": "1"}, None, Status.WARN, "lifetime"),
    ("health.ecc", {"ecc_mode/current_ecc": "[Not Supported]"}, None, Status.SKIP, "not supported"),
    ("health.memory", {"remapped_rows/remapped_row_pending": "Yes"}, None, Status.WARN, "pending"),
    ("health.memory", {"remapped_rows/remapped_row_failure": "Yes"}, None, Status.FAIL, "failed"),
    (
        "health.memory",
        {"remapped_rows/remapped_row_pending": "N/A", "remapped_rows/remapped_row_failure": "N/A"},
        None,
        Status.SKIP,
        "neither",
    ),
    ("health.memory", {"retired_pages/pending_retirement": "Yes"}, None, Status.WARN, "pending"),
    ("health.reset", {"gpu_recovery_action": "Reset"}, None, Status.FAIL, "reset required"),
    ("health.reset", {"gpu_recovery_action": "Drain and Reset"}, None, Status.WARN, "drain"),
    ("health.reset", {"gpu_recovery_action": None}, None, Status.SKIP, "not reported"),
    (  # the older drivers' element (R470 to R535), added to a copy without the newer one
        "health.reset",
        {"gpu_recovery_action": None},
        {"gpu_reset_status/reset_required": "Yes", "gpu_reset_status/drain_and_reset_recommended": "No"},
        Status.FAIL,
        "reset required",
    ),
    (
        "health.clocks",
        {"clocks_event_reasons/clocks_event_reason_hw_slowdown": "Active"},
        None,
        Status.FAIL,
        "hw_slowdown",
    ),
    (
        "health.clocks",
        {"clocks_event_reasons/clocks_event_reason_hw_thermal_slowdown": "Active"},
        None,
        Status.FAIL,
        "hw_thermal_slowdown",
    ),
    (
        "health.clocks",
        {"clocks_event_reasons/clocks_event_reason_hw_power_brake_slowdown": "Active"},
        None,
        Status.FAIL,
        "power_brake",
    ),
    (
        "health.clocks",
        {"clocks_event_reasons/clocks_event_reason_sw_thermal_slowdown": "Active"},
        None,
        Status.WARN,
        "sw_thermal",
    ),
    (
        "health.clocks",
        {"clocks_event_reasons/clocks_event_reason_applications_clocks_setting": "Active"},
        None,
        Status.PASS,
        "applications_clocks_setting",
    ),
    ("health.pcie", {"pci/pci_gpu_link_info/link_widths/current_link_width": "4x"}, None, Status.WARN, "x4 of x16"),
    ("health.pcie", {"pci/pci_gpu_link_info/pcie_gen/current_link_gen": "1"}, None, Status.PASS, "gen 1 of 5"),
    ("health.pcie", {"pci/pci_gpu_link_info/link_widths/current_link_width": "N/A"}, None, Status.SKIP, "not reported"),
]


@pytest.mark.parametrize("cid, changes, add, status, words", CASES)
def test_each_fault_in_a_changed_copy(cid, changes, add, status, words):
    r = check(cid, mutated(changes, add))
    assert r.status is status, r
    assert words in r.detail, r.detail
    if status in (Status.FAIL, Status.WARN):
        assert r.cause and r.remediation, r


def test_a_narrow_link_names_the_slot_level_fix():
    r = check("health.pcie", mutated({"pci/pci_gpu_link_info/link_widths/current_link_width": "8x"}))
    assert "x16" in r.remediation and "Reseat" in r.remediation


def test_clocks_of_an_older_driver_are_read():
    """R470's element is clocks_throttle_reasons: rename the H200's by code."""
    root = ET.fromstring(H200)
    node = root.find("gpu/clocks_event_reasons")
    node.tag = "clocks_throttle_reasons"
    for c in node:
        c.tag = c.tag.replace("clocks_event_reason_", "clocks_throttle_reason_")
    node.find("clocks_throttle_reason_hw_slowdown").text = "Active"
    r = check("health.clocks", ET.tostring(root, encoding="unicode"))
    assert r.status is Status.FAIL and "hw_slowdown" in r.detail


def test_the_catalogue_explains_every_xid_the_runbook_promises():
    table = events.xid_catalogue()
    assert "docs.nvidia.com/deploy/xid-errors" in table["sources"]["catalogue"]
    for x in (13, 31, 43, 45, 48, 61, 62, 63, 64, 74, 79, 92, 94, 95, 119, 120):
        entry = table["xid"][str(x)]
        assert entry["name"] and entry["meaning"] and entry["action"] and entry["severity"] in ("warn", "fail")


def xid(name: str):
    log = (FIXTURES / "health" / name).read_text()
    return run_check("health.xid", "t", lambda: events.xid(log))


def test_xid_79_fallen_off_the_bus_fails():
    r = xid("kernel-log-xid79.txt")
    assert r.status is Status.FAIL
    assert "79" in r.detail and "fallen off the bus" in r.detail
    assert "GPU has fallen off the bus" in r.evidence and "RESTART_BM" in r.evidence


def test_xid_62_fails_and_unknown_ones_are_named():
    r = xid("kernel-log-xid62.txt")
    assert r.status is Status.FAIL and r.data["xids"] == [32, 69, 69, 62]
    assert (
        "Internal micro-controller halt" in r.evidence and "Xid 32 (PCI:0000:01:00): not in the catalogue" in r.evidence
    )


def test_xid_63_is_a_warning():
    r = xid("kernel-log-xid63.txt")
    assert r.status is Status.WARN and r.data["xids"] == [63]


def test_a_log_without_xid_passes_and_an_unreadable_one_skips():
    log = (FIXTURES / "health" / "kernel-log-xid63.txt").read_text().replace("NVRM: Xid", "NVRM: loaded")
    assert run_check("health.xid", "t", lambda: events.xid(log)).status is Status.PASS
    r = run_check("health.xid", "t", lambda: events.xid(None))
    assert r.status is Status.SKIP and "cannot be read" in r.detail


def test_without_dcgmi_the_check_says_it_did_not_run_and_how_to_install(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    r = run_check("health.dcgm", "t", events.dcgm)
    assert r.status is Status.SKIP and r.skip_kind == "blocked"
    assert "not run" in r.detail and "datacenter-gpu-manager" in r.detail


def test_preflight_reads_the_drivers_one_answer(monkeypatch):
    monkeypatch.setattr(
        host, "LAST_ANSWER", {"exe": "nvidia-smi", "returncode": 0, "stdout": mutated({"persistence_mode": "Disabled"})}
    )
    ctx = Context(params={}, driver=host.parse_nvidia_smi_xml(H200))
    by_id = {r.id: r for r in preflight.health_checks(ctx)}
    assert by_id["health.persistence"].status is Status.WARN
    assert by_id["health.ecc"].status is Status.PASS
    assert {"health.xid", "health.dcgm"} <= set(by_id)
    rung = next(r for r in ladder.ladder(list(by_id.values())) if "healthy" in r.name)
    assert rung.status is Status.WARN


def test_without_a_driver_every_health_check_is_skipped_with_its_reason():
    ctx = Context(params={}, driver=None, driver_problem="no NVIDIA driver")
    skipped = [r for r in preflight.health_checks(ctx) if r.id in CHECKS]
    assert skipped and all(r.status is Status.SKIP and r.detail == "no NVIDIA driver" for r in skipped)
