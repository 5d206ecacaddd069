"""nbval over the GPU cells (steps 3 and 4) holds on any NVIDIA host whose containers see its GPUs, and fails where
they do not: the real nbval, with the project's sanitizer and the notebooks' one reference output, over steps 3 and
4 replaying what GPU hosts observed (nothing runs on this machine's engine or driver; the kernels only show it).

- pass: the H200's record (records/h200-2026-11-29-toolkit); an H100 host of eight GPUs
  (tests/fixtures/h100/nvidia-smi-L-8x.txt, a public capture) whose containers see all eight;
- fail, the GPU withheld: `--gpus` with no NVIDIA Container Toolkit as observed on the H200
  (records/h200-2026-11-28, gpu.mode.gpus: the container did not start), made the chosen mode;
- fail, other GPUs than the host's: the H100 host's container seeing one GPU of its eight; the H200 host's
  container seeing an H100.
Where the container's side is set, the step's own checks (gpu.same_gpus, pytorch.cuda_available) judge it against
the host's driver again, as a run would. A record written before the checked cells set the container beside the
host (records/h200-2026-11-29-*) gets the host's side from its own host.driver data and the container's from its
own nvidia-smi evidence.
"""

import json
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from runbook import host
from runbook.results import CheckResult, Status, run_check
from runbook.steps import gpu_container, pytorch_container
from tests.utils.paths import REPO

H200_OLD = REPO / "records" / "h200-2026-11-29-toolkit"
H200_NO_TOOLKIT = REPO / "records" / "h200-2026-11-28"
NOTEBOOKS = ("03-gpu-in-container", "04-pytorch-in-container")


def summary_of(record: Path) -> dict:
    return json.loads((record / "summary.json").read_text())


def by_id(summary: dict) -> dict[str, dict]:
    return {c["id"]: c for c in summary["checks"]}


def with_host_side(summary: dict) -> dict:
    """A record of before the checked cells set the container beside the host: both sides from its own data."""
    checks = by_id(summary)
    if "host" in checks["gpu.same_gpus"]["data"]:
        return summary
    gpus = [{"name": g["name"], "uuid": g["uuid"]} for g in checks["host.driver"]["data"]["gpus"]]
    smi = checks["gpu.nvidia_smi"]
    smi["data"]["gpus"] = [{"name": g.name, "uuid": g.uuid} for g in host.parse_nvidia_smi_list(smi["evidence"])]
    checks["gpu.same_gpus"]["data"]["host"] = gpus
    checks["pytorch.cuda_available"]["data"]["host_gpus"] = [g["name"] for g in gpus]
    return summary


def as_dict(result: CheckResult) -> dict:
    return {
        "id": result.id,
        "title": result.title,
        "status": result.status.value,
        "detail": result.detail,
        "data": result.data,
        "evidence": result.evidence,
        "cause": result.cause,
        "remediation": result.remediation,
    }


def result_of(check: dict) -> CheckResult:
    return CheckResult(
        check["id"],
        check.get("title", ""),
        Status(check["status"]),
        check.get("detail", ""),
        evidence=check.get("evidence", ""),
        data=dict(check.get("data") or {}),
    )


def driver_of(summary: dict) -> host.DriverInfo:
    d = by_id(summary)["host.driver"]["data"]
    gpus = [host.Gpu(g["index"], g["name"], g["uuid"], g.get("memory_total_mib")) for g in d["gpus"]]
    return host.DriverInfo(d["driver_version"], d["cuda_version"], gpus)


def seen_by_container(summary: dict, gpus: list[host.Gpu] | None) -> dict:
    """``summary`` with steps 3 and 4's containers seeing ``gpus`` (None: the GPU withheld, as observed on the
    H200 without the toolkit), the checks beside the host judged again against the host's driver as recorded."""
    checks = by_id(summary)
    driver = driver_of(summary)
    ctx = SimpleNamespace(driver=driver, driver_problem="", params={"gpus": "all", "gpu_mode": "gpus"})
    if gpus is None:
        observed = by_id(summary_of(H200_NO_TOOLKIT))["gpu.mode.gpus"]
        assert observed["status"] == "warn", "the capture: --gpus without the toolkit, not the chosen mode"
        smi = CheckResult("gpu.nvidia_smi", "", Status.FAIL, observed["detail"], evidence=observed.get("evidence", ""))
        smi.data = {"mode": "gpus"}
        imported = CheckResult("pytorch.import", "", Status.FAIL, observed["detail"])  # the same mode, step 4
    else:
        listing = "\n".join(f"GPU {i}: {g.name} (UUID: {g.uuid})" for i, g in enumerate(gpus))
        smi = CheckResult("gpu.nvidia_smi", "", Status.PASS, "", evidence=listing)
        smi.data = {
            "mode": "gpus",
            "uuids": [g.uuid for g in gpus],
            "gpus": [{"name": g.name, "uuid": g.uuid} for g in gpus],
        }
        imported = result_of(checks["pytorch.import"])
        imported.data = {**imported.data, "devices": [g.name for g in gpus], "device_count": len(gpus)}
    expected = [{"name": g.name, "uuid": g.uuid} for g in driver.gpus]
    same = run_check("gpu.same_gpus", "", lambda: gpu_container.check_same(ctx, smi), {"host": expected})
    probe = imported.data if imported.ok else {}
    available = run_check(
        "pytorch.cuda_available",
        "",
        lambda: pytorch_container.check_available(ctx, imported, probe),
        pytorch_container.host_gpus(ctx),
    )
    new = {r.id: as_dict(r) for r in (smi, same, imported, available)}
    summary["checks"] = [{**c, **new[c["id"]]} if c["id"] in new else c for c in summary["checks"]]
    return summary


def on_host(summary: dict, gpus: list[host.Gpu]) -> dict:
    """``summary`` with the host's driver listing ``gpus`` instead."""
    d = by_id(summary)["host.driver"]["data"]
    d["gpus"] = [
        {"index": g.index, "name": g.name, "uuid": g.uuid, "memory_total_mib": g.memory_total_mib} for g in gpus
    ]
    return summary


def nbval(tmp_path: Path, summary: dict) -> subprocess.CompletedProcess:
    """nbval, as tests/gpu/nbval.sh runs it, over steps 3 and 4 replaying ``summary``; strict off, so that a
    failed check does not stop the notebook and what fails is the checked cells' comparison."""
    record = tmp_path / "record"
    record.mkdir()
    (record / "summary.json").write_text(json.dumps(summary))
    for nb in NOTEBOOKS:
        subprocess.run(
            [sys.executable, "-m", "papermill", "--prepare-only", str(REPO / "notebooks" / f"{nb}.ipynb"),
             str(tmp_path / f"{nb}.ipynb"), "-p", "replay", str(record), "-p", "interactive", "False",
             "-p", "strict", "False"],
            check=True, capture_output=True,
        )  # fmt: skip
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--rootdir", str(tmp_path), "--nbval-lax",
         "--nbval-sanitize-with", str(REPO / "runbook" / "nbval-sanitize.cfg"),
         *(str(tmp_path / f"{nb}.ipynb") for nb in NOTEBOOKS)],
        cwd=tmp_path, capture_output=True, text=True, timeout=300,
        env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
    )  # fmt: skip


def outcome(proc: subprocess.CompletedProcess) -> str:
    return proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else proc.stderr[-2000:]


H100X8 = host.parse_nvidia_smi_list((REPO / "tests" / "fixtures" / "h100" / "nvidia-smi-L-8x.txt").read_text())


def h200() -> dict:
    return with_host_side(summary_of(H200_OLD))


def test_the_h200s_record_passes(tmp_path):
    proc = nbval(tmp_path, h200())
    assert proc.returncode == 0, f"{outcome(proc)}\n{proc.stdout[-3000:]}"
    assert "failed" not in outcome(proc), outcome(proc)


def test_an_h100_host_of_eight_gpus_passes(tmp_path):
    summary = seen_by_container(on_host(h200(), H100X8), H100X8)
    assert by_id(summary)["gpu.same_gpus"]["status"] == "pass", by_id(summary)["gpu.same_gpus"]["detail"]
    proc = nbval(tmp_path, summary)
    assert proc.returncode == 0, f"{outcome(proc)}\n{proc.stdout[-3000:]}"
    assert "failed" not in outcome(proc), outcome(proc)


def test_the_gpu_withheld_fails(tmp_path):
    summary = seen_by_container(h200(), None)
    assert by_id(summary)["gpu.same_gpus"]["status"] == "skip"
    proc = nbval(tmp_path, summary)
    assert proc.returncode == 1, outcome(proc)
    assert "2 failed" in outcome(proc), outcome(proc)


@pytest.mark.parametrize(
    "host_gpus, container_gpus",
    [(H100X8, H100X8[:1]), (None, H100X8[:1])],
    ids=["one-of-the-h100s-eight", "an-h100-on-the-h200-host"],
)
def test_other_gpus_than_the_hosts_fail(tmp_path, host_gpus, container_gpus):
    summary = seen_by_container(on_host(h200(), host_gpus) if host_gpus else h200(), container_gpus)
    assert by_id(summary)["gpu.same_gpus"]["status"] == "fail", by_id(summary)["gpu.same_gpus"]["detail"]
    proc = nbval(tmp_path, summary)
    assert proc.returncode == 1, outcome(proc)
    assert "2 failed" in outcome(proc), outcome(proc)
