"""The README's run command, end to end: papermill over every notebook, against the real engine.

This machine has no NVIDIA GPU, driver or toolkit, so the record must say exactly that.
"""

import json
import os
from pathlib import Path

import pytest

from runbook import engine
from runbook.catalogue import notebooks_dir
from runbook.i18n import narrative
from tests.utils.cli import assert_status, checks, run_cli
from tests.utils.engine import TEST_IMAGE
from tests.utils.paths import REPO

pytestmark = pytest.mark.engine
NO_GPU = not Path("/dev/nvidiactl").exists()


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
    for check_id in (
        "cuda.image",
        "gpu.nvidia_smi",
        "gpu.same_gpus",
        "pytorch.image",
        "pytorch.cuda_available",
        "pytorch.matmul",
    ):
        assert_status(by_id, check_id, "skip")
    assert "no NVIDIA driver/GPU found" in by_id["cuda.image"]["detail"]
    assert "no NVIDIA driver/GPU found" in by_id["pytorch.image"]["detail"]
    assert [n["status"] for n in summary["notebooks"]] == ["ran"] * 6, summary["notebooks"]


def test_a_run_in_chinese_records_the_notebooks_in_chinese_with_the_same_code(tmp_path):
    env = {**os.environ, "LANGUAGE": "zh_CN"}  # the locale's language; no lang parameter given
    proc = run_cli("--only", "1", "--out", str(tmp_path / "record"), env=env)
    assert proc.returncode in (0, 1), proc.stderr[-3000:]
    executed = json.loads((tmp_path / "record" / "01-preflight.ipynb").read_text(encoding="utf-8"))
    shipped = json.loads((notebooks_dir() / "01-preflight.ipynb").read_text(encoding="utf-8"))
    chinese = narrative.translated(shipped, "zh_CN")
    by_id = {c.get("id"): c for c in executed["cells"]}
    for cell in chinese["cells"]:
        ran = narrative.source(by_id[cell["id"]])
        assert ran == narrative.source(cell), f"cell {cell['id']} is not the translated notebook's"
    assert narrative.source(executed["cells"][0]).startswith("# 1. 预检：这台主机准备好了吗？\n")
    assert executed["metadata"]["papermill"]["input_path"] == "01-preflight.ipynb", "the record names a scratch path"


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
    assert names == [
        "01-preflight.ipynb",
        "02-container-toolkit.ipynb",
        "03-gpu-in-container.ipynb",
        "04-pytorch-in-container.ipynb",
        "05-why-no-nvcc.ipynb",
        "06-report.ipynb",
        "report.html",
        "summary.json",
    ]
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
    assert "Acquire::Retries=3 install -y nvidia-container-toolkit" in by_id["toolkit.plan"]["evidence"]


def test_a_local_cuda_image_fails_with_the_toolkit_cause(client, tmp_path):
    out = tmp_path / "record"
    proc = run_cli(out=out, only=(3, 4), cuda_image=TEST_IMAGE, pytorch_image=TEST_IMAGE, pull="never")
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
    proc = run_cli(out=out, only="gpu-in-container", cuda_image=TEST_IMAGE, gpu_mode="manual", pull="never")
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


def test_step_5_judges_an_image_by_what_it_holds_and_its_tag_by_that(client, tmp_path, flavoured_images):
    out = tmp_path / "record"
    proc = run_cli(
        out=out,
        only=5,
        cuda_image=flavoured_images["runtime"],
        pytorch_image=TEST_IMAGE,
        devel_image=flavoured_images["devel"],
        pull="never",
    )
    assert proc.returncode == 1, proc.stderr[-3000:]
    _, by_id = checks(out)
    assert_status(by_id, "nvcc.cuda_image", "pass")  # a runtime image without nvcc: as expected
    assert "no nvcc, as expected" in by_id["nvcc.cuda_image"]["detail"]
    assert_status(by_id, "nvcc.pytorch_image", "pass")  # no flavour in the tag: judged by what it holds
    assert "no /usr/local/cuda" in by_id["nvcc.pytorch_image"]["detail"]
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


def test_no_runbook_container_is_left(client, default_run):
    assert not engine.labelled(client)


def test_applying_the_toolkit_plan_from_an_unreachable_mirror_fails_cleanly(tmp_path):
    """Nothing is installed or changed: the first step cannot fetch the key."""
    out = tmp_path / "record"
    before = Path("/etc/docker/daemon.json").read_bytes() if Path("/etc/docker/daemon.json").exists() else None
    proc = run_cli(out=out, only=2, toolkit_apply=True, toolkit_mirror="http://127.0.0.1:9/libnvidia-container")
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


def test_one_kernel_for_the_run_gives_what_a_kernel_per_notebook_gives(client, tmp_path):
    """The runner runs every notebook in one kernel, reset between them; plain papermill starts one per
    notebook. The checks and their statuses must be the same."""
    import subprocess
    import sys

    from runbook import record
    from runbook.catalogue import REPORT, STEPS

    args = ["-p", "cuda_image", TEST_IMAGE, "-p", "pytorch_image", TEST_IMAGE, "-p", "pull", "never"]
    run_cli("--out", str(tmp_path / "shared"), *args)
    alone = tmp_path / "alone"
    alone.mkdir()
    for step in (s for s in STEPS if s != REPORT):  # papermill injects every value; a notebook uses its own
        subprocess.run(
            [
                sys.executable,
                "-m",
                "papermill",
                str(REPO / "notebooks" / f"{step}.ipynb"),
                str(alone / f"{step}.ipynb"),
                "-p",
                "interactive",
                "false",
                "-p",
                "strict",
                "false",
                *args,
            ],
            capture_output=True,
            cwd=REPO / "notebooks",
            timeout=600,
            check=False,
        )
    shared = [(c["id"], c["status"]) for c in checks(tmp_path / "shared")[0]["checks"]]
    separate = [(c["id"], c["status"]) for c in record.collect(alone)["checks"]]
    assert shared == separate
