"""The playbook over a real fleet (tests/fleet/fleet-up.sh): hosts in containers, reached over SSH, each
with a Docker engine of its own; one with its engine stopped, one with a typo in its parameters, one
with no SSH server. Check mode changes nothing; the first run installs from the wheelhouse, runs and
fetches every record; the report shows each host as it is; a second run changes nothing on the hosts."""

import json
import os
import subprocess
from pathlib import Path
from xml.etree import ElementTree as ET

import docker
import pytest

from runbook import engine
from tests.fleet.conftest import DOWN, STOPPED, UP, playbook, recap
from tests.utils.cli import gpu_runbook
from tests.utils.paths import REPO

pytestmark = pytest.mark.fleet
ENGINE_UP = [f"fleet-{i:02d}" for i in range(1, UP + 1)]
TYPO = "fleet-06"  # its host_vars give gpu_mode a value it does not have
RAN = [h for h in ENGINE_UP if h != TYPO]
ANSWERING = ENGINE_UP + [f"fleet-stopped-{i:02d}" for i in range(1, STOPPED + 1)]
ALL = ANSWERING + [f"fleet-down-{i:02d}" for i in range(1, DOWN + 1)]
SHOTS = Path(os.environ.get("RUNBOOK_SCREENSHOTS", REPO / "build" / "screenshots"))
# what a host's state is: every path under / (but the kernel's, and the logs sshd writes a login to),
# with size and modification time for files
FINGERPRINT = (
    "find / -xdev \\( -path /proc -o -path /sys -o -path /dev -o -path /run -o -path /var/log \\) -prune "
    "-o -type f -printf '%p %s %T@\\n' -o -printf '%p\\n' | sort"
)


@pytest.fixture(scope="module")
def check_run(fleet, wheelhouse, tmp_path_factory):
    """--check before anything was installed: what would happen, and nothing else."""
    out = tmp_path_factory.mktemp("check") / "records"
    return playbook(fleet, wheelhouse, out, "--check"), out


@pytest.fixture(scope="module")
def first_run(fleet, wheelhouse, check_run, tmp_path_factory):
    out = tmp_path_factory.mktemp("first") / "records"
    return playbook(fleet, wheelhouse, out), out


@pytest.fixture(scope="module")
def report(first_run):
    proc = gpu_runbook("fleet-report", str(first_run[1]), timeout=120)
    return proc, json.loads((first_run[1] / "fleet-summary.json").read_text())


@pytest.fixture(scope="module")
def second_run(fleet, wheelhouse, first_run, tmp_path_factory):
    """The same playbook again, with each answering host's state taken before and after."""
    before = {h: fleet.sh(h, FINGERPRINT).stdout for h in ANSWERING}
    out = tmp_path_factory.mktemp("second") / "records"
    proc = playbook(fleet, wheelhouse, out)
    after = {h: fleet.sh(h, FINGERPRINT).stdout for h in ANSWERING}
    return proc, out, before, after


def outcome(out: Path, host: str) -> dict:
    return json.loads((out / host / "fleet.json").read_text())


def test_check_mode_says_what_would_happen(check_run):
    proc, _ = check_run
    assert proc.returncode == 0, f"--check failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-2000:]}"
    for host in ANSWERING:
        assert recap(proc)[host]["changed"] == 1, f"{host}: expected 1 change (the install), got {recap(proc)[host]}"
    assert proc.stdout.count('"msg": "would install wheelhouse.tar') == len(ANSWERING), "check mode names each install"
    assert proc.stdout.count('"msg": "would run') == len(ANSWERING), "check mode names each run"


def test_check_mode_changes_nothing(fleet, check_run):
    _, out = check_run
    assert not out.exists(), f"check mode wrote records: {sorted(p.name for p in out.iterdir())}"
    for host in ANSWERING:
        venv = fleet.sh(host, "test -e /opt/gpu-runbook && echo installed || echo absent").stdout.strip()
        assert venv == "absent", f"{host}: check mode installed the runbook"


def test_the_playbook_accounts_for_every_host(first_run):
    proc, out = first_run
    assert proc.returncode == 0, f"ansible-playbook failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-2000:]}"
    folders = sorted(p.name for p in out.iterdir() if p.is_dir())
    assert folders == sorted(ALL), f"expected a folder per host {sorted(ALL)}, got {folders}"


def test_each_host_ends_as_it_is(first_run):
    _, out = first_run
    for host in RAN:
        assert outcome(out, host)["state"] == "ran", f"{host}: {outcome(out, host)}"
        assert (out / host / "summary.json").is_file(), f"{host}: no record fetched"
    typo = outcome(out, TYPO)
    assert typo["state"] == "broken", f"{TYPO}: expected broken, got {typo}"
    assert "gpu_mode" in typo["message"], f"{TYPO}: the runbook's own words are missing: {typo['message']}"
    down = outcome(out, "fleet-down-01")
    assert down["state"] == "unreachable", f"fleet-down-01: expected unreachable, got {down}"
    assert "Connection refused" in down["message"], f"fleet-down-01: {down['message']}"


def test_records_are_the_hosts_own_with_their_inventory_parameters(first_run):
    _, out = first_run
    for host in RAN:
        summary = json.loads((out / host / "summary.json").read_text())
        assert summary["host"] == host, f"{host}: the record names {summary['host']}"
    p01 = json.loads((out / "fleet-01" / "summary.json").read_text())["parameters"]
    p02 = json.loads((out / "fleet-02" / "summary.json").read_text())["parameters"]
    assert p01["min_free_disk_gib"] == 100000, f"fleet-01's host_vars: got {p01['min_free_disk_gib']}"
    assert p02["min_free_disk_gib"] == 20, f"fleet-02 keeps the default: got {p02['min_free_disk_gib']}"
    assert p02["pull"] == "never", f"fleet_up's group_vars: got {p02['pull']}"
    assert p02["measure_throughput"] is False, "all's group_vars: measure_throughput"


def test_the_stopped_engine_is_in_its_record(first_run):
    _, out = first_run
    checks = {c["id"]: c for c in json.loads((out / "fleet-stopped-01" / "summary.json").read_text())["checks"]}
    assert checks["engine.reachable"]["status"] == "fail", checks["engine.reachable"]
    for host in RAN:
        status = {c["id"]: c for c in json.loads((out / host / "summary.json").read_text())["checks"]}
        assert status["engine.reachable"]["status"] == "pass", f"{host}: {status['engine.reachable']}"


def test_the_hosts_are_left_clean(fleet, first_run):
    for host in ANSWERING:
        left = fleet.sh(host, "ls -d /tmp/* /var/tmp/* /root/.ipython /root/.cache 2>/dev/null").stdout.split()
        assert left == [], f"{host}: left behind {left}"
    for host in RAN:
        client = docker.DockerClient(base_url=fleet.engine_socket(host))
        try:
            containers = [c.name for c in engine.labelled(client)]
        finally:
            client.close()
        assert containers == [], f"{host}: runbook containers left on its engine: {containers}"


def test_the_fleet_report_shows_each_host(report, first_run):
    proc, summary = report
    assert proc.returncode == 1, f"expected exit 1 (hosts failed), got {proc.returncode}: {proc.stderr}"
    outcomes = {h["name"]: h["outcome"] for h in summary["by_host"]}
    expected = {**{h: "fail" for h in RAN}, TYPO: "broken", "fleet-stopped-01": "fail", "fleet-down-01": "unreachable"}
    assert outcomes == expected, f"expected {expected}, got {outcomes}"
    rungs = {h["name"]: (h["first_broken_rung"] or {}).get("check") for h in summary["by_host"]}
    assert rungs["fleet-01"] == "host.driver", f"no driver here: expected host.driver, got {rungs['fleet-01']}"
    page = (first_run[1] / "fleet-report.html").read_text()
    for host in ALL:
        assert f">{host}<" in page, f"the page does not show {host}"


def test_the_fleet_report_writes_junit_per_host(report, first_run):
    junit = first_run[1] / "junit"
    assert sorted(p.stem for p in junit.glob("*.xml")) == sorted(ALL)
    down = ET.parse(junit / "fleet-down-01.xml").getroot()
    assert down.get("errors") == "1", f"an unreachable host is one error: got {down.attrib}"
    up = ET.parse(junit / "fleet-01.xml").getroot()
    assert int(up.get("failures")) >= 1, f"a host without a GPU has failures: got {up.attrib}"


def test_a_gpu_hosts_record_joins_the_report(report, first_run, tmp_path):
    """The record the playbook fetched from the GPU host (records/h200-2026-11-29-fleet: the playbook run there
    against the host itself, ansible_connection=local) beside the fleet's: a group of its own, its driver and
    GPU, and it passes where the hosts without a GPU fail."""
    fleet_and_gpu = tmp_path / "records"
    subprocess.run(["cp", "-r", str(first_run[1]), str(fleet_and_gpu)], check=True)
    subprocess.run(
        ["cp", "-r", str(REPO / "records" / "h200-2026-11-29-fleet"), str(fleet_and_gpu / "gpu-h200")], check=True
    )
    proc = gpu_runbook("fleet-report", str(fleet_and_gpu), timeout=120)
    assert proc.returncode == 1, proc.stderr
    summary = json.loads((fleet_and_gpu / "fleet-summary.json").read_text())
    gpu = next(h for h in summary["by_host"] if h["name"] == "gpu-h200")
    assert gpu["gpu"] == "1× NVIDIA H200", f"expected the H200, got {gpu['gpu']}"
    assert gpu["driver"] == "580.159.04", f"expected the H200's driver, got {gpu['driver']}"
    assert gpu["outcome"] == "pass", f"the H200 passed; the report says {gpu['outcome']}"
    others = [h["outcome"] for h in summary["by_host"] if h["name"] != "gpu-h200"]
    assert "pass" not in others, f"no host without a GPU can pass: {others}"
    alone = [g["hosts"] for g in summary["groups"] if "gpu-h200" in g["hosts"]]
    assert alone == [["gpu-h200"]], f"the GPU host shares its GPU and driver with no CPU host: got {alone}"
    screenshot(fleet_and_gpu / "fleet-report.html", SHOTS / "fleet-report.png")


def screenshot(page: Path, to: Path) -> None:
    """The page in Debian's Chromium, headless (as the browser tests drive it), when it is installed."""
    if not Path("/usr/bin/chromium").exists():
        return
    sync = pytest.importorskip("playwright.sync_api")
    to.parent.mkdir(parents=True, exist_ok=True)
    with sync.sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox", "--disable-gpu"])
        try:
            tab = browser.new_page(viewport={"width": 1500, "height": 900})
            tab.goto(page.as_uri())
            tab.screenshot(path=str(to), full_page=True)
        finally:
            browser.close()


def test_a_second_run_changes_nothing_on_the_hosts(second_run):
    proc, out, before, after = second_run
    assert proc.returncode == 0, f"ansible-playbook failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-2000:]}"
    for host in ANSWERING:
        assert recap(proc)[host]["changed"] == 0, f"{host}: expected no change, got {recap(proc)[host]}"
        changed = set(before[host].splitlines()) ^ set(after[host].splitlines())
        assert not changed, f"{host}: files changed by the second run: {sorted(changed)[:20]}"
    assert outcome(out, "fleet-01")["state"] == "ran", "the second run fetched fleet-01's record again"
