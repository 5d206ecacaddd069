"""The runbook on hosts of the field: a stand-in nvidia-smi (tests/standin) answers with real `nvidia-smi -q -x`
documents of other people's hosts (tests/fixtures/field, SOURCES.md; the H200's is this project's own), and
steps 1, 3 and 4 run through the CLI against the real engine. This machine has no GPU, so host.pci_gpus fails
and no GPU container is started (pull=never); what is asserted is that each run ends without a traceback, reads
the driver as the document says, and chooses the image NVIDIA's rules give for that driver, or skips saying
why. The R390 host is a vGPU host of four Tesla M10 whose document (driver 390.94) was published inside
another project's test program (SOURCES.md)."""

import os

import pytest

from tests.utils.cli import assert_status, checks, run_cli
from tests.utils.paths import REPO

pytestmark = pytest.mark.engine
FIELD = REPO / "tests" / "fixtures" / "field" / "xml"

HOSTS = {
    # branch: (document, driver as it says, the CUDA base image, the PyTorch image); None: an honest skip
    "R390": (FIELD / "it-novum-check_nvidia_smi_test.xml", "390.94", None, None),  # no <cuda_version> at all
    "R430": (FIELD / "pai-nvidia_smi_out_of_order.xml", "430.26", None, None),  # <cuda_version>Not Found
    "R470": (
        FIELD / "telegraf-gt-1030.xml",
        "470.74",
        "nvidia/cuda:11.4.3-base-ubuntu20.04",
        "pytorch/pytorch:2.7.1-cuda11.8-cudnn9-runtime",
    ),
    "R535": (
        FIELD / "telegraf-a100-sxm4-v12.xml",
        "535.54.03",
        "nvidia/cuda:12.2.2-base-ubuntu22.04",
        "pytorch/pytorch:2.3.1-cuda12.1-cudnn8-runtime",
    ),
    "R580": (
        REPO / "tests" / "fixtures" / "h200" / "nvidia-smi-q-x.xml",
        "580.159.04",
        "nvidia/cuda:13.0.3-base-ubuntu24.04",
        "pytorch/pytorch:2.9.1-cuda13.0-cudnn9-runtime",
    ),
    "R595": (
        FIELD / "telegraf-rtx-3080-v13.xml",
        "595.58.03",
        "nvidia/cuda:13.0.3-base-ubuntu24.04",
        "pytorch/pytorch:2.9.1-cuda13.0-cudnn9-runtime",
    ),
}


@pytest.mark.parametrize("branch", HOSTS)
def test_a_field_host_runs_to_the_end_and_gets_its_image_or_a_reason(client, tmp_path, branch):
    document, driver, cuda_image, pytorch_image = HOSTS[branch]
    env = {**os.environ, "PATH": f"{REPO / 'tests' / 'standin'}:{os.environ['PATH']}"}
    env["RUNBOOK_STANDIN_XML"] = str(document)
    out = tmp_path / "r"
    proc = run_cli("--out", str(out), "-p", "pull", "never", "--only", "1", "--only", "3", "--only", "4", env=env)
    assert "Traceback" not in proc.stdout + proc.stderr, proc.stderr[-3000:]
    assert proc.returncode in (0, 1), proc.stderr[-3000:]
    summary, by_id = checks(out)
    assert_status(by_id, "host.driver", "pass")
    assert f"driver {driver}," in by_id["host.driver"]["detail"]
    for check_id, image in (("cuda.image", cuda_image), ("pytorch.image", pytorch_image)):
        check = by_id[check_id]
        if image is None:
            assert_status(by_id, check_id, "skip")
            assert f"driver {driver}" in check["detail"] and "set " in check["detail"], check["detail"]
        else:
            assert check["status"] in ("pass", "warn"), check["detail"]
            assert check["data"]["image"] == image, check["detail"]
    assert summary["verdict"] in ("fail", "incomplete")  # no GPU on the PCI bus here: never pass
