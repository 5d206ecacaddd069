"""The diagnosis table against the engine's real words (tests/fixtures/engine/errors.json) and the
error texts of the field (DESIGN.md's table, which comes from the toolkit's docs and issue tracker)."""

import json
from pathlib import Path

import pytest

from runbook import diagnosis

TOOLKIT_ERRORS = Path(__file__).parent.parent / "fixtures" / "toolkit" / "errors"
CAPTURED = json.loads((Path(__file__).parent.parent / "fixtures" / "engine" / "errors.json").read_text())["errors"]


@pytest.mark.parametrize(
    "captured, key",
    [
        ("gpus_all", "toolkit_missing"),
        ("runtime_nvidia", "runtime_unknown"),
        ("cdi_all", "cdi_unsupported"),
        ("no_gpu_nvidia_smi", "nvidia_smi_absent"),
        ("sh_nvidia_smi", "nvidia_smi_absent"),
        ("no_nvcc", "nvcc_absent"),
        ("pull_wrong_platform", "platform_mismatch"),
        ("pull_manifest_unknown", "manifest_unknown"),
        ("pull_registry_down", "registry_unreachable"),
        ("engine_unreachable", "engine_unreachable"),
    ],
)
def test_captured_engine_errors(captured, key):
    d = diagnosis.diagnose(CAPTURED[captured])
    assert d is not None, f"no diagnosis for {CAPTURED[captured]!r}"
    assert d.key == key, f"{CAPTURED[captured]!r}: expected {key}, got {d.key}"


@pytest.mark.parametrize(
    "name, key",
    [
        ("runtime.txt", "nvml_not_found"),
        ("runtime.docker-cli-28.2.2.txt", "nvml_not_found"),
        ("gpus.txt", "container_cli_missing"),
        ("gpus.docker-cli-28.2.2.txt", "container_cli_missing"),
        ("cdi.txt", "cdi_unsupported"),
        ("cdi.docker-cli-28.2.2.txt", "cdi_unsupported"),
    ],
)
def test_captured_toolkit_errors(name, key):
    """The real toolkit's words on a host with no GPU (tests/fixtures/toolkit/README.md); gpus.txt is the
    legacy hook without nvidia-container-cli, since the libnvidia-container packages there are stand-ins."""
    text = (TOOLKIT_ERRORS / name).read_text()
    d = diagnosis.diagnose(text)
    assert d is not None, f"no diagnosis for {text!r}"
    assert d.key == key, f"{name}: expected {key}, got {d.key}"


def test_toolkit_cause_says_what_the_issue_promises():
    d = diagnosis.diagnose(CAPTURED["gpus_all"])
    assert "NVIDIA Container Toolkit not installed or engine not restarted" in d.cause
    assert "nvidia-ctk runtime configure" in d.remediation


@pytest.mark.parametrize(
    "text, key",
    [
        (
            'docker: Error response from daemon: could not select device driver "" with capabilities: [[gpu]].',
            "toolkit_missing",
        ),
        ("docker: Error response from daemon: unknown or invalid runtime name: nvidia.", "runtime_unknown"),
        (
            "permission denied while trying to connect to the Docker daemon socket at unix:///var/run/docker.sock",
            "docker_permission",
        ),
        (
            "Error while fetching server API version: "
            "('Connection aborted.', PermissionError(13, 'Permission denied'))",
            "docker_permission",
        ),
        (
            "nvidia-container-cli: requirement error: unsatisfied condition: cuda>=13.0, please update your driver",
            "cuda_requirement",
        ),
        (
            "nvidia-container-cli: initialization error: load library failed: "
            "libnvidia-ml.so.1: cannot open shared object file",
            "nvml_missing",
        ),
        ("Failed to initialize NVML: Unknown Error", "nvml_unknown_error"),
        ("Failed to initialize NVML: GPU access blocked by the operating system", "gpu_access_blocked"),
        (
            "could not apply required modification to OCI specification: unresolvable CDI devices nvidia.com/gpu=all",
            "cdi_unresolvable",
        ),
        ("Failed to initialize NVML: Driver/library version mismatch", "driver_mismatch"),
        ("Error 804: forward compatibility was attempted on non supported HW", "forward_compat"),
        ("manifest for nvidia/cuda:latest not found: manifest unknown: manifest unknown", "manifest_unknown"),
        ("no matching manifest for linux/arm64/v8 in the manifest list entries", "platform_mismatch"),
        ("/bin/sh: nvidia-smi: command not found", "nvidia_smi_absent"),
        ("RuntimeError: Found no NVIDIA driver on your system.", "no_gpu_in_container"),
        ("write /var/lib/docker/tmp/x: no space left on device", "no_space"),
        (
            "UserWarning: CUDA initialization: CUDA unknown error - this may be due to an incorrectly set up env",
            "cuda_unknown_error",
        ),
        ("RuntimeError: cuda runtime error (999) : unknown error at THCGeneral.cpp:50", "cuda_unknown_error"),
        ("Failed to initialize NVML: Insufficient Permissions", "gpu_access_blocked"),
        (
            "nvidia-container-cli: initialization error: nvml error: insufficient permissions: unknown.",
            "gpu_access_blocked",
        ),
        (
            "WARNING: The requested image's platform (linux/amd64) does not match the detected host platform "
            "(linux/arm64/v8) and no specific platform was requested",
            "platform_mismatch",
        ),
        ("exec /bin/bash: exec format error", "platform_mismatch"),
        ("unknown flag: --gpus\nSee 'docker run --help'.", "gpus_flag_unsupported"),
        (
            'Error: short-name "nvidia/cuda:12.4.1-base-ubuntu22.04" did not resolve to an alias and no '
            "unqualified-search registries are defined",
            "podman_short_name",
        ),
        ("nvidia-container-cli: container error: cgroup subsystem devices not found: unknown.", "toolkit_cgroup"),
        (
            "nvidia-container-cli: mount error: failed to add device rules: unable to find any existing device "
            "filters attached to the cgroup: bpf_prog_query(BPF_CGROUP_DEVICE) failed: operation not permitted",
            "toolkit_cgroup",
        ),
        (
            "nvidia-container-cli: ldcache error: open failed: /sbin/ldconfig.real: no such file or directory",
            "toolkit_ldconfig",
        ),
        ("nvidia-container-cli: ldcache error: process /sbin/ldconfig failed with error code: 127", "toolkit_ldconfig"),
        ("RuntimeError: DataLoader worker (pid 13) is killed by signal: Bus error.", "shm_too_small"),
        (
            "ERROR: Unexpected bus error encountered in worker. This might be caused by insufficient shared memory",
            "shm_too_small",
        ),
        ("RuntimeError: No CUDA GPUs are available", "no_cuda_gpus"),
        (
            "RuntimeError: CUDA error: no kernel image is available for execution on the device",
            "torch_arch_unsupported",
        ),
        (
            "NVIDIA GeForce RTX 5090 with CUDA capability sm_120 is not compatible with the current PyTorch "
            "installation.",
            "torch_arch_unsupported",
        ),
        (
            "RuntimeError: Unexpected error from cudaGetDeviceCount(). Error 802: system not yet initialized",
            "fabric_manager",
        ),
        ("CUDA error at bandwidthTest.cu:256 code=802(cudaErrorSystemNotReady)", "fabric_manager"),
    ],
)
def test_field_error_texts(text, key):
    d = diagnosis.diagnose(text)
    assert d is not None and d.key == key, (text, d and d.key)


def test_unknown_text_has_no_diagnosis():
    assert diagnosis.diagnose("everything is fine") is None


def test_every_entry_is_complete():
    keys = [d.key for d in diagnosis.TABLE]
    assert len(keys) == len(set(keys))
    for d in diagnosis.TABLE:
        assert d.patterns and d.cause and d.remediation and d.notebook.endswith(".ipynb"), d.key
        # every pattern is reachable: no earlier entry swallows it
        for pattern in d.patterns:
            assert diagnosis.diagnose(pattern).key == d.key, (d.key, pattern)


def test_a_wrapper_script_as_nvidia_smi_is_told_from_a_missing_one():
    captured = (Path(__file__).parent.parent / "fixtures" / "h200" / "nvidia-smi-wrapper-in-container.txt").read_text()
    assert diagnosis.diagnose(captured).key == "nvidia_smi_wrapper"
    assert diagnosis.diagnose("sh: 1: nvidia-smi: not found").key == "nvidia_smi_absent"


@pytest.mark.parametrize(
    "text",
    [
        "",
        "Error response from daemon: something nobody has seen yet",
        "a\n\nError: the last line that names an error\ntrailing words",
        "x" * 5000,
    ],
)
def test_an_unknown_text_gets_an_honest_cause_and_fix_never_an_empty_one(text):
    fields = diagnosis.explain(text)
    assert fields["cause"] and fields["remediation"] and fields["notebook"]
    assert "not yet known" in fields["cause"]
    assert len(fields["cause"]) < 400


def test_the_unknown_cause_quotes_the_line_that_names_the_error():
    fields = diagnosis.explain("pulling layer\nError: surprising new failure\ndone")
    assert "Error: surprising new failure" in fields["cause"]


def test_given_defaults_still_win_over_the_generic_entry():
    fields = diagnosis.explain("unheard of", default_cause="C", default_fix="F", default_notebook="N")
    assert fields == {"cause": "C", "remediation": "F", "notebook": "N"}


def test_a_failed_engine_call_never_has_an_empty_cause():
    """The engine's errors go through explain; an unknown text still gets a cause and a fix."""
    from runbook import engine
    from runbook.errors import ImageUnavailable

    with pytest.raises(ImageUnavailable) as e:
        engine.connection._raise_diagnosed(ImageUnavailable, "pulling x failed", "some registry said something new")
    assert e.value.cause and e.value.remediation


@pytest.mark.parametrize(
    "text, key",
    [
        # Docker 19.03 and docker-py print the engine's JSON message with its quotes escaped
        ('{"message":"could not select device driver \\"\\" with capabilities: [[gpu]]"}', "toolkit_missing"),
        ("NVIDIA-SMI has failed because it couldn\u2019t communicate with the NVIDIA driver.", "driver_not_loaded"),
        ("toomanyrequests: You have reached your pull rate limit.", "pull_rate_limited"),
    ],
)
def test_escaped_quotes_and_typographic_apostrophes_are_read_as_plain(text, key):
    assert diagnosis.diagnose(text).key == key


@pytest.mark.parametrize(
    "text, key",
    [
        # a terminal or an issue form wraps long lines: the words of a pattern may be split by a line break
        (
            "Got permission denied while trying to connect to the Docker\ndaemon socket at unix:///var/run/docker.sock",
            "docker_permission",
        ),
        ("nvidia-container-cli: requirement error: unsatisfied\n    condition: cuda>=12.4", "cuda_requirement"),
        ("Cannot connect to the Docker  daemon at unix:///var/run/docker.sock.", "engine_unreachable"),
    ],
)
def test_a_text_wrapped_over_lines_is_read_as_one_line(text, key):
    d = diagnosis.diagnose(text)
    assert d is not None and d.key == key, (text, d and d.key)


def test_a_repository_that_is_not_there_is_told_from_one_that_does_not_answer():
    """dnf's 404 for a repository's metadata is a wrong address; its timeout for the same file is the network."""
    url = "https://nvidia.github.io/libnvidia-container/stable/rhel9.0/x86_64/repodata/repomd.xml"
    assert diagnosis.diagnose(f"  - Status code: 404 for {url} (IP: 185.199.109.153)").key == "rpm_repo_not_found"
    timeout = f"Curl error (28): Timeout was reached for {url} [Connection timed out after 30000 milliseconds]"
    assert (diagnosis.diagnose(timeout) or diagnosis.Diagnosis("none", (), "", "", "")).key != "rpm_repo_not_found"
