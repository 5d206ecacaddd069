"""The CUDA driver-API probe step 3 runs beside nvidia-smi: the committed binary is built from the
committed source; its answers are judged. Where a libcuda.so.1 is needed, the test builds a stand-in
library (there is no GPU driver here) whose cuInit returns the code it is told: the probe binary and
its loading of libcuda.so.1 are real, only the driver behind them is not."""

import hashlib
import os
import platform
import shutil
import subprocess
from pathlib import Path

import pytest

from runbook import workloads
from runbook.results import Status, run_check
from runbook.steps import cuda_probe, gpu_container
from runbook.workloads import build_cuda_probe

PROBE = Path(build_cuda_probe.BINARY)
NEEDS_GCC = pytest.mark.skipif(shutil.which("gcc") is None, reason="gcc is not installed on this machine")
X86 = pytest.mark.skipif(platform.machine() != "x86_64", reason="the committed probe is built for x86_64")

STANDIN = r"""
#include <stdlib.h>
int cuInit(unsigned int flags) { const char *c = getenv("STANDIN_CUINIT"); return c ? atoi(c) : 0; }
int cuDeviceGetCount(int *n) { *n = 1; return 0; }
int cuDriverGetVersion(int *v) { *v = 13000; return 0; }
int cuGetErrorName(int code, const char **name) {
    *name = code == 999 ? "CUDA_ERROR_UNKNOWN" : code == 803 ? "CUDA_ERROR_SYSTEM_DRIVER_MISMATCH" : "";
    return 0;
}
"""


@X86
def test_the_committed_binary_is_built_from_the_committed_source():
    sha = hashlib.sha256(build_cuda_probe.SOURCE.read_bytes()).hexdigest()
    assert f"GPU_RUNBOOK_CUDA_PROBE_SOURCE {sha}".encode() in PROBE.read_bytes(), (
        "rebuild it: python3 -m runbook.workloads.build_cuda_probe"
    )
    assert cuda_probe.binary() == str(PROBE)


def probe(tmp_path, code: int | None) -> tuple[int, str]:
    env = {"PATH": os.environ["PATH"]}
    if code is not None:
        lib = tmp_path / "lib"
        lib.mkdir(exist_ok=True)
        (tmp_path / "standin.c").write_text(STANDIN)
        subprocess.run(
            ["gcc", "-shared", "-fPIC", "-o", str(lib / "libcuda.so.1"), str(tmp_path / "standin.c")], check=True
        )
        env |= {"LD_LIBRARY_PATH": str(lib), "STANDIN_CUINIT": str(code)}
    out = subprocess.run([str(PROBE)], capture_output=True, text=True, env=env, timeout=30)
    return out.returncode, out.stdout + out.stderr


def judged(code, output):
    return run_check("gpu.cuda_init", "t", lambda: cuda_probe.judge(code, output, "img"))


@X86
def test_without_libcuda_the_probe_says_so_and_the_fix_names_the_compute_capability(tmp_path):
    code, output = probe(tmp_path, None)
    assert code == 2 and workloads.parse(output)["call"] == "dlopen"
    r = judged(code, output)
    assert r.status is Status.FAIL and "libcuda.so.1" in r.detail
    assert "compute" in r.remediation


@X86
@NEEDS_GCC
def test_a_working_libcuda_passes(tmp_path):
    code, output = probe(tmp_path, 0)
    assert code == 0, output
    r = judged(code, output)
    assert r.status is Status.PASS and "1 device(s), driver API 13000" in r.detail


@X86
@NEEDS_GCC
@pytest.mark.parametrize("cu, words", [(999, "device cgroup"), (803, "kernel module"), (100, "sees no GPU")])
def test_a_failing_cuinit_is_diagnosed(tmp_path, cu, words):
    code, output = probe(tmp_path, cu)
    assert code == 1 and workloads.parse(output)["code"] == cu
    r = judged(code, output)
    assert r.status is Status.FAIL and f"cuInit failed in the container: {cu}" in r.detail
    assert words in r.cause and r.remediation


def test_an_image_with_an_older_glibc_is_a_skip_not_a_failure():
    # the loader's own words when a binary needs a newer glibc than the image has
    text = "/run/gpu-runbook/cuda_probe: /lib/x86_64-linux-gnu/libc.so.6: version `GLIBC_2.34' not found"
    r = judged(1, text)
    assert r.status is Status.SKIP and "2.34" in r.detail


MARK = cuda_probe.MARK


@pytest.mark.parametrize(
    ("output", "expected"),
    [
        (f"table\n{MARK}\nGPU_RUNBOOK_RESULT {{}}\n{MARK} exit 0\n", ("table\n", "GPU_RUNBOOK_RESULT {}\n", 0)),
        (f"table\n{MARK}\nlost\n", ("table\n", "lost\n", None)),  # the exit line never came
        ("table\n", ("table\n", None, None)),  # the container stopped before the probe
        (f"{MARK}\n{MARK} exit 139\n", ("", "", 139)),
    ],
)
def test_the_shared_containers_output_splits_at_the_probes_lines(output, expected):
    assert cuda_probe.split(output) == expected


def cuda_init(shared: dict):
    return run_check("gpu.cuda_init", "t", lambda: cuda_probe.check(shared, "img"))


def test_a_probe_that_never_ran_in_the_shared_container_fails_rather_than_passes():
    r = cuda_init({"built": True, "probe": None, "probe_exit": None})
    assert r.status is Status.FAIL and "no result" in r.detail


def test_the_shared_container_that_did_not_run_gives_the_probe_its_error_and_no_probe_is_a_skip():
    from runbook.results import fail

    refused = fail("Podman 5.4.2: Podman ignores --gpus device requests", cause="ignored")
    r = cuda_init({"error": refused})
    assert r.status is Status.FAIL and r.detail == refused.detail and r.cause == "ignored"
    assert cuda_init({}).status is Status.SKIP
    assert cuda_init({"built": False, "probe": None, "probe_exit": None}).status is Status.SKIP


def test_the_shared_command_runs_the_probe_after_nvidia_smi_on_one_stream():
    command = gpu_container.smi_and_probe_command(True)
    script = command[-1]
    assert script.startswith("exec 2>&1;") and gpu_container.COMMAND[-1] in script
    assert script.index(gpu_container.COMMAND[-1]) < script.index(cuda_probe.IN_CONTAINER)
    assert gpu_container.smi_and_probe_command(False) == gpu_container.COMMAND
