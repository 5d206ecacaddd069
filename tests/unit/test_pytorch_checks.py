"""Step 4's judgements of the probe's result, on the probe result recorded on the H200
(records/h200-2026-11-28) and on the errors the probe reports when a GPU computation fails."""

import io
import json
import runpy
import sys
import types
from pathlib import Path

import pytest

from runbook import workloads
from runbook.results import Status, run_check
from runbook.steps import Context, pytorch_container

REPO = Path(__file__).resolve().parents[2]
H200_RECORD = json.loads((REPO / "records" / "h200-2026-11-28" / "summary.json").read_text())
H200_PROBE = next(c for c in H200_RECORD["checks"] if c["id"] == "pytorch.import")["data"]


def ctx(**overrides):
    values = {"measure_throughput": True, "gpus": "all", "matmul_size": 256, "timeout_s": 120, **overrides}
    return Context(params=values)


def judge(fn, *args):
    return run_check("x", "x", lambda: fn(*args))


def throughput(c, probe):
    """check_throughput as step 4 calls it: the host's probe started first, then judged and stopped."""
    on_host = pytorch_container.HostProbe(c) if c.params["measure_throughput"] else None
    try:
        return judge(pytorch_container.check_throughput, c, probe, on_host)
    finally:
        if on_host is not None:
            on_host.close()


def test_the_h200_probe_passes_matmul():
    r = judge(pytorch_container.check_matmul, H200_PROBE)
    assert r.status is Status.PASS and "relative error" in r.detail


def test_a_failed_product_fails_with_its_error_not_a_skip():
    probe = {**H200_PROBE, "matmul_error": "OutOfMemoryError: CUDA out of memory."}
    del probe["matmul"], probe["bench"]
    r = judge(pytorch_container.check_matmul, probe)
    assert r.status is Status.FAIL and "out of memory" in r.detail and r.remediation


def test_a_failed_benchmark_warns_with_its_error():
    probe = {**H200_PROBE, "bench_error": "OutOfMemoryError: CUDA out of memory."}
    del probe["bench"]
    r = throughput(ctx(), probe)
    assert r.status is Status.WARN and "OutOfMemoryError" in r.detail and r.cause


def test_without_pytorch_on_the_host_there_is_no_ratio_and_it_says_so():
    """This machine's Python has no torch: the host probe runs for real and reports that."""
    if _has_torch():
        pytest.skip("this Python has PyTorch")
    r = throughput(ctx(), H200_PROBE)
    assert r.status is Status.PASS and "no PyTorch on the host" in r.detail
    assert r.data["host"] is None and r.data["datasheet"]["bf16_matmul_tflops"] > 0


def test_a_host_probe_that_fails_otherwise_is_a_warning():
    """The host probe runs for real with a timeout too short for Python to start."""
    r = throughput(ctx(timeout_s=0.001), H200_PROBE)
    assert r.status is Status.WARN and "the host probe ran past 0 s" in r.detail and r.cause


def test_throughput_is_skipped_when_not_asked_for():
    r = throughput(ctx(measure_throughput=False), H200_PROBE)
    assert r.status is Status.SKIP


def _has_torch():
    import importlib.util

    return importlib.util.find_spec("torch") is not None


class _FakeCudaTorch(types.ModuleType):
    """Stands in for a CUDA build of torch (no GPU here to make a computation fail for real); the
    failing computation is the probe's own function, replaced by one that raises as CUDA does."""

    def __init__(self):
        super().__init__("torch")
        self.__version__ = "0.fake"
        self.version = types.SimpleNamespace(cuda="12.8")
        self.backends = types.SimpleNamespace(cuda=types.SimpleNamespace(matmul=types.SimpleNamespace()))
        self.cuda = types.SimpleNamespace(
            is_available=lambda: True, device_count=lambda: 1, get_device_name=lambda i: "NVIDIA H200"
        )


@pytest.mark.parametrize("fail_in, key", [("matmul_check", "matmul_error"), ("bench", "bench_error")])
def test_the_probe_reports_a_failing_gpu_computation(fail_in, key, monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", _FakeCudaTorch())
    probe = runpy.run_path(str(Path(workloads.__file__).parent / "gpu_probe.py"))

    def boom(*a):
        raise RuntimeError("CUDA error: out of memory")

    probe["probe"].__globals__[fail_in] = boom
    if fail_in == "bench":
        probe["probe"].__globals__["matmul_check"] = lambda torch, n: {"n": n, "relative_error": 0.0, "ok": True}
    out = probe["probe"](64, True)
    assert out[key] == "RuntimeError: CUDA error: out of memory"
    assert out["cuda_available"] is True and out["devices"] == ["NVIDIA H200"]


@pytest.mark.parametrize("word, measured", [("go\n", True), ("stop\n", False), ("", False)])
def test_a_waiting_probe_touches_the_gpu_only_when_told_to_go(word, measured, monkeypatch):
    """--wait: the host's probe sets up while the container measures, and computes only after "go"."""
    monkeypatch.setitem(sys.modules, "torch", _FakeCudaTorch())
    monkeypatch.setattr(sys, "stdin", io.StringIO(word))
    probe = runpy.run_path(str(Path(workloads.__file__).parent / "gpu_probe.py"))
    ran = []
    probe["probe"].__globals__["matmul_check"] = lambda torch, n: ran.append("matmul") or {"n": n, "ok": True}
    probe["probe"].__globals__["bench"] = lambda torch: ran.append("bench") or {"bf16_matmul_tflops": 1.0}
    out = probe["probe"](64, True, wait=True)
    assert ran == (["matmul", "bench"] if measured else [])
    assert ("bench" in out) is measured and ("bench_error" in out) is not measured
