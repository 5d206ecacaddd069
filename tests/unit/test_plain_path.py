"""gpu.plain_path: where the nvidia-smi that ran in the container lives decides whether plain images
(`docker run --gpus all ubuntu nvidia-smi`, NVIDIA's own end-to-end tests) find it. The evidence is the
H200 host's real nvidia-smi output (tests/fixtures/h200) followed by the `command -v nvidia-smi` line of
gpu_container.COMMAND."""

from pathlib import Path

import pytest

from runbook.results import CheckResult, Status, run_check
from runbook.steps import gpu_container

H200 = Path(__file__).resolve().parents[1] / "fixtures" / "h200"


def smi_result(path_line: str, status: Status = Status.PASS) -> CheckResult:
    evidence = (H200 / "nvidia-smi.txt").read_text() + "\n" + (H200 / "nvidia-smi-L.txt").read_text() + path_line
    r = CheckResult("gpu.nvidia_smi", "t", status, "seen", evidence=evidence)
    return r


def judge(seen: CheckResult) -> CheckResult:
    return run_check("gpu.plain_path", "t", lambda: gpu_container.check_plain_path(seen))


def test_driver_in_usr_bin_reaches_plain_images():
    r = judge(smi_result("/usr/bin/nvidia-smi\n"))
    assert r.status is Status.PASS, r.detail
    assert r.data["path"] == "/usr/bin/nvidia-smi"


@pytest.mark.parametrize("where", ["/usr/local/nvidia/bin/nvidia-smi", "/usr/lib/wsl/lib/nvidia-smi"])
def test_driver_outside_the_default_path_is_a_warning_that_names_the_fix(where):
    r = judge(smi_result(where + "\n"))
    assert r.status is Status.WARN
    assert where in r.detail and "ubuntu" in r.detail
    assert where in r.remediation and "-e PATH=" in r.remediation
    assert r.cause  # the diagnosis of `executable file not found`


def test_no_path_line_is_a_skip_not_a_pass():
    r = judge(smi_result(""))
    assert r.status is Status.SKIP


def test_nvidia_smi_that_did_not_run_is_a_skip():
    r = judge(smi_result("/usr/bin/nvidia-smi\n", Status.FAIL))
    assert r.status is Status.SKIP


def test_the_command_asks_where_nvidia_smi_is():
    assert gpu_container.COMMAND[-1].endswith("command -v nvidia-smi")
