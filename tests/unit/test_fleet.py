"""The fleet report over host folders the playbook fetched from the test fleet (tests/fixtures/fleet) and
the H200's record (records/): every host shown, each as it is, grouped by what it runs; the verdict
and the exit code; a JUnit file per host."""

import json
import shutil
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest

from runbook import fleet
from runbook.errors import RunSetupError
from runbook.fleet import page as fleet_page
from runbook.present import junit
from tests.utils.cli import gpu_runbook

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "fleet"
H200 = ROOT / "records" / "h200-2026-11-28"
H100 = ROOT / "records" / "h100x1-2026-12-07-toolkit"  # verdict pass
CPU_HOSTS = ["fleet-01", "fleet-02", "fleet-06", "fleet-down-01", "fleet-stopped-01"]


@pytest.fixture
def folder(tmp_path):
    """The fetched CPU hosts, with the H200's record copied in beside them (no fleet.json: a record)."""
    out = tmp_path / "records"
    for host in CPU_HOSTS:
        shutil.copytree(FIXTURES / host, out / host)
    shutil.copytree(H200, out / "gpu-h200")
    return out


def by_name(folder) -> dict[str, fleet.Host]:
    return {h.name: h for h in fleet.read(folder)}


def test_every_host_folder_is_read(folder):
    assert sorted(by_name(folder)) == sorted(CPU_HOSTS + ["gpu-h200"])


def test_each_host_has_its_outcome(folder):
    outcomes = {name: h.outcome for name, h in by_name(folder).items()}
    expected = {
        "fleet-01": "fail",
        "fleet-02": "fail",
        "fleet-06": "broken",
        "fleet-down-01": "unreachable",
        "fleet-stopped-01": "fail",
        "gpu-h200": "fail",
    }
    assert outcomes == expected, f"expected {expected}, got {outcomes}"


def test_a_host_without_a_record_says_why(folder):
    down = by_name(folder)["fleet-down-01"]
    assert "Connection refused" in down.message, f"got {down.message!r}"
    broken = by_name(folder)["fleet-06"]
    assert "'gpu_mode': 'gpu' is not one of" in broken.message, f"got {broken.message!r}"


def test_the_first_broken_rung(folder):
    hosts = by_name(folder)
    assert hosts["fleet-01"].first_broken.check.id == "host.driver", "no driver: the first rung breaks"
    assert hosts["gpu-h200"].first_broken is None, "every rung on the H200's own path works"
    assert hosts["gpu-h200"].first_failure.id == "toolkit.installed", "the H200 has no toolkit"


def test_what_a_host_runs(folder):
    assert by_name(folder)["gpu-h200"].shared() == {
        "gpu": "1× NVIDIA H200",
        "driver": "580.159.04",
        "cuda": "13.0",
        "toolkit": "none",
        "engine": "20.10.24+dfsg1",
    }
    stopped = by_name(folder)["fleet-stopped-01"].shared()
    assert stopped["engine"] == "none", f"its engine did not answer: got {stopped['engine']}"


def test_hosts_are_grouped_by_what_they_share(folder):
    groups = [[h.name for h in members] for _, members in fleet.groups(fleet.read(folder))]
    expected = [["fleet-01", "fleet-02"], ["fleet-stopped-01"], ["gpu-h200"], ["fleet-06", "fleet-down-01"]]
    assert groups == expected, f"expected {expected}, got {groups}"


def test_check_ids_keep_the_order_of_the_records(folder):
    """The H200 alone has gpu.mode.*: they sit where its record has them, between container_runs and
    nvidia_smi, not after the checks every host has."""
    ids = fleet.check_ids(fleet.read(folder))
    section = ids[ids.index("gpu.container_runs") : ids.index("gpu.nvidia_smi") + 1]
    expected = ["gpu.container_runs", "gpu.mode.gpus", "gpu.mode.runtime", "gpu.mode.cdi", "gpu.nvidia_smi"]
    assert section == expected, f"expected {expected}, got {section}"


def test_a_record_left_from_an_earlier_play_is_not_shown(folder):
    shutil.copy(folder / "fleet-01" / "summary.json", folder / "fleet-down-01" / "summary.json")
    down = by_name(folder)["fleet-down-01"]
    assert down.outcome == "unreachable", f"got {down.outcome}"


def test_the_page_shows_every_host_and_link(folder):
    hosts = fleet.read(folder)
    page = fleet_page.page(hosts, fleet.summary(hosts))
    for name in CPU_HOSTS + ["gpu-h200"]:
        assert f">{name}<" in page, f"the page does not show {name}"
    assert 'href="reports/gpu-h200.html"' in page, "a host with a record links to its report"
    assert 'href="reports/fleet-down-01.html"' not in page, "a host without a record links nowhere"


def test_the_page_is_self_contained(folder):
    hosts = fleet.read(folder)
    page = fleet_page.page(hosts, fleet.summary(hosts))
    assert "<script" not in page, "no scripts"
    assert "http" not in page, "nothing fetched, no link out"


def test_junit_of_a_host_with_a_record(folder):
    suite = ET.fromstring(junit.xml(by_name(folder)["fleet-01"]))
    summary = json.loads((folder / "fleet-01" / "summary.json").read_text())
    assert suite.get("tests") == str(len(summary["checks"])), suite.attrib
    assert suite.get("failures") == str(summary["counts"]["fail"]), suite.attrib
    assert suite.get("skipped") == str(summary["counts"]["skip"]), suite.attrib
    failed = [c.get("name") for c in suite.iter("testcase") if c.find("failure") is not None]
    assert "host.driver" in failed, f"got {failed}"


def test_junit_of_a_host_without_a_record(folder):
    suite = ET.fromstring(junit.xml(by_name(folder)["fleet-down-01"]))
    assert (suite.get("tests"), suite.get("errors")) == ("1", "1"), suite.attrib
    assert suite.find("testcase/error").get("type") == "unreachable"


def test_junit_survives_control_characters_in_evidence(folder):
    host = by_name(folder)["fleet-01"]
    host.checks[1].evidence = "\x1b[31mred\x1b[0m"
    ET.fromstring(junit.xml(host))  # parses: the escape characters were replaced


def test_fleet_report_exits_1_and_writes_everything(folder):
    proc = gpu_runbook("fleet-report", str(folder), timeout=60)
    assert proc.returncode == 1, f"expected exit 1, got {proc.returncode}: {proc.stderr}"
    written = sorted(p.name for p in folder.iterdir() if p.is_file())
    assert written == ["fleet-report.html", "fleet-summary.json"], written
    assert sorted(p.stem for p in (folder / "junit").iterdir()) == sorted(CPU_HOSTS + ["gpu-h200"])
    assert "fleet-down-01" in proc.stdout and "UNREACHABLE" in proc.stdout, proc.stdout


def test_fleet_report_exits_0_when_every_host_passes(tmp_path):
    shutil.copytree(H100, tmp_path / "gpu-h100")
    proc = gpu_runbook("fleet-report", str(tmp_path), "--out", str(tmp_path / "report"), timeout=60)
    assert proc.returncode == 0, f"expected exit 0, got {proc.returncode}: {proc.stdout}{proc.stderr}"
    verdict = json.loads((tmp_path / "report" / "fleet-summary.json").read_text())["verdict"]
    assert verdict == "pass", f"got {verdict}"


def forged(tmp_path, name: str, **changes) -> Path:
    """The H100's passing record with its summary changed as given, its verdict still saying pass."""
    folder = tmp_path / name
    shutil.copytree(H100, folder)
    summary = json.loads((folder / "summary.json").read_text())
    summary.update(changes)
    (folder / "summary.json").write_text(json.dumps(summary))
    return folder


def test_a_host_is_taken_at_what_its_checks_say_not_at_its_records_word(tmp_path):
    """A record is data: one that says pass over no checks, over a failed check, or over checks replayed
    from another host does not pass the fleet; nor does a real record of an older runbook that said pass
    for a step whose every check was skipped (vm-only-step-5, runbook 0.2.0)."""
    checks = json.loads((H100 / "summary.json").read_text())["checks"]
    failed = [dict(checks[0], status="fail"), *checks[1:]]
    replayed = [dict(c, data={**c["data"], "replayed_from": {"origin": "gpu-a, 2026-12-07"}}) for c in checks]
    fleet_dir = tmp_path / "fleet"
    forged(fleet_dir, "empty", checks=[], notebooks=[], steps=[])
    forged(fleet_dir, "failed", checks=failed)
    forged(fleet_dir, "replayed", checks=replayed)
    shutil.copytree(FIXTURES / "vm-only-step-5", fleet_dir / "vm")
    shutil.copytree(H100, fleet_dir / "real")
    hosts = by_name(fleet_dir)
    expected = {"empty": "incomplete", "failed": "fail", "real": "pass", "replayed": "incomplete", "vm": "incomplete"}
    assert {n: h.outcome for n, h in hosts.items()} == expected
    reasons = {n: h.summary["verdict_reason"] for n, h in hosts.items()}
    assert "the record says pass, but its checks say incomplete: no check ran" in reasons["empty"], reasons
    assert "replayed from gpu-a, 2026-12-07" in reasons["replayed"], reasons
    proc = gpu_runbook("fleet-report", str(fleet_dir), timeout=60)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    shown = {line.split()[0]: line.split()[1] for line in proc.stdout.splitlines() if line[:1].isalpha()}
    assert {k: v for k, v in shown.items() if k in expected} == {k: v.upper() for k, v in expected.items()}
    page = (fleet_dir / "reports" / "empty.html").read_text()
    assert "incomplete" in page and ">pass<" not in page, "the host's report still shows its record's word"


@pytest.mark.parametrize("name", ["junit", "reports", "fleet-report.html", "fleet-summary.json"])
def test_a_host_folder_named_as_a_report_file_is_never_written_over(tmp_path, name):
    shutil.copytree(H100, tmp_path / name)
    shutil.copytree(H100, tmp_path / "report")
    before = {p.name: p.read_bytes() for p in (tmp_path / name).iterdir()}
    proc = gpu_runbook("fleet-report", str(tmp_path), timeout=60)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert f"the host folder(s) {name} in" in proc.stderr and "--out" in proc.stderr, proc.stderr
    assert {p.name: p.read_bytes() for p in (tmp_path / name).iterdir()} == before
    proc = gpu_runbook("fleet-report", str(tmp_path), "--out", str(tmp_path / "out"), timeout=60)
    assert proc.returncode == 0 and (tmp_path / "out" / "reports" / f"{name}.html").is_file(), proc.stderr


@pytest.mark.parametrize("where", ["a-file", "a-file/below", "/proc/gpu-runbook-fleet"])
def test_a_report_folder_that_cannot_be_written_is_one_line_and_exit_2(tmp_path, where):
    shutil.copytree(H100, tmp_path / "fleet" / "gpu-h100")
    (tmp_path / "a-file").write_text("kept\n")
    proc = gpu_runbook("fleet-report", str(tmp_path / "fleet"), "--out", str(tmp_path / where), cwd=tmp_path)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    assert proc.stderr.startswith("gpu-runbook: cannot write the fleet report into"), proc.stderr
    assert (tmp_path / "a-file").read_text() == "kept\n"


def test_fleet_report_exits_2_on_a_folder_without_hosts(tmp_path):
    proc = gpu_runbook("fleet-report", str(tmp_path), timeout=60)
    assert proc.returncode == 2, f"expected exit 2, got {proc.returncode}: {proc.stderr}"
    assert "holds no host folders" in proc.stderr, proc.stderr


def test_reading_a_missing_folder_is_a_setup_error(tmp_path):
    with pytest.raises(RunSetupError):
        fleet.read(tmp_path / "missing")


@pytest.mark.parametrize("out", ["fleet/../fleet", "link-to-fleet", "fleet/gpu-a", "fleet/gpu-a/report"])
def test_the_report_is_never_written_into_a_host_folder_however_it_is_named(tmp_path, out):
    for name in ("gpu-a", "junit"):
        shutil.copytree(H100, tmp_path / "fleet" / name)
    (tmp_path / "link-to-fleet").symlink_to(tmp_path / "fleet")
    before = {p: p.read_bytes() for p in (tmp_path / "fleet").rglob("*") if p.is_file()}
    proc = gpu_runbook("fleet-report", "fleet", "--out", out, cwd=tmp_path, timeout=60)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "host folder" in proc.stderr and "Traceback" not in proc.stderr, proc.stderr
    after = {p: p.read_bytes() for p in (tmp_path / "fleet").rglob("*") if p.is_file()}
    assert after == before, "the report wrote into a host's folder"


def test_a_host_folder_this_user_may_not_read_is_broken_beside_the_others(tmp_path, monkeypatch):
    """Stand-in: the tests run as root, whom no mode keeps out, so the refusal an unprivileged user gets
    (EACCES from stat and open) is raised where Python would raise it, for one host's folder."""
    shutil.copytree(H100, tmp_path / "gpu-a")
    (tmp_path / "secret").mkdir()
    real_stat = Path.stat

    def stat(self, *a, **kw):
        if self.parent.name == "secret":
            raise PermissionError(13, "Permission denied", str(self))
        return real_stat(self, *a, **kw)

    monkeypatch.setattr(Path, "stat", stat)
    hosts = by_name(tmp_path)
    assert hosts["secret"].outcome == "broken" and "Permission denied" in hosts["secret"].message
    assert hosts["gpu-a"].outcome == "pass"
