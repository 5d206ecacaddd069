"""The README's run command, end to end: papermill over every notebook, against the real engine.

This machine has no NVIDIA GPU, driver or toolkit, so the record must say exactly that.
"""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from runbook import engine

from conftest import TEST_IMAGE

pytestmark = pytest.mark.engine
REPO = Path(__file__).resolve().parents[2]
NO_GPU = not Path("/dev/nvidiactl").exists()


def run_cli(*args, cwd=REPO):
    return subprocess.run([sys.executable, "-m", "runbook", "run", *args], capture_output=True, text=True,
                          cwd=cwd, timeout=900)


def checks(out_dir):
    summary = json.loads((Path(out_dir) / "summary.json").read_text())
    return summary, {c["id"]: c for c in summary["checks"]}


def assert_status(by_id, check_id, status):
    c = by_id[check_id]
    assert c["status"] == status, f"{check_id}: expected {status}, got {c['status']}: {c['detail']}"


@pytest.fixture(scope="module")
def default_run(tmp_path_factory, client):
    out = tmp_path_factory.mktemp("run") / "record"
    proc = run_cli("--out", str(out))
    return proc, out


@pytest.mark.skipif(not NO_GPU, reason="asserts the record of a host without an NVIDIA GPU")
def test_default_run_on_a_host_without_gpu(default_run):
    proc, out = default_run
    assert proc.returncode == 1, proc.stderr[-3000:]
    summary, by_id = checks(out)
    assert summary["verdict"] == "fail"
    assert_status(by_id, "host.driver", "fail")
    assert "no NVIDIA driver/GPU found" in by_id["host.driver"]["detail"]
    assert by_id["host.driver"]["remediation"]
    assert_status(by_id, "engine.reachable", "pass")
    for check_id in ("cuda.image", "gpu.nvidia_smi", "gpu.same_gpus", "pytorch.image", "pytorch.cuda_available",
                     "pytorch.matmul"):
        assert_status(by_id, check_id, "skip")
    assert "no NVIDIA driver/GPU found" in by_id["cuda.image"]["detail"]
    assert "no NVIDIA driver/GPU found" in by_id["pytorch.image"]["detail"]
    assert [n["status"] for n in summary["notebooks"]] == ["ran"] * 5, summary["notebooks"]


def test_every_check_has_a_unique_id_and_every_failure_a_fix(default_run):
    _, out = default_run
    summary, by_id = checks(out)
    assert len(by_id) == len(summary["checks"])
    for c in summary["checks"]:
        assert c["status"] in ("pass", "fail", "warn", "skip")
        assert isinstance(c["duration_s"], float)
        if c["status"] == "fail":
            assert c["remediation"], f"{c['id']} failed without a fix"
        if c["status"] == "skip":
            assert c["detail"], f"{c['id']} skipped without a reason"


def test_the_record_folder(default_run):
    _, out = default_run
    names = sorted(p.name for p in out.iterdir())
    assert names == ["01-preflight.ipynb", "02-container-toolkit.ipynb", "03-gpu-in-container.ipynb",
                     "04-pytorch-in-container.ipynb", "05-why-no-nvcc.ipynb", "06-report.ipynb",
                     "report.html", "summary.json"]
    page = (out / "report.html").read_text()
    summary, by_id = checks(out)
    assert "host.driver" in page and by_id["host.driver"]["detail"] in page
    report_nb = (out / "06-report.ipynb").read_text()
    assert f"verdict: {summary['verdict']}" in report_nb


def test_toolkit_state_on_this_machine(default_run):
    _, out = default_run
    _, by_id = checks(out)
    assert_status(by_id, "toolkit.installed", "fail")
    assert_status(by_id, "toolkit.plan", "pass")
    assert "apt-get install -y nvidia-container-toolkit" in by_id["toolkit.plan"]["evidence"]


def test_a_local_cuda_image_fails_with_the_toolkit_cause(client, tmp_path):
    out = tmp_path / "record"
    proc = run_cli("--out", str(out), "-p", "cuda_image", TEST_IMAGE, "-p", "pytorch_image", TEST_IMAGE,
                   "-p", "pull", "never", "--only", "3", "--only", "4")
    assert proc.returncode == 1, proc.stderr[-3000:]
    _, by_id = checks(out)
    assert_status(by_id, "cuda.pull", "pass")
    for check_id in ("gpu.nvidia_smi", "pytorch.import"):
        assert_status(by_id, check_id, "fail")
        assert "NVIDIA Container Toolkit not installed or engine not restarted" in by_id[check_id]["cause"]
        assert "nvidia-ctk runtime configure" in by_id[check_id]["remediation"]
        assert "Traceback" not in by_id[check_id]["detail"]
    assert "Traceback" not in (out / "03-gpu-in-container.ipynb").read_text()
    assert_status(by_id, "gpu.same_gpus", "skip")
    assert not [c for c in engine.labelled(client)], "containers left behind"


def test_manual_mode_without_a_driver_says_so(client, tmp_path):
    out = tmp_path / "record"
    proc = run_cli("--out", str(out), "-p", "cuda_image", TEST_IMAGE, "-p", "gpu_mode", "manual", "-p", "pull", "never",
                   "--only", "gpu-in-container")
    assert proc.returncode == 1, proc.stderr[-3000:]
    _, by_id = checks(out)
    assert_status(by_id, "gpu.nvidia_smi", "fail")
    if NO_GPU:
        assert "needs the host's NVIDIA driver" in by_id["gpu.nvidia_smi"]["detail"]


@pytest.fixture
def flavoured_images(client):
    """The test image (no nvcc) under tags that name a CUDA flavour, as nvidia/cuda's tags do."""
    image = client.images.get(TEST_IMAGE)
    tags = {f: f"runbook-test/cuda:12.8.1-{f}-ubuntu24.04" for f in ("runtime", "devel")}
    for tag in tags.values():
        image.tag(tag)
    yield tags
    for tag in tags.values():
        client.images.remove(tag)


def test_step_5_judges_nvcc_by_the_flavour_the_tag_names(client, tmp_path, flavoured_images):
    out = tmp_path / "record"
    proc = run_cli("--out", str(out), "-p", "cuda_image", flavoured_images["runtime"], "-p", "pytorch_image", TEST_IMAGE,
                   "-p", "devel_image", flavoured_images["devel"], "-p", "pull", "never", "--only", "5")
    assert proc.returncode == 1, proc.stderr[-3000:]
    _, by_id = checks(out)
    assert_status(by_id, "nvcc.cuda_image", "pass")  # a runtime image without nvcc: as expected
    assert "no nvcc, as expected" in by_id["nvcc.cuda_image"]["detail"]
    assert_status(by_id, "nvcc.pytorch_image", "skip")  # no flavour in the tag: nothing to judge
    assert "names no flavour" in by_id["nvcc.pytorch_image"]["detail"]
    assert_status(by_id, "nvcc.devel_image", "fail")  # "devel" in the tag, but no nvcc in it
    assert "only devel images ship nvcc" in by_id["nvcc.devel_image"]["cause"]
    assert "devel" in by_id["nvcc.devel_image"]["remediation"]
    assert not engine.labelled(client)


def test_unreachable_engine(tmp_path):
    out = tmp_path / "record"
    proc = run_cli("--out", str(out), "-p", "docker_host", "unix:///nonexistent.sock")
    assert proc.returncode == 1, proc.stderr[-3000:]
    _, by_id = checks(out)
    assert_status(by_id, "engine.reachable", "fail")
    assert "not installed, not running" in by_id["engine.reachable"]["cause"]
    for check_id in ("toolkit.engine_runtime", "toolkit.cdi", "nvcc.devel_image"):
        assert_status(by_id, check_id, "skip")
        assert "no Docker engine answers" in by_id[check_id]["detail"], by_id[check_id]
    for check_id in ("cuda.pull", "gpu.nvidia_smi", "pytorch.import"):
        assert_status(by_id, check_id, "skip")


@pytest.mark.parametrize("args, words", [
    (["-p", "nosuch", "1"], "parameter 'nosuch': unknown parameter"),
    (["-p", "cuda_image", "not an image!"], "parameter 'cuda_image'"),
    (["-p", "timeout_s", "soon"], "parameter 'timeout_s'"),
    (["--only", "9"], "names no step"),
])
def test_bad_input_exits_2_before_anything_runs(client, tmp_path, args, words):
    before = {c.id for c in client.containers.list(all=True)}
    out = tmp_path / "record"
    proc = run_cli("--out", str(out), *args)
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    assert words in proc.stderr
    assert not out.exists(), "nothing may be written for a run that could not be made"
    assert {c.id for c in client.containers.list(all=True)} == before


def test_a_parameters_file_and_its_errors(tmp_path):
    good = tmp_path / "p.yaml"
    good.write_text("docker_host: unix:///nonexistent.sock\nmin_free_disk_gib: 5\n")
    proc = run_cli("--out", str(tmp_path / "r1"), "-f", str(good), "--only", "1")
    assert proc.returncode == 1
    _, by_id = checks(tmp_path / "r1")
    assert "nonexistent.sock" in by_id["engine.reachable"]["detail"]
    bad = tmp_path / "bad.yaml"
    bad.write_text("- just\n- a list\n")
    proc = run_cli("--out", str(tmp_path / "r2"), "-f", str(bad))
    assert proc.returncode == 2 and "must be a mapping" in proc.stderr


def test_an_existing_record_is_never_overwritten(tmp_path):
    out = tmp_path / "record"
    out.mkdir()
    (out / "summary.json").write_text('{"verdict": "pass"}')
    proc = run_cli("--out", str(out), "--only", "1")
    assert proc.returncode == 2 and "not empty" in proc.stderr
    assert (out / "summary.json").read_text() == '{"verdict": "pass"}'


def test_a_missing_notebook_exits_2(tmp_path):
    src = tmp_path / "notebooks"
    src.mkdir()
    proc = run_cli("--out", str(tmp_path / "r"), "--notebooks", str(src))
    assert proc.returncode == 2 and "missing" in proc.stderr


def test_no_runbook_container_is_left(client, default_run):
    assert not engine.labelled(client)


def test_applying_the_toolkit_plan_from_an_unreachable_mirror_fails_cleanly(tmp_path):
    """Nothing is installed or changed: the first step cannot fetch the key."""
    out = tmp_path / "record"
    before = Path("/etc/docker/daemon.json").read_bytes() if Path("/etc/docker/daemon.json").exists() else None
    proc = run_cli("--out", str(out), "--only", "2", "-p", "toolkit_apply", "true",
                   "-p", "toolkit_mirror", "http://127.0.0.1:9/libnvidia-container")
    assert proc.returncode == 1, proc.stderr[-2000:]
    _, by_id = checks(out)
    if os.geteuid() == 0:
        assert_status(by_id, "toolkit.apply", "fail")
        assert "cannot fetch http://127.0.0.1:9/libnvidia-container/gpgkey" in by_id["toolkit.apply"]["detail"]
        assert "toolkit_mirror" in by_id["toolkit.apply"]["remediation"]
    else:
        assert "needs root" in by_id["toolkit.apply"]["detail"]
    after = Path("/etc/docker/daemon.json").read_bytes() if Path("/etc/docker/daemon.json").exists() else None
    assert before == after
    assert not Path("/usr/share/keyrings/nvidia-container-toolkit-keyring.gpg").exists()


@pytest.mark.parametrize("os_name, manager", [("ubuntu:22.04", "apt"), ("ubuntu:24.04", "apt"), ("debian:12", "apt"),
                                              ("rhel:9", "dnf"), ("fedora", "dnf"), ("opensuse-leap:15.6", "zypper")])
def test_the_cli_shows_the_plan_for_each_os(os_name, manager):
    proc = subprocess.run([sys.executable, "-m", "runbook", "plan", "--os", os_name], capture_output=True, text=True,
                          cwd=REPO, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(f"# {manager} plan for {os_name}")
    assert "nvidia-ctk runtime configure --runtime=docker" in proc.stdout
    assert "apt-key" not in proc.stdout


def test_the_cli_refuses_an_os_without_a_plan():
    proc = subprocess.run([sys.executable, "-m", "runbook", "plan", "--os", "arch"], capture_output=True, text=True,
                          cwd=REPO, timeout=60)
    assert proc.returncode == 2 and "no plan for arch" in proc.stderr
