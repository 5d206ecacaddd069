"""The operator's run: quiet (no kernel-transport warning), a headline first, live progress while a real
pull runs from the loopback registry, machine-readable results (--json, --junit-xml, summary.json's
schema version and host facts), and containers that need no network running on an engine without a
bridge network (a second dockerd started for the test with --bridge=none)."""

import fcntl
import json
import os
import pty
import shutil
import struct
import subprocess
import sys
import termios
import time
import uuid
import xml.etree.ElementTree as ET
from pathlib import Path

import docker
import pytest

from tests.utils.cli import checks, run_cli
from tests.utils.engine import TEST_IMAGE
from tests.utils.paths import REPO
from tests.utils.registry import registry_only_image

pytestmark = pytest.mark.engine


def test_a_run_prints_no_kernel_transport_warning_and_a_headline_first(client, tmp_path):
    proc = run_cli("--out", str(tmp_path / "r"), "--only", "1")
    assert "without encryption" not in proc.stderr, proc.stderr[-2000:]
    assert "WARNING" not in proc.stderr, proc.stderr[-2000:]
    first = proc.stdout.splitlines()[0]
    assert first.startswith(("First rung that does not work", "Every rung")), first


def test_json_prints_the_summary_and_junit_xml_has_a_case_per_check(client, tmp_path):
    junit = tmp_path / "checks.xml"
    proc = run_cli("--out", str(tmp_path / "r"), "--only", "1", "--only", "2", "--json", "--junit-xml", str(junit))
    printed = json.loads(proc.stdout)
    summary, by_id = checks(tmp_path / "r")
    assert printed == summary, "--json prints summary.json itself"
    cases = ET.parse(junit).getroot().findall(".//testcase")
    assert sorted(c.get("name") for c in cases) == sorted(by_id)
    failed = {c.get("name") for c in cases if c.find("failure") is not None}
    assert failed == {i for i, c in by_id.items() if c["status"] == "fail"}
    skipped = [c.find("skipped").get("message") for c in cases if c.find("skipped") is not None]
    assert all(m.startswith(("chosen:", "blocked:")) for m in skipped), skipped


def test_quiet_prints_only_the_verdict(client, tmp_path):
    proc = run_cli("--out", str(tmp_path / "r"), "--only", "1", "--quiet")
    assert proc.stdout.splitlines()[0].startswith("verdict: "), proc.stdout
    assert len(proc.stdout.splitlines()) == 2, proc.stdout


def test_the_summary_has_a_schema_version_and_the_host_facts_at_the_top(client, tmp_path):
    run_cli("--out", str(tmp_path / "r"), "--only", "1")
    summary, by_id = checks(tmp_path / "r")
    assert summary["schema_version"] == 2
    assert summary["engine_version"] == by_id["engine.reachable"]["data"]["version"]
    assert summary["kernel"] == by_id["host.os"]["data"]["kernel"]
    for key in ("os", "driver_version", "cuda_ceiling", "gpus", "toolkit_version"):
        assert key in summary, f"summary.json lacks {key}"


def test_a_closed_pipe_ends_quietly():
    proc = subprocess.run(
        f"{sys.executable} -m runbook params | head -1",
        shell=True,
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60,
    )
    assert "Traceback" not in proc.stderr and "BrokenPipe" not in proc.stderr, proc.stderr


def shell(command: str, cwd) -> subprocess.CompletedProcess:
    """``command`` in bash, ``gpu-runbook`` being this checkout's CLI, with the exit code of its first part."""
    script = f'gpu-runbook() {{ {sys.executable} -m runbook "$@"; }}; {command}; echo rc=${{PIPESTATUS[0]}} >&3'
    return subprocess.run(
        ["bash", "-c", f"exec 3>{cwd}/rc; {script}"],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=300,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )


@pytest.mark.parametrize(
    "redirect",
    # | true: gone before the verdict (a failed run exited 0); 2>&-: no record was written, exit 1
    ["| true", ">&-", "2>&-", "<&- >&- 2>&-"],
)
def test_a_reader_that_leaves_or_a_closed_stream_keeps_the_record_and_the_verdicts_exit_code(tmp_path, redirect):
    proc = shell(f"gpu-runbook run --only 1 --out rec {redirect}", tmp_path)
    assert "Traceback" not in proc.stderr and "BrokenPipe" not in proc.stderr, proc.stderr
    summary, _ = checks(tmp_path / "rec")
    expected = 0 if summary["verdict"] == "pass" else 1
    assert (tmp_path / "rc").read_text().strip() == f"rc={expected}", (summary["verdict"], proc.stderr)


@pytest.mark.parametrize("command", ["params", "plan --os debian:12", "run --only 1 --quiet --out rec"])
def test_an_output_that_cannot_be_written_is_one_error_line(tmp_path, command):
    proc = shell(f"gpu-runbook {command} >/dev/full", tmp_path)
    assert (tmp_path / "rc").read_text().strip() == "rc=2", proc.stderr
    assert proc.stderr.strip().splitlines()[-1] == "gpu-runbook: cannot write the output: No space left on device"


@pytest.fixture
def pushed_image(client, registry):
    """A 30 MB image on the loopback registry and not on the engine: a run has to pull it for real."""
    with registry_only_image(client, registry, "progress", 30) as ref:
        yield ref


def run_pulling(ref: str, out: Path, stderr) -> subprocess.Popen:
    argv = [sys.executable, "-m", "runbook", "run", "--out", str(out), "--only", "3", "-p", "cuda_image", ref]
    return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=stderr, text=True, cwd=REPO)


def test_progress_lines_appear_while_a_real_pull_runs(pushed_image, tmp_path):
    """Not a terminal (a CI log): plain lines, each layer as it finishes, read while step 3 still runs (its
    executed notebook is written when the step ends)."""
    step = tmp_path / "r" / "03-gpu-in-container.ipynb"
    proc = run_pulling(pushed_image, tmp_path / "r", subprocess.PIPE)
    seen = []
    for line in proc.stderr:
        seen.append((step.exists(), line.rstrip()))
    proc.wait(timeout=300)
    layers = [(step_done, line) for step_done, line in seen if "layer" in line and "pull complete" in line]
    assert layers, [line for _, line in seen]
    assert not layers[0][0], "the layer lines came only after the step, not while the pull went on"
    assert not any("\r" in line or "%|" in line for _, line in seen), "a CI log gets no terminal bars"


def test_a_terminal_sees_a_pull_bar_and_the_check_that_runs(pushed_image, tmp_path):
    """stderr a terminal (a pty of 120 columns): tqdm's status line names the check running and a bar
    counts the pull's bytes, drawn while the pull goes on."""
    primary, secondary = pty.openpty()
    fcntl.ioctl(secondary, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    proc = run_pulling(pushed_image, tmp_path / "r", secondary)
    os.close(secondary)
    drawn = b""
    while True:
        try:
            chunk = os.read(primary, 65536)
        except OSError:  # the run closed the terminal
            break
        if not chunk:
            break
        drawn += chunk
    os.close(primary)
    proc.wait(timeout=300)
    text = drawn.decode(errors="replace")
    assert "pulling, " in text and "layers done" in text and "B/s" in text, text[-3000:]
    assert "03-gpu-in-container: nvidia-smi in a container with GPU access (gpu.nvidia_smi)" in text, text[-3000:]
    assert "layer " in text and "pull complete" in text, "the layers done are printed above the bars"
    assert "pulling: " not in text, "a terminal's bar replaces the periodic lines"


@pytest.fixture
def bridgeless_engine(client, tmp_path_factory):
    """A second dockerd with no bridge network (its own socket, data root and exec root), holding the
    test image: an engine like those on hosts where Docker's default network is missing."""
    if os.geteuid() != 0 or shutil.which("dockerd") is None:
        pytest.skip("a second dockerd needs root and dockerd")
    root = Path("/tmp") / f"rb-bridgeless-{uuid.uuid4().hex[:6]}"
    root.mkdir()
    sock = root / "docker.sock"
    log = open(root / "dockerd.log", "w")
    proc = subprocess.Popen(
        [
            "dockerd",
            "--bridge=none",
            "--iptables=false",
            "--ip6tables=false",
            "-H",
            f"unix://{sock}",
            "--data-root",
            str(root / "data"),
            "--exec-root",
            str(root / "exec"),
            "--pidfile",
            str(root / "dockerd.pid"),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        other = None
        for _ in range(60):
            try:
                other = docker.DockerClient(base_url=f"unix://{sock}")
                other.ping()
                break
            except docker.errors.DockerException:
                time.sleep(0.5)
        assert other is not None, (root / "dockerd.log").read_text()[-2000:]
        other.images.load(b"".join(client.images.get(TEST_IMAGE).save(named=TEST_IMAGE)))
        yield f"unix://{sock}"
    finally:
        proc.terminate()
        proc.wait(timeout=60)
        shutil.rmtree(root, ignore_errors=True)


def test_an_engine_without_a_bridge_runs_the_checks_that_need_no_network(bridgeless_engine, tmp_path):
    proc = run_cli(
        "--out",
        str(tmp_path / "r"),
        "--only",
        "3",
        "-p",
        "docker_host",
        bridgeless_engine,
        "-p",
        "cuda_image",
        TEST_IMAGE,
        "-p",
        "pull",
        "never",
    )
    _, by_id = checks(tmp_path / "r")
    runs = by_id["gpu.container_runs"]
    assert runs["status"] == "pass", f"{runs['detail']} {runs['evidence'][:500]} {proc.stderr[-500:]}"
