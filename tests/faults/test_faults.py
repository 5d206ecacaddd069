"""Faults, each with a bounded, diagnosed answer and an intact record: a registry that stalls, an engine
that hangs or dies mid-step, signals in the middle of a run, two runs given one folder, a folder that
cannot be written, containers of a run that died. Real dockerd, real registry protocol on loopback, real
file systems (tmpfs mounted read-only and full, as root), real signals."""

import os
import signal
import subprocess
import sys
import threading
import time

import pytest

from runbook import engine
from tests.faults.servers import SilentSocket, StallingRegistry
from tests.utils.cli import checks, run_cli
from tests.utils.engine import TEST_IMAGE, labelled_container, runbook_labels
from tests.utils.paths import REPO
from tests.utils.socket_cutter import SocketCutter

pytestmark = pytest.mark.engine


def start_cli(*args, env=None) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "runbook", "run", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
        env=env,
        start_new_session=True,
    )


def test_a_stalled_registry_ends_the_pull_at_its_timeout_with_the_cause(client, tmp_path, fault_row):
    registry = StallingRegistry()
    try:
        start = time.monotonic()
        proc = run_cli(
            out=tmp_path / "r", only=3, cuda_image=f"{registry.address}/stalled/image:1", pull_timeout_s=20, timeout=300
        )
        took = time.monotonic() - start
    finally:
        registry.close()
    summary, by_id = checks(tmp_path / "r")
    fault_row(proc.returncode, by_id["cuda.pull"]["cause"][:60])
    assert took < 90, f"the run took {took:.0f} s: the 20 s pull timeout did not hold"
    assert by_id["cuda.pull"]["status"] == "fail", by_id["cuda.pull"]["detail"]
    assert "no progress for 20 s" in by_id["cuda.pull"]["detail"]
    assert "stopped answering" in by_id["cuda.pull"]["cause"]
    assert proc.returncode == 1
    assert summary["verdict"] == "fail"


def test_an_engine_that_accepts_and_never_answers_is_diagnosed_quickly(tmp_path, fault_row):
    silent = SilentSocket(str(tmp_path / "hung.sock"))
    try:
        start = time.monotonic()
        proc = run_cli(out=tmp_path / "r", only=1, docker_host=f"unix://{tmp_path / 'hung.sock'}", timeout=300)
        took = time.monotonic() - start
    finally:
        silent.close()
    summary, by_id = checks(tmp_path / "r")
    reachable = by_id["engine.reachable"]
    fault_row(proc.returncode, reachable["cause"][:60])
    assert took < 90, f"the run took {took:.0f} s with a hung engine"
    assert reachable["status"] == "fail"
    assert "did not answer within" in reachable["detail"]
    assert "did not answer in time" in reachable["cause"]
    assert proc.returncode == 1


def test_an_engine_that_dies_mid_step_is_a_diagnosed_failure_not_a_traceback(client, tmp_path, fault_row):
    """The connection to the engine is cut while step 3's checks run: every check still reports."""
    proxy = SocketCutter(str(tmp_path / "engine.sock"))
    timer = threading.Timer(4, proxy.cut)
    timer.start()
    proc = run_cli(
        out=tmp_path / "r",
        only=(3, 5),
        docker_host=f"unix://{tmp_path / 'engine.sock'}",
        cuda_image=TEST_IMAGE,
        pull="never",
        timeout_s=60,
        timeout=600,
    )
    timer.cancel()
    summary, by_id = checks(tmp_path / "r")
    errors = [n for n in summary["notebooks"] if n["status"] == "error"]
    fault_row(proc.returncode, "; ".join(sorted({c["cause"][:40] for c in by_id.values() if c["status"] == "fail"})))
    assert errors == [], f"a notebook stopped on an error: {errors}"
    assert proc.returncode in (1,), proc.stderr[-2000:]
    assert "Traceback" not in (tmp_path / "r" / "03-gpu-in-container.ipynb").read_text()
    engine.remove_leftovers(client, run=None)


@pytest.mark.parametrize("sig, code", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_an_interrupted_run_writes_an_incomplete_record_and_removes_its_containers(
    client, tmp_path, fault_row, sig, code
):
    registry = StallingRegistry()  # step 3's pull hangs there: a run certain to be in the middle of a step
    try:
        proc = start_cli(
            "--out",
            str(tmp_path / "r"),
            "--only",
            "1",
            "--only",
            "3",
            "-p",
            "cuda_image",
            f"{registry.address}/stalled/image:1",
        )
        deadline = time.monotonic() + 120
        while not (tmp_path / "r" / "01-preflight.ipynb").exists() and time.monotonic() < deadline:
            time.sleep(0.5)
        time.sleep(3)  # into step 3, waiting on the registry
        start = time.monotonic()
        proc.send_signal(sig)
        _, stderr = proc.communicate(timeout=120)
        took = time.monotonic() - start
    finally:
        registry.close()
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    summary, _ = checks(tmp_path / "r")
    fault_row(proc.returncode, summary["verdict_reason"])
    assert proc.returncode == code, stderr[-2000:]
    assert took < 60, f"{took:.0f} s from the signal to the exit"
    assert summary["verdict"] == "incomplete"
    assert summary["interrupted"]["step"] == "03-gpu-in-container"
    assert "Traceback" not in stderr
    assert not (tmp_path / "r" / ".gpu-runbook-claim").exists()


# The real CLI, with one stand-in: the run's plan is a container that sleeps, so that a container started ahead
# is certain to be running when the signal comes (a run's own plan ends its containers within seconds here).
SLEEPING_PLAN = """
import sys
from runbook import engine, runner
from runbook.engine import ahead

def plan(p, steps, first):
    for f in first:
        f.result()
    return engine.connect(p["docker_host"]), [ahead.Planned(sys.argv[1], ["sleep", "600"], {}, 900)]

runner.plan_ahead = plan
from runbook.cli import main
sys.exit(main(sys.argv[2:]))
"""


@pytest.mark.parametrize("sig, code", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
@pytest.mark.parametrize("into", [0, 4], ids=["kernel-starting", "in-step-3"])  # seconds after the container ran
def test_an_interrupt_removes_the_containers_started_ahead(client, tmp_path, fault_row, sig, code, into):
    registry = StallingRegistry()  # step 3's pull hangs: the run is inside a step when the signal comes
    args = ["run", "--out", str(tmp_path / "r"), "--only", "3", "-p", "cuda_image", f"{registry.address}/stalled/i:1"]
    proc = subprocess.Popen(
        [sys.executable, "-c", SLEEPING_PLAN, TEST_IMAGE, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
        start_new_session=True,
    )
    try:
        deadline, sleeping = time.monotonic() + 120, []
        while not sleeping and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.3)
            sleeping = [
                c for c in client.containers.list(filters={"label": engine.LABEL}) if c.attrs["Args"] == ["600"]
            ]
        assert sleeping, "no container was started ahead"
        time.sleep(into)
        proc.send_signal(sig)
        _, stderr = proc.communicate(timeout=120)
    finally:
        registry.close()
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    summary, _ = checks(tmp_path / "r")
    fault_row(proc.returncode, summary["verdict_reason"])
    assert proc.returncode == code, stderr[-2000:]
    assert summary["verdict"] == "incomplete" and summary["ahead"] == {"started": 1, "taken": 0}
    assert summary["interrupted"]["step"] == ("03-gpu-in-container" if into else None)
    run = sleeping[0].labels[f"{engine.LABEL}.run"]
    assert client.containers.list(all=True, filters={"label": f"{engine.LABEL}.run={run}"}) == []
    assert "Traceback" not in stderr


def test_two_runs_given_one_new_folder_one_runs_and_the_other_is_refused(client, tmp_path, fault_row):
    out = tmp_path / "shared"
    procs = [start_cli("--out", str(out), "--only", "1") for _ in range(2)]
    results = [(p.wait(timeout=300), p.stderr.read()) for p in procs]
    codes = sorted(code for code, _ in results)
    fault_row(codes, next((e.strip().splitlines()[0] for c, e in results if c == 2), ""))
    assert codes == [1, 2], results
    refused = next(err for code, err in results if code == 2)
    assert "not empty" in refused or "claimed" in refused
    summary, _ = checks(out)
    assert summary["steps"] == ["01-preflight"]


@pytest.fixture
def mounted(tmp_path):
    """A tmpfs of 2 MiB, mounted here for the test (root only)."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    point = tmp_path / "fs"
    point.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(point)], check=True)
    yield point
    subprocess.run(["umount", "-l", str(point)], check=False)


def test_a_read_only_folder_is_refused_before_anything_runs(mounted, fault_row):
    subprocess.run(["mount", "-o", "remount,ro", str(mounted)], check=True)
    proc = run_cli("--out", str(mounted / "record"), "--only", "1", timeout=120)
    fault_row(proc.returncode, proc.stderr.strip().splitlines()[0] if proc.stderr else "")
    assert proc.returncode == 2, proc.stderr
    assert "cannot write the record" in proc.stderr and "Read-only" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_a_full_disk_is_said_with_the_folder_and_leaves_no_record_claiming_success(mounted, fault_row):
    with open(mounted / "filler", "wb") as f:  # leave a few KiB: enough to claim, not for notebooks
        try:
            f.write(b"\0" * (2 << 20))
        except OSError:
            pass
    (mounted / "record").mkdir(exist_ok=True)
    proc = run_cli("--out", str(mounted / "record"), "--only", "1", timeout=300)
    fault_row(proc.returncode, proc.stderr.strip().splitlines()[-1] if proc.stderr else "")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "No space left" in proc.stderr
    assert "Traceback" not in proc.stderr
    summary = mounted / "record" / "summary.json"
    assert not summary.exists() or '"verdict": "pass"' not in summary.read_text()


def test_clean_removes_a_dead_runs_containers_at_once_and_never_a_live_ones(client, tmp_path, fault_row):
    dead = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(0.1)"])
    dead.wait()
    boot = open("/proc/sys/kernel/random/boot_id").read().strip()
    import socket

    gone = f"{socket.gethostname()}/{boot}/{dead.pid}/1"  # a process that ended (no such start time)
    far = time.time() + 3600  # deadlines far away: only the owner decides
    with (
        labelled_container(client, labels={**runbook_labels("dead-run", far), f"{engine.LABEL}.owner": gone}) as c1,
        labelled_container(
            client, labels={**runbook_labels("live-run", far), f"{engine.LABEL}.owner": engine.owner()}
        ) as c2,
    ):
        proc = subprocess.run([sys.executable, "-m", "runbook", "clean"], capture_output=True, text=True, timeout=60)
        fault_row(proc.returncode, proc.stdout.strip())
        ids = {c.id for c in engine.labelled(client)}
        assert c1.id not in ids, "the dead run's container is still there"
        assert c2.id in ids, "a live run's container was removed"
        assert proc.returncode == 0


def test_an_out_folder_with_braces_is_taken_literally(client, tmp_path, fault_row):
    out = tmp_path / "{interactive}" / "{nosuch}"
    proc = run_cli("--out", str(out), "--only", "1", timeout=300)
    fault_row(proc.returncode, "literal path")
    summary, _ = checks(out)
    assert summary["steps"] == ["01-preflight"]
    assert not (tmp_path / "False").exists()
