"""What a newcomer types, as they type it: relative paths from another folder, records that are not
records, a record that asks to act on the host, bad parameters files, a disk that fills, the fleet
report written elsewhere, the classroom in another language, a run of one step, and `plan --os`
written as image names. Each ends in a record whose every notebook has outputs, or in one clear line
and exit code 2; never in a traceback."""

import hashlib
import json
import os
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest

from tests.utils.cli import gpu_runbook
from tests.utils.paths import REPO

pytestmark = pytest.mark.engine
RECORD = REPO / "records" / "h200-2026-11-29-toolkit"
FLEET = REPO / "tests" / "fixtures" / "fleet"


def code_outputs(notebook: Path) -> list[int]:
    nb = json.loads(notebook.read_text())
    return [len(c.get("outputs", [])) for c in nb["cells"] if c["cell_type"] == "code"]


def assert_clean(proc):
    assert "Traceback" not in proc.stderr + proc.stdout, proc.stderr[-3000:]


def test_the_default_out_is_runs_in_the_callers_folder_and_the_report_has_outputs(client, tmp_path):
    proc = gpu_runbook("run", "--only", "1", "--only", "6", cwd=tmp_path)
    assert_clean(proc)
    assert proc.returncode == 1, proc.stderr[-2000:]  # no GPU here: the driver check fails
    (record,) = (tmp_path / "runs").iterdir()
    assert "stopped" not in proc.stderr, proc.stderr
    assert code_outputs(record / "06-report.ipynb")[-1] > 0, "06-report has no outputs"
    summary = json.loads((record / "summary.json").read_text())
    assert [n["name"] for n in summary["notebooks"]] == ["01-preflight.ipynb", "06-report.ipynb"]
    assert summary["notebooks"][-1]["status"] == "ran"


def test_a_relative_out_and_a_relative_verify_out(client, tmp_path):
    made = gpu_runbook("run", "--only", "1", "--only", "6", "--out", "rec", cwd=tmp_path)
    assert_clean(made)
    assert (tmp_path / "rec" / "summary.json").exists(), made.stderr
    again = gpu_runbook("verify", "rec", "--out", "sub/again", cwd=tmp_path)
    assert_clean(again)
    assert again.returncode == 0, again.stdout + again.stderr[-2000:]
    assert code_outputs(tmp_path / "sub" / "again" / "06-report.ipynb")[-1] > 0
    assert (tmp_path / "sub" / "again" / "drift.json").exists()


def test_a_stopped_report_is_a_failing_check_and_fails_the_verdict(client, tmp_path):
    notebooks = tmp_path / "nbs"
    shutil.copytree(REPO / "notebooks", notebooks)
    report = notebooks / "06-report.ipynb"
    nb = json.loads(report.read_text())
    nb["cells"][-1]["source"] = "raise RuntimeError('the report broke')"
    report.write_text(json.dumps(nb))
    proc = gpu_runbook("run", "--only", "5", "--only", "6", "--notebooks", "nbs", "--out", "rec", cwd=tmp_path)
    assert_clean(proc)
    summary = json.loads((tmp_path / "rec" / "summary.json").read_text())
    by_id = {c["id"]: c for c in summary["checks"]}
    assert by_id["notebook.06-report"]["status"] == "fail", by_id.keys()
    assert "the report broke" in by_id["notebook.06-report"]["detail"]
    assert summary["verdict"] == "fail" and proc.returncode == 1
    assert "notebook.06-report" in (tmp_path / "rec" / "report.html").read_text()


def test_a_notebook_stopped_before_its_first_cell_is_still_a_failing_check(tmp_path):
    """The runner saw it stop (say, in the cell that moves the kernel into its folder) though the
    notebook's file shows no error: the record says so all the same."""
    from runbook import record

    (tmp_path / "03-gpu-in-container.ipynb").write_text(json.dumps({"cells": [], "metadata": {}}))
    summary = record.collect(
        tmp_path, ["03-gpu-in-container.ipynb"], stopped={"03-gpu-in-container.ipynb": "OSError: gone"}
    )
    assert [c["id"] for c in summary["checks"]] == ["notebook.03-gpu-in-container"]
    assert summary["verdict"] == "fail"


def host_state() -> dict:
    """What a record must never change: daemon.json, apt's sources, the packages, the engine's process."""

    def digest(path: Path) -> str:
        return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "absent"

    sources = Path("/etc/apt/sources.list.d")
    packages = subprocess.run(["dpkg-query", "-W"], capture_output=True, text=True).stdout
    dockerd = subprocess.run(["pgrep", "-x", "dockerd"], capture_output=True, text=True).stdout.split()
    return {
        "daemon.json": digest(Path("/etc/docker/daemon.json")),
        "sources": {p.name: digest(p) for p in sorted(sources.iterdir())} if sources.is_dir() else {},
        "packages": hashlib.sha256(packages.encode()).hexdigest(),
        "dockerd": sorted(dockerd),
        "nvidia-runtime": shutil.which("nvidia-container-runtime"),
    }


def test_verifying_a_hostile_record_as_root_changes_nothing_on_the_host(client, tmp_path):
    if os.geteuid() != 0:
        pytest.skip("the record would act only as root: that is the case to test")
    hostile = tmp_path / "hostile"
    shutil.copytree(RECORD, hostile)
    summary = json.loads((hostile / "summary.json").read_text())
    marker = tmp_path / "restart-ran"
    summary["parameters"].update(
        toolkit_apply=True,
        toolkit_mirror="http://127.0.0.1:9/libnvidia-container",
        registry_mirrors="http://127.0.0.1:9",
        engine_restart=f"/usr/bin/touch {marker}",
        allow_restart_command=True,
        add_docker_group=True,
        set_as_default=True,
        docker_host="tcp://127.0.0.1:9",  # an engine of the record's choosing: the host's credentials would go there
        cuda_image="127.0.0.1:9/any/image:to-run-with-the-gpu",
    )
    (hostile / "summary.json").write_text(json.dumps(summary))
    before = host_state()
    proc = gpu_runbook("verify", str(hostile), "--out", str(tmp_path / "again"))
    after = host_state()
    assert_clean(proc)
    assert before == after, "verify changed the host"
    assert not marker.exists(), "the record's restart command ran"
    for name in ("toolkit_apply", "engine_restart", "allow_restart_command", "registry_mirrors", "toolkit_mirror"):
        assert f"left out  {name}=" in proc.stdout, proc.stdout
    for name in ("docker_host", "cuda_image"):
        assert f"left out  {name}=" in proc.stdout and "names what runs or where" in proc.stdout, proc.stdout
    drift = json.loads((tmp_path / "again" / "drift.json").read_text())
    assert {x["name"] for x in drift["left_out"]} >= {"toolkit_apply", "engine_restart"}
    applied = json.loads((tmp_path / "again" / "summary.json").read_text())
    assert applied["parameters"]["toolkit_apply"] is False
    assert (applied["parameters"]["docker_host"], applied["parameters"]["cuda_image"]) == ("", "auto")
    assert {c["id"]: c["status"] for c in applied["checks"]}["toolkit.apply"] == "skip"


def test_acting_again_is_a_choice_of_the_command_line():
    from runbook import verify

    values, left = verify.observing({"toolkit_apply": True, "gpu_mode": "cdi"}, {"toolkit_apply": "true"})
    assert values == {"toolkit_apply": "true", "gpu_mode": "cdi"} and left == []
    values, left = verify.observing({"toolkit_apply": True, "gpu_mode": "cdi", "replay": "/x", "strict": True})
    assert values == {"gpu_mode": "cdi"} and [x.name for x in left] == ["toolkit_apply"]
    # nor does a record choose the image that runs with the GPU, or the engine: only the command line
    chosen = {"cuda_image": "evil/miner:1", "docker_host": "tcp://198.51.100.7:2375", "pytorch_image": "auto"}
    values, left = verify.observing(chosen)
    assert values == {} and [x.name for x in left] == ["cuda_image", "docker_host"]  # pytorch_image: the default
    values, left = verify.observing(chosen, {"cuda_image": "evil/miner:1"})
    assert values["cuda_image"] == "evil/miner:1" and [x.name for x in left] == ["docker_host"]
    # nor the file an install writes, nor a rootless engine's settings and service
    values, left = verify.observing({"daemon_json": "/etc/shadow", "rootless": True, "gpu_mode": "cdi"})
    assert values == {"gpu_mode": "cdi"} and [x.name for x in left] == ["daemon_json", "rootless"]


@pytest.mark.parametrize(
    "content, says",
    [
        ('{"not": "a record"}', "checks is missing"),
        ("[1, 2]", "holds a list"),
        ('{"schema_version": 2, "checks": "x"}', "checks is a str"),
        ('{"schema_version": 7}', "schema_version is 7"),
        ('{"checks": [{"id": 1}], "notebooks": [], "parameters": {}, "steps": [], "verdict": "pass"}', "checks[0]"),
        ("not json", "is not JSON"),
        (b"\xff\xfe\x00", "not a record"),
    ],
)
@pytest.mark.parametrize("command", ["verify", "lab", "fleet-report"])
def test_what_is_not_a_record_is_refused_with_exit_2(tmp_path, content, says, command):
    """verify and lab refuse it; the fleet report reports that host broken, with why, beside the others."""
    folder = tmp_path / "fleet" / "host-a" if command == "fleet-report" else tmp_path / "rec"
    folder.mkdir(parents=True)
    (folder / "summary.json").write_bytes(content if isinstance(content, bytes) else content.encode())
    if command == "fleet-report":
        shutil.copytree(REPO / "records" / "h100x1-2026-12-07-toolkit", tmp_path / "fleet" / "host-b")
    args = {
        "verify": ["verify", str(folder), "--out", str(tmp_path / "again")],
        "lab": ["lab", str(tmp_path / "ws"), "--replay", str(folder), "--no-browser"],
        "fleet-report": ["fleet-report", str(tmp_path / "fleet")],
    }[command]
    proc = gpu_runbook(*args, timeout=120)
    assert_clean(proc)
    if command == "fleet-report":
        assert proc.returncode == 1, proc.stdout + proc.stderr
        lines = proc.stdout.splitlines()
        assert lines[0].split()[:2] == ["host-a", "BROKEN"] and says in lines[0], proc.stdout
        assert lines[1].split() == ["host-b", "PASS"], proc.stdout
        by_host = json.loads((tmp_path / "fleet" / "fleet-summary.json").read_text())["by_host"]
        assert [h["outcome"] for h in by_host] == ["broken", "pass"], by_host
        return
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert says in proc.stderr, proc.stderr
    assert not (tmp_path / "again").exists(), "verify ran the runbook for a non-record"


@pytest.mark.parametrize(
    "content, says",
    [
        (b"\x7fELF\x02\x01\x01\x00" + bytes(range(256)), "not UTF-8"),
        ("gpu_mode: cdi\n".encode("utf-16"), "not UTF-8"),
        (b"gpu_mode: cdi\ngpu_mode: gpus\n", "'gpu_mode' is given twice"),
        (b"a: [1\n", "cannot read parameters file"),
        (b"[1, 2]: 3\n", "found unhashable key"),  # a list as a key
        (b"? {gpu_mode: cdi}\n: 3\n", "found unhashable key"),  # a mapping as a key
    ],
)
def test_a_parameters_file_that_cannot_be_read_is_one_line_and_exit_2(tmp_path, content, says):
    (tmp_path / "p.yaml").write_bytes(content)
    proc = gpu_runbook("run", "-f", "p.yaml", "--only", "1", cwd=tmp_path, timeout=120)
    assert_clean(proc)
    assert proc.returncode == 2, proc.stderr
    assert says in proc.stderr and len(proc.stderr.strip().splitlines()) <= 2, proc.stderr
    assert not (tmp_path / "runs").exists()


@pytest.fixture
def small_fs(tmp_path):
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    point = tmp_path / "fs"
    point.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(point)], check=True)
    yield point
    subprocess.run(["umount", "-l", str(point)], check=False)


def test_a_disk_that_fills_during_the_run_leaves_no_claim_and_says_what_it_needed(client, small_fs):
    """Whatever write the disk fills at (a notebook, its relocation, the summary, the report), the run
    ends in one line with exit 2 and the room it needed, and no claim file is left to look like a run."""
    refused = 0
    for room_kib in range(4, 64, 6):
        for f in small_fs.iterdir():
            shutil.rmtree(f) if f.is_dir() else f.unlink()
        with open(small_fs / "filler", "wb") as f:
            try:
                f.write(b"\0" * ((1 << 20) - room_kib * 1024))
            except OSError:
                pass
        proc = gpu_runbook("run", "--out", str(small_fs / "rec"), "--only", "1", "--only", "6", timeout=300)
        assert_clean(proc)
        assert not (small_fs / "rec" / ".gpu-runbook-claim").exists(), f"{room_kib} KiB: a claim was left"
        if proc.returncode == 2:
            refused += 1
            assert "No space left" in proc.stderr and "it needed" in proc.stderr, proc.stderr
        else:
            assert proc.returncode == 1 and (small_fs / "rec" / "summary.json").exists(), proc.stderr
    assert refused, "the disk never filled: the test did not test"


class Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.hrefs = []

    def handle_starttag(self, tag, attrs):
        self.hrefs += [v for k, v in attrs if tag == "a" and k == "href"]


def test_the_fleet_report_written_elsewhere_links_to_the_hosts_reports(tmp_path):
    fleet = tmp_path / "fleet"
    shutil.copytree(FLEET, fleet)
    for host in fleet.iterdir():
        if (host / "summary.json").exists():
            (host / "report.html").write_text("<p>report</p>")
    proc = gpu_runbook("fleet-report", "fleet", "--out", "elsewhere/out", cwd=tmp_path, timeout=120)
    assert_clean(proc)
    out = tmp_path / "elsewhere" / "out"
    parser = Links()
    parser.feed((out / "fleet-report.html").read_text())
    assert parser.hrefs, "no host links"
    for href in parser.hrefs:
        assert (out / href).resolve().is_file(), f"{href} is broken from {out}"
    summary = json.loads((out / "fleet-summary.json").read_text())
    for h in summary["by_host"]:
        assert h["record"] is None or (out / h["record"]).is_file(), h["record"]


def test_lab_in_chinese_rewrites_the_english_copies_nobody_edited(tmp_path):
    from runbook.present import lab

    lab.prepare(tmp_path / "ws", None, "en")
    edited = tmp_path / "ws" / "01-preflight.ipynb"
    nb = json.loads(edited.read_text())
    nb["cells"][0]["source"] = "# my notes"
    edited.write_text(json.dumps(nb))
    ws = lab.prepare(tmp_path / "ws", None, "zh_CN")
    assert ws.kept == ["01-preflight.ipynb"], ws.kept
    assert "容器" in (tmp_path / "ws" / "03-gpu-in-container.ipynb").read_text(), "still English"
    assert "# my notes" in edited.read_text(), "the class's work was overwritten"


def test_a_run_that_tries_no_rung_does_not_say_every_rung_works(client, tmp_path):
    proc = gpu_runbook("run", "--only", "5", "--out", "rec", cwd=tmp_path)
    assert_clean(proc)
    assert "Every rung that was tried works" not in proc.stdout, proc.stdout
    assert "No rung of the GPU access ladder was observed" in proc.stdout, proc.stdout


def test_quiet_prints_the_verdict_only(client, tmp_path):
    proc = gpu_runbook("run", "--only", "1", "--quiet", "--out", "rec", cwd=tmp_path)
    assert proc.stderr == "", proc.stderr
    assert proc.stdout.startswith("verdict: fail"), proc.stdout
    assert len(proc.stdout.strip().splitlines()) == 2, proc.stdout


@pytest.mark.parametrize(
    "os_name, manager",
    [
        ("rockylinux:9", "dnf"),
        ("rocky:9", "dnf"),
        ("almalinux:9", "dnf"),
        ("amazonlinux:2023", "dnf"),
        ("amzn:2023", "dnf"),
        ("amazonlinux:2", "yum"),
        ("centos:7", "yum"),
        ("quay.io/centos/centos:stream9", "dnf"),
        ("opensuse/leap:15.6", "zypper"),
        ("docker.io/library/ubuntu:24.04", "apt"),
        ("redhat/ubi9", "dnf"),
    ],
)
def test_plan_takes_image_names_and_os_release_ids(os_name, manager):
    proc = gpu_runbook("plan", "--os", os_name, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(f"# {manager} plan for {os_name}"), proc.stdout[:200]
    if manager == "yum":
        assert "sudo yum install -y" in proc.stdout and "dnf" not in proc.stdout


def test_plan_for_an_unknown_os_lists_what_it_takes():
    proc = gpu_runbook("plan", "--os", "gentoo:2.17", timeout=60)
    assert proc.returncode == 2
    assert "rockylinux" in proc.stderr and "amzn" in proc.stderr and "ubuntu" in proc.stderr, proc.stderr


def test_verify_speaks_the_records_language_in_its_drift_lines():
    from runbook import i18n, verify

    i18n.activate("zh_CN")
    try:
        line = verify.line(verify.Drift("fact", "driver version", "470", "580"))
    finally:
        i18n.activate("en")
    assert "470 -> 580" in line and "driver version" not in line, line


def test_the_overview_takes_a_language():
    from runbook import kernel

    assert "lang" in kernel.declared(kernel.load(REPO / "notebooks" / "00-overview.ipynb"))


def test_one_writer_for_a_check_in_junit_for_runs_and_fleets():
    from xml.etree import ElementTree as ET

    from runbook import fleet
    from runbook.present import junit

    host = fleet.read_host(FLEET / "fleet-01")
    summary = host.summary
    run_cases = {c.get("name"): c for c in ET.fromstring(junit.junit_xml(summary)).iter("testcase")}
    fleet_cases = {c.get("name"): c for c in ET.fromstring(junit.xml(host)).iter("testcase")}
    for name, case in run_cases.items():
        a = [(e.tag, e.get("message"), e.text) for e in case]
        b = [(e.tag, e.get("message"), e.text) for e in fleet_cases[name]]
        assert a == b, f"{name}: the run's and the fleet's JUnit say it differently"


def test_the_main_command_as_a_user_who_is_not_root(client):
    """The README's main command run by an unprivileged user in a folder of theirs, with root's PATH kept (as
    `sudo -E` or `su` leave it: folders on it the user may not search): the runbook installs from the
    checkout into the user's own environment (Debian's Python: this machine's own lives under /root), every
    notebook runs to its end, nothing is a traceback, and the engine's refusal is a diagnosed check."""
    import pwd
    import tempfile

    if os.geteuid() != 0:
        pytest.skip("starting a process as another user needs root")
    try:
        user = pwd.getpwnam("gpu-runbook-rootless")  # made by tests/tooling/engines-up.sh
    except KeyError:
        pytest.skip("no unprivileged user gpu-runbook-rootless (tests/tooling/engines-up.sh makes it)")
    if not Path("/usr/bin/python3").exists():
        pytest.skip("no system Python the user may run")
    here = Path(tempfile.mkdtemp(prefix="gpu-runbook-user-"))
    source = here / "src"
    shutil.copytree(REPO, source, ignore=shutil.ignore_patterns(".venv", "build", "runs", ".git", "__pycache__"))
    subprocess.run(["chown", "-R", f"{user.pw_uid}:{user.pw_gid}", str(here)], check=True)
    env = {**os.environ, "HOME": str(here), "PATH": f"/root/.local/bin:{os.environ['PATH']}"}
    env.pop("PYTHONPATH", None)
    as_user = {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": [], "cwd": here, "env": env}
    try:
        made = subprocess.run(
            ["/bin/sh", "-c", "/usr/bin/python3 -m venv .venv && .venv/bin/pip install -q ./src"],
            capture_output=True,
            text=True,
            timeout=900,
            **as_user,
        )
        assert made.returncode == 0, made.stderr[-3000:]
        proc = subprocess.run(
            [".venv/bin/python", "-m", "runbook", "run", "--only", "1", "--only", "2", "--only", "6"],
            capture_output=True,
            text=True,
            timeout=600,
            **as_user,
        )
        assert_clean(proc)
        (record,) = (here / "runs").iterdir()
        summary = json.loads((record / "summary.json").read_text())
        stopped = [c["id"] for c in summary["checks"] if c["id"].startswith("notebook.")]
        assert not stopped, f"notebooks stopped as {user.pw_name}: {stopped}\n{proc.stdout[-3000:]}"
        by_id = {c["id"]: c for c in summary["checks"]}
        assert by_id["engine.reachable"]["status"] == "fail" and by_id["engine.reachable"]["cause"]
    finally:
        shutil.rmtree(here, ignore_errors=True)


@pytest.mark.parametrize(
    "command, says",
    [
        (["lab", "a-file/ws", "--no-browser"], "cannot write the workspace"),
        (["lab", "/proc/gpu-runbook-ws", "--no-browser"], "cannot write the workspace"),
        (["bundle", "--out", "/proc/gpu-runbook-bundle.tar.gz"], "cannot write the bundle"),
        (["fleet-report", "fleet", "--out", "a-file"], "cannot write the fleet report"),
        (["fleet-report", "fleet", "--out", "a-file/report"], "cannot write the fleet report"),
    ],
)
def test_an_output_that_cannot_be_written_is_said_in_one_line_with_exit_2(tmp_path, command, says):
    """As run says it for --out: the path, why, and what to do; no traceback, no file changed."""
    (tmp_path / "a-file").write_text("kept\n")
    shutil.copytree(REPO / "records" / "h100x1-2026-12-07-toolkit", tmp_path / "fleet" / "gpu-h100")
    proc = gpu_runbook(*command, cwd=tmp_path, timeout=120)
    assert_clean(proc)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert proc.stderr.startswith(f"gpu-runbook: {says}") and len(proc.stderr.splitlines()) == 2, proc.stderr
    assert (tmp_path / "a-file").read_text() == "kept\n"


def test_a_bundle_is_never_readable_by_others_nor_written_over(tmp_path):
    proc = gpu_runbook("bundle", "--out", "b.tar.gz", cwd=tmp_path, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "b.tar.gz").stat().st_mode & 0o777 == 0o600
    proc = gpu_runbook("bundle", "--out", "b.tar.gz", cwd=tmp_path, timeout=300)
    assert proc.returncode == 2 and "exists and is kept" in proc.stderr, proc.stderr
