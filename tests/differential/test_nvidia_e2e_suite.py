"""NVIDIA's own end-to-end suite (the toolkit source's tests/e2e), built offline here, as a second judge.

On the GPU host tests/gpu/kit/e2e.sh runs all of it after the runbook; here (no GPU) it runs the specs that
need no GPU (labels container-runtime, systemd-unit, libnvidia-container: configuration, units, the CLI)
against the toolkit this machine builds, with the suite's local runner. Offline, each of them stops in its
setup (their nested kind / systemd images cannot be pulled, libnvidia-container is not in the toolkit's
source); the tests check that they stop for exactly those reasons, that tests/gpu/kit/e2e_compare.py reads
them so, and that it names every spec of the suite to a capability.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.utils.engine import require
from tests.utils.toolkit import built_toolkit

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "gpu" / "kit"))
import e2e_compare  # noqa: E402

RECORD = REPO / "records" / "h200-2026-11-29-toolkit"  # a runbook record of the GPU host
NO_GPU = "container-runtime || systemd-unit || libnvidia-container"


@pytest.fixture(scope="module")
def suite(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("e2e")
    r = subprocess.run(["bash", str(REPO / "tests/tooling/build-e2e.sh"), str(out)], capture_output=True, text=True)
    if r.returncode == 3:
        pytest.skip(r.stderr.strip().splitlines()[-1])
    assert r.returncode == 0, f"build-e2e.sh failed: {r.stderr[-2000:]}"
    return out / "e2e.test"


def run_suite(binary: Path, workdir: Path, *flags: str, env: dict | None = None) -> Path:
    junit = workdir / "junit.xml"
    r = subprocess.run(
        [str(binary), "-ginkgo.no-color", f"-ginkgo.junit-report={junit}", "-ginkgo.timeout=2m", *flags],
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=180,
        env={**os.environ, "E2E_INSTALL_CTK": "false", **(env or {})},
    )
    assert junit.is_file(), f"the suite wrote no JUnit report: {r.stdout[-1500:]}{r.stderr[-1500:]}"
    return junit


def test_every_spec_of_the_suite_is_named_to_a_capability(suite, tmp_path):
    junit = run_suite(suite, tmp_path, "-ginkgo.dry-run")
    specs = e2e_compare.read_junit(junit)
    assert len(specs) >= 80, f"expected the suite's 90 specs, the dry run listed {len(specs)}"
    unmapped = [name for name, _, _ in specs if e2e_compare.capability_of(name) not in e2e_compare.CAPABILITIES]
    assert not unmapped, f"specs no capability is named for (add them to SPECS): {unmapped}"


def test_the_no_gpu_specs_stop_here_for_the_reasons_the_table_gives(suite, tmp_path):
    toolkit = built_toolkit("bin")
    if shutil.which("docker") is None:
        pytest.skip("no docker CLI on this machine: the suite's specs call it")
    up = subprocess.run(["docker", "version", "--format", "{{.Server.Version}}"], capture_output=True, timeout=30)
    require(up.returncode == 0, "a Docker engine for the docker CLI (DOCKER_HOST or /var/run/docker.sock)")
    junit = run_suite(
        suite, tmp_path, f"-ginkgo.label-filter={NO_GPU}", env={"PATH": f"{toolkit}:{os.environ['PATH']}"}
    )
    summary = json.loads((RECORD / "summary.json").read_text())
    rows = {r.spec: r for r in e2e_compare.compare(junit, summary)}
    ran = [r for r in rows.values() if r.capability in ("cli", "cdi-refresh", "containerd")]
    assert len(ran) == 12 + 1 + 36, f"expected the 49 no-GPU specs, got {len(ran)}"
    failed = {r.capability: r for r in ran if r.result == "failed"}
    assert set(failed) == {"cli", "cdi-refresh", "containerd"}, f"one failure in each container, got {failed}"
    # libnvidia-container is not in the toolkit's source: the CLI spec finds none of its libraries, and the
    # runbook's record of the GPU host says the same (toolkit.installed: no nvidia-container-cli)
    cli = failed["cli"]
    assert cli.cause == "libnvidia_container_absent", f"{cli.cause}: {cli.detail}"
    assert cli.runbook == "not working" and cli.runbook_detail.startswith("container_cli_missing"), cli.runbook_detail
    assert cli.agree == "yes"
    # the nested kind / systemd containers cannot start here: no registry serves kindest/*, or this engine has
    # no nvidia runtime for them
    for cap in ("cdi-refresh", "containerd"):
        assert failed[cap].cause in ("image_unavailable", "runtime_unknown"), f"{cap}: {failed[cap].detail}"
    skipped = [r for r in ran if r.result == "skipped"]
    assert all(r.cause for r in skipped), "a spec skipped after a BeforeAll failed takes that failure's cause"
    assert not [r for r in rows.values() if r.agree == "DISAGREE"], "no disagreement on specs that did not run"
    table = e2e_compare.markdown(list(rows.values()), junit, RECORD)
    assert "| nvidia-container-cli should report the same GPUs inside the container as on the host | failed |" in table


@pytest.mark.parametrize(
    ("status", "cause", "says", "why", "expected"),
    [
        ("passed", "", "works", "gpu.mode.runtime pass", "yes"),
        ("passed", "", "not working", "nvidia_smi_absent: gpu.nvidia_smi fail", "DISAGREE"),
        ("failed", "nvidia_smi_absent", "works", "gpu.mode.runtime pass", "DISAGREE"),
        ("failed", "container_cli_missing", "not working", "container_cli_missing: toolkit.installed", "yes"),
        ("failed", "runtime_unknown", "not working", "container_cli_missing: toolkit.installed", "DISAGREE"),
        ("failed", "image_unavailable", "works", "gpu.mode.runtime pass", "n/a"),
        ("failed", "unknown", "not checked", "the runbook has no check of this", "n/a"),
    ],
)
def test_agreement_is_the_same_outcome_for_the_same_cause(status, cause, says, why, expected):
    assert e2e_compare.agreement(status, cause, says, why) == expected


def test_the_hook_specs_are_told_apart_by_their_command():
    # `docker run --gpus all IMAGE` takes the engine's default runtime; `--runtime=runc --gpus` is the hook
    assert (
        e2e_compare.capability_of(
            "docker when running nvidia-smi -L should support the --gpus flag using the nvidia-container-runtime-hook"
        )
        == "gpus"
    )
    assert (
        e2e_compare.capability_of(
            "docker when Disabling device node creation should work with nvidia-container-runtime-hook"
        )
        == "legacy"
    )


def test_a_plain_image_without_the_drivers_path_is_explained_as_such():
    # NVIDIA's suite on the H200 (records/h200-2026-12-06-e2e): `docker run --runtime=nvidia ubuntu nvidia-smi -L`
    # failed although the toolkit had mounted /usr/local/nvidia/bin/nvidia-smi (probes.txt); ubuntu's PATH lacks it
    from runbook import diagnosis

    record = REPO / "records" / "h200-2026-12-06-e2e"
    summary = json.loads((RECORD / "summary.json").read_text())
    rows = {r.spec: r for r in e2e_compare.compare(record / "junit.xml", summary)}
    row = rows["docker when running nvidia-smi -L should support NVIDIA_VISIBLE_DEVICES"]
    assert row.result == "failed" and row.cause == "nvidia_smi_absent", row
    assert "/usr/local/nvidia/bin/nvidia-smi" in (record / "probes.txt").read_text()
    d = diagnosis.by_key("nvidia_smi_absent")
    assert "/usr/local/nvidia/bin" in d.cause_id and "PATH" in d.remediation_id, d.cause_id


def test_the_runbooks_plain_path_warning_agrees_with_the_suites_plain_image_failures():
    # the same H200 run, with the record's gpu.nvidia_smi as gpu_container.COMMAND now leaves it (the folder
    # the toolkit mounted nvidia-smi in, probes.txt) judged by gpu.plain_path: every `ubuntu nvidia-smi -L`
    # spec that failed for nvidia_smi_absent now agrees, and none of them is a disagreement
    from runbook.results import CheckResult, Status, run_check
    from runbook.steps import gpu_container

    record = REPO / "records" / "h200-2026-12-06-e2e"
    summary = json.loads((RECORD / "summary.json").read_text())
    smi = next(c for c in summary["checks"] if c["id"] == "gpu.nvidia_smi")
    seen = CheckResult(
        "gpu.nvidia_smi", "", Status.PASS, evidence=smi["evidence"] + "\n/usr/local/nvidia/bin/nvidia-smi\n"
    )
    judged = run_check("gpu.plain_path", "", lambda: gpu_container.check_plain_path(seen))
    assert judged.status is Status.WARN
    summary["checks"].append({"id": judged.id, "status": judged.status.value, "detail": judged.detail})
    rows = [r for r in e2e_compare.compare(record / "junit.xml", summary) if e2e_compare.PLAIN_IMAGE.search(r.spec)]
    assert len(rows) == 5
    assert all(r.result == "failed" and r.cause == "nvidia_smi_absent" and r.agree == "yes" for r in rows), rows
    # without the warning, the same rows disagree: the table reads the check, not the spec's name
    summary["checks"].pop()
    again = [r for r in e2e_compare.compare(record / "junit.xml", summary) if e2e_compare.PLAIN_IMAGE.search(r.spec)]
    assert [r.agree for r in again] == ["DISAGREE"] * 5


def test_the_h100s_suite_after_the_fix_passes_17_specs_and_explains_every_failure():
    # NVIDIA's suite on the H100 after e2e-fixed.sh (records/h100x1-2026-12-07-toolkit-fixed-e2e), beside the
    # runbook's run on the same host just before it: the driver's libraries are in /usr/local/nvidia/lib64
    # there (probes.txt: the CDI spec's paths, and busybox's listing of that folder in the container)
    record = REPO / "records" / "h100x1-2026-12-07-toolkit-fixed-e2e"
    summary = json.loads((REPO / "records" / "h100x1-2026-12-07-toolkit-fixed" / "summary.json").read_text())
    probes = (record / "probes.txt").read_text()
    assert "/usr/local/nvidia/lib64/libcuda.so.580.159.04" in probes and "\nlibcuda.so.1\n" in probes
    rows = e2e_compare.compare(record / "junit.xml", summary, "/usr/local/nvidia/lib64")
    assert sum(r.result == "passed" for r in rows) == 17
    assert not [r for r in rows if r.agree == "DISAGREE" or (r.result == "failed" and r.cause == "unknown")]
    by_spec = {r.spec: r for r in rows}
    soname = by_spec["docker when A container is run using CDI should include .so and SONAME symlinks"]
    assert (soname.cause, soname.agree, soname.runbook) == ("driver_libs_elsewhere", "n/a", "works"), soname
    shared = [r for r in rows if "shared mount propagation" in r.spec and r.result == "failed"]
    assert len(shared) == 3 and {r.cause for r in shared} == {"root_not_shared"}, shared
    # on a Debian-layout host the same failure is not excused: it disagrees with the runbook's "works"
    debian = {r.spec: r for r in e2e_compare.compare(record / "junit.xml", summary, "/usr/lib/x86_64-linux-gnu")}
    assert debian[soname.spec].agree == "DISAGREE"
