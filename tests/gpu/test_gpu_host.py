"""On a GPU host with a Docker engine (the GPU host kit: tests/gpu/kit): the GPU paths for real.

Images: RUNBOOK_GPU_CUDA_IMAGE and RUNBOOK_GPU_PYTORCH_IMAGE, by default those cuda_image=auto and
pytorch_image=auto pick for this host's driver (the GPU host kit serves them, made from the host's own
files). Skipped on hosts without an NVIDIA device node or without those images on the engine.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import docker
import pytest

from runbook import engine, host, toolkit
from runbook.errors import HostError
from runbook.host import cuda

pytestmark = pytest.mark.gpu
REPO = Path(__file__).resolve().parents[2]


def _auto(flavour: str) -> str:
    """The image the runbook's auto choice picks for this host's driver (13.0 where there is none)."""
    try:
        driver = host.query_driver()
    except HostError:
        driver = None
    ceiling = (driver.cuda_version if driver else "") or "13.0"
    return (cuda.pytorch_image_for(ceiling) if flavour == "pytorch" else cuda.cuda_image_for(ceiling, flavour)) or ""


CUDA_IMAGE = os.environ.get("RUNBOOK_GPU_CUDA_IMAGE") or _auto("base")
PYTORCH_IMAGE = os.environ.get("RUNBOOK_GPU_PYTORCH_IMAGE") or _auto("pytorch")


@pytest.fixture(scope="module")
def gpu_engine():
    if not Path("/dev/nvidiactl").exists():
        pytest.skip("no NVIDIA GPU on this host")
    try:
        client = docker.from_env()
        for image in (CUDA_IMAGE, PYTORCH_IMAGE):
            client.images.get(image)
    except docker.errors.DockerException as e:
        pytest.skip(f"no engine with the GPU test images: {e}")
    return client


def run(tmp_path, *params):
    out = tmp_path / "record"
    args = [
        sys.executable,
        "-m",
        "runbook",
        "run",
        "--out",
        str(out),
        "--only",
        "3",
        "--only",
        "4",
        "-p",
        "cuda_image",
        CUDA_IMAGE,
        "-p",
        "pytorch_image",
        PYTORCH_IMAGE,
        "-p",
        "pull",
        "never",
    ]
    for name, value in params:
        args += ["-p", name, value]
    proc = subprocess.run(args, capture_output=True, text=True, cwd=REPO, timeout=900)
    summary = json.loads((out / "summary.json").read_text())
    return proc, {c["id"]: c for c in summary["checks"]}


def test_manual_mode_reaches_the_gpu_and_pytorch_computes_right(gpu_engine, tmp_path):
    proc, by_id = run(tmp_path, ("gpu_mode", "manual"))
    for check_id in (
        "gpu.nvidia_smi",
        "gpu.same_gpus",
        "gpu.cuda_init",
        "pytorch.import",
        "pytorch.cuda_available",
        "pytorch.matmul",
    ):
        assert by_id[check_id]["status"] == "pass", (
            check_id,
            by_id[check_id]["detail"],
            by_id[check_id]["evidence"][-2000:],
        )
    assert "NVIDIA" in by_id["gpu.nvidia_smi"]["evidence"]
    assert by_id["pytorch.matmul"]["data"]["relative_error"] < 1e-5
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert not engine.labelled(gpu_engine)


def test_gpus_all_fails_with_the_toolkit_cause_when_there_is_no_toolkit(gpu_engine, tmp_path):
    if toolkit.ctk_version() is not None:
        pytest.skip("the NVIDIA Container Toolkit is installed here")
    proc, by_id = run(tmp_path, ("gpu_mode", "gpus"))
    assert proc.returncode == 1
    assert by_id["gpu.nvidia_smi"]["status"] == "fail"
    assert "NVIDIA Container Toolkit not installed" in by_id["gpu.nvidia_smi"]["cause"]


def test_manual_mode_without_the_gpu_is_seen_as_such(gpu_engine, tmp_path):
    """The same image without GPU access: torch must say False, never pass. NVIDIA_VISIBLE_DEVICES=void
    withholds the GPU also where nvidia is the engine's default runtime (the image itself asks for all)."""
    out = engine.run(
        gpu_engine,
        PYTORCH_IMAGE,
        ["python3", "-c", "import torch; print(torch.cuda.is_available())"],
        timeout_s=300,
        options={"environment": {"NVIDIA_VISIBLE_DEVICES": "void"}},
    )
    assert out.output.strip().splitlines()[-1] == "False"


def test_gpu_selection_in_manual_mode(gpu_engine, tmp_path):
    """all: every GPU inside; one index or UUID: only that one (needs a host with two or more GPUs)."""
    driver = host.query_driver()
    if len(driver.gpus) < 2:
        pytest.skip("needs two or more GPUs")
    last = driver.gpus[-1]
    for selection, expected in (
        ("all", [g.uuid for g in driver.gpus]),
        (str(last.index), [last.uuid]),
        (last.uuid, [last.uuid]),
    ):
        sub = tmp_path / selection[:12]
        sub.mkdir()
        _, by_id = run(sub, ("gpu_mode", "manual"), ("gpus", selection))
        seen = host.parse_nvidia_smi_list(by_id["gpu.nvidia_smi"]["evidence"])
        assert sorted(g.uuid for g in seen) == sorted(expected), (selection, by_id["gpu.nvidia_smi"]["evidence"])
        assert by_id["gpu.same_gpus"]["status"] == "pass", by_id["gpu.same_gpus"]["detail"]
        assert by_id["pytorch.cuda_available"]["data"]["devices"] == [g.name for g in driver.gpus if g.uuid in expected]


def test_every_health_check_passes_with_the_hosts_real_values(tmp_path):
    """Step 1's health rung on the GPU host, from the driver's one answer and the kernel log; DCGM passes,
    or says it is not installed and was not run."""
    if not Path("/dev/nvidiactl").exists():
        pytest.skip("no NVIDIA GPU on this host")
    from runbook.host import health
    from runbook.results import Status, run_check
    from runbook.steps import Context, preflight

    driver = host.query_driver()
    results = {r.id: r for r in preflight.health_checks(Context(params={}, driver=driver))}
    for check_id, _title, _fn in health.CHECKS:
        assert results[check_id].status is Status.PASS, (check_id, results[check_id].detail)
    assert results["health.xid"].status in (Status.PASS, Status.SKIP), results["health.xid"].detail
    dcgm = results["health.dcgm"]
    assert dcgm.status is Status.PASS or (dcgm.status is Status.SKIP and "not installed" in dcgm.detail), dcgm
    assert run_check("x", "x", lambda: health.pcie(host.LAST_ANSWER["stdout"])).status is Status.PASS
