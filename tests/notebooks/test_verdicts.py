"""Verdicts that mean "observed working", through the CLI against the real engine, on hosts this machine
is not: a stand-in nvidia-smi (tests/standin, answering from tests/fixtures/drivers) plays the article's
Quadro M6000 on driver 470, a GeForce on 470, a driver too old for CUDA 11 and the H200. This machine has
no GPU and no toolkit, so GPU containers fail here; what is asserted is the verdict, the images chosen for
each driver and the explanation. The CUDA images are the test image under NVIDIA's names, with the
NVIDIA_REQUIRE_CUDA of NVIDIA's Dockerfiles (tests/fixtures/cuda)."""

import json
import os
import subprocess
import sys

import pytest

from tests.utils.cli import assert_status, checks, run_cli
from tests.utils.engine import labelled_container
from tests.utils.paths import REPO

pytestmark = pytest.mark.engine
DRIVERS = REPO / "tests" / "fixtures" / "drivers"
REQUIRE = {
    e["image"]: e["NVIDIA_REQUIRE_CUDA"]
    for e in json.loads((REPO / "tests" / "fixtures" / "cuda" / "require_cuda.json").read_text())
    if "quadro" in e["NVIDIA_REQUIRE_CUDA"] or e["image"].startswith("nvidia/cuda:11.4.3")
}
IMAGES = {
    "nvidia/cuda:11.4.3-base-ubuntu20.04": REQUIRE["nvidia/cuda:11.4.3-base-ubuntu20.04"],
    "nvidia/cuda:11.7.1-base-ubuntu22.04": REQUIRE["nvidia/cuda:11.7.1-base-ubuntu22.04"],
    "pytorch/pytorch:2.7.1-cuda11.8-cudnn9-runtime": None,  # PyTorch's images declare no requirement
}


@pytest.fixture(scope="module")
def named_images(client):
    """The test image under the names auto chooses for a 470 driver, with those images' environment."""
    with labelled_container(client, ["true"]) as c:
        c.wait(timeout=60)
        for ref, require in IMAGES.items():
            changes = [f'ENV NVIDIA_REQUIRE_CUDA="{require}"'] if require else []
            repo, tag = ref.rsplit(":", 1)
            c.commit(repository=repo, tag=tag, changes=changes)
    yield IMAGES
    for ref in IMAGES:
        client.images.remove(ref)


def as_host(xml: str) -> dict:
    """The environment of a run on a host whose nvidia-smi answers from ``xml`` (the stand-in on PATH)."""
    return {
        **os.environ,
        "PATH": f"{REPO / 'tests' / 'standin'}:{os.environ['PATH']}",
        "RUNBOOK_STANDIN_XML": str(DRIVERS / xml),
    }


def run_as(xml, out, *args):
    proc = run_cli("--out", str(out), "-p", "pull", "never", *args, env=as_host(xml))
    summary, by_id = checks(out)
    return proc, summary, by_id


def test_the_articles_host_gets_images_for_its_driver_and_hears_why(named_images, tmp_path):
    proc, summary, by_id = run_as("article-m6000-470.xml", tmp_path / "r", "--only", "3", "--only", "4")
    image = by_id["cuda.image"]
    assert "nvidia/cuda:11.4.3-base-ubuntu20.04" in image["detail"], image["detail"]
    assert image["status"] == "warn", "11.4.3 is past NVIDIA's support: the choice warns that the tag may go"
    assert "forward compatibility" in image["detail"] and "R580" in image["detail"], image["detail"]
    assert_status(by_id, "cuda.pull", "pass")
    assert_status(by_id, "cuda.requirement", "pass")
    assert "met natively" in by_id["cuda.requirement"]["detail"]
    assert "pytorch/pytorch:2.7.1-cuda11.8-cudnn9-runtime" in by_id["pytorch.image"]["detail"]
    assert "minor-version compatibility" in by_id["pytorch.image"]["detail"]
    assert_status(by_id, "pytorch.requirement", "pass")
    assert "minor-version compatibility" in by_id["pytorch.requirement"]["detail"]
    assert_status(by_id, "gpu.nvidia_smi", "fail")  # no GPU and no toolkit on this machine
    assert summary["verdict"] == "fail", summary["verdict_reason"]
    assert proc.returncode == 1
    assert "verdict: fail" in proc.stdout


def test_a_run_asks_the_driver_once_for_all_its_steps(tmp_path):
    """nvidia-smi -q -x is slow on a busy GPU host: the runner asks once and every step reads the answer."""
    calls = tmp_path / "calls"
    env = {**as_host("h200-580.xml"), "RUNBOOK_STANDIN_LOG": str(calls)}
    run_cli("--out", str(tmp_path / "r"), "-p", "pull", "never", env=env)
    summary, by_id = checks(tmp_path / "r")
    assert_status(by_id, "host.driver", "pass")
    assert summary["driver_version"] == "580.159.04" and summary["steps"][0] == "01-preflight"
    assert calls.read_text().splitlines().count("-q -x") == 1, calls.read_text()


def test_the_articles_puzzle_cuda_11_7_on_a_470_quadro_is_forward_compatibility(named_images, tmp_path):
    _, _, by_id = run_as(
        "article-m6000-470.xml",
        tmp_path / "r",
        "--only",
        "3",
        "-p",
        "cuda_image",
        "nvidia/cuda:11.7.1-base-ubuntu22.04",
    )
    req = by_id["cuda.requirement"]
    assert req["status"] == "pass", req["detail"]
    assert "brand=quadro,driver>=470,driver<471" in req["detail"]
    assert "forward compatibility" in req["detail"]


def test_a_geforce_on_470_is_warned_of_error_804(named_images, tmp_path):
    _, _, by_id = run_as(
        "geforce-1080ti-470.xml",
        tmp_path / "r",
        "--only",
        "3",
        "-p",
        "cuda_image",
        "nvidia/cuda:11.7.1-base-ubuntu22.04",
    )
    req = by_id["cuda.requirement"]
    assert req["status"] == "warn", req["detail"]
    assert "804" in req["detail"]


def test_a_driver_too_old_for_any_cuda_11_image_is_incomplete_never_pass(client, tmp_path):
    proc, summary, by_id = run_as("geforce-1080-418.xml", tmp_path / "r", "--only", "3", "--only", "4")
    for check_id in ("cuda.image", "pytorch.image"):
        assert_status(by_id, check_id, "skip")
        assert by_id[check_id]["skip_kind"] == "blocked"
        assert "driver 418.226.00" in by_id[check_id]["detail"] and "450.80.02" in by_id[check_id]["detail"]
    assert summary["verdict"] == "incomplete", summary["verdict_reason"]
    assert "gpu.nvidia_smi" in summary["verdict_reason"]
    assert proc.returncode == 1
    assert "verdict: incomplete" in proc.stdout


def test_a_current_driver_with_every_image_absent_and_pull_never_is_incomplete(client, tmp_path):
    proc, summary, by_id = run_as("h200-580.xml", tmp_path / "r", "--only", "3", "--only", "4", "--only", "5")
    assert "nvidia/cuda:13.0.3-base-ubuntu24.04" in by_id["cuda.image"]["detail"]
    assert "pytorch/pytorch:2.9.1-cuda13.0-cudnn9-runtime" in by_id["pytorch.image"]["detail"]
    for check_id in ("cuda.pull", "pytorch.pull"):
        assert_status(by_id, check_id, "skip")
        assert by_id[check_id]["skip_kind"] == "blocked", "an image absent with pull=never blocks, not chosen"
    assert summary["verdict"] == "incomplete", summary["verdict_reason"]
    assert proc.returncode == 1


def test_the_report_alone_is_never_pass(tmp_path):
    proc = run_cli("--out", str(tmp_path / "r"), "--only", "6")
    summary, _ = checks(tmp_path / "r")
    assert summary["verdict"] == "incomplete"
    assert summary["verdict_reason"] == "no check ran"
    assert proc.returncode == 1


def test_an_unreachable_engine_is_never_pass(tmp_path):
    proc, summary, by_id = run_as("h200-580.xml", tmp_path / "r", "-p", "docker_host", "unix:///nonexistent.sock")
    assert_status(by_id, "engine.reachable", "fail")
    assert summary["verdict"] == "fail"
    assert proc.returncode == 1


def test_chosen_skips_are_recorded_as_chosen(tmp_path):
    _, _, by_id = run_as("h200-580.xml", tmp_path / "r", "--only", "2")
    assert_status(by_id, "toolkit.apply", "skip")
    assert by_id["toolkit.apply"]["skip_kind"] == "chosen"


def test_plain_papermill_fails_on_a_failed_check_after_showing_it(tmp_path):
    """strict (the notebooks' default): a failed check raises in its cell once its output is shown."""
    out = tmp_path / "01.ipynb"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "papermill",
            str(REPO / "notebooks" / "01-preflight.ipynb"),
            str(out),
            "-p",
            "interactive",
            "false",
            "-p",
            "docker_host",
            "unix:///nonexistent.sock",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert proc.returncode != 0, "papermill must exit non-zero when a check failed"
    nb = json.loads(out.read_text())
    outputs = [o for c in nb["cells"] if c["cell_type"] == "code" for o in c.get("outputs", [])]
    kinds = [o["output_type"] for o in outputs]
    assert "error" in kinds and kinds.index("display_data") < kinds.index("error"), kinds
    error = next(o for o in outputs if o["output_type"] == "error")
    assert error["ename"] == "ChecksFailed" and "engine.reachable" in error["evalue"], error["evalue"]


def test_in_jupyterlab_mode_a_failed_check_never_raises(tmp_path):
    out = tmp_path / "01.ipynb"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "papermill",
            str(REPO / "notebooks" / "01-preflight.ipynb"),
            str(out),
            "-p",
            "docker_host",
            "unix:///nonexistent.sock",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
