"""Step 4 with several GPUs: the product checked on each GPU, and peer access between each pair: the probe run on a
stand-in for torch (no GPU here; the venv has no torch), and step 4's judgement of the probe's result."""

import runpy
import sys
import types
from pathlib import Path

import pytest

from runbook import workloads
from runbook.results import Status, run_check
from runbook.steps import Context, pytorch_container

# --- peer access ---------------------------------------------------------------------------------------------


class _Tensor:
    def copy_(self, other):
        return self


class _TwoGpuTorch(types.ModuleType):
    """Stands in for torch on a host with two GPUs where GPU 1 cannot reach GPU 0 directly: no GPU here."""

    def __init__(self, fail_copy=False):
        super().__init__("torch")
        self.uint8 = "uint8"
        self.fail_copy = fail_copy
        self.cuda = types.SimpleNamespace(
            device_count=lambda: 2,
            can_device_access_peer=lambda i, j: (i, j) == (0, 1),
            device=lambda i: _Ctx(),
        )

    def empty(self, n, dtype, device):
        if self.fail_copy and device == "cuda:1":
            raise RuntimeError("CUDA error: out of memory")
        return _Tensor()


class _Ctx:
    def __enter__(self):
        return self

    def __exit__(self, *a):
        return None


def probe_module(monkeypatch, fake):
    monkeypatch.setitem(sys.modules, "torch", fake)
    probe = runpy.run_path(str(Path(workloads.__file__).parent / "gpu_probe.py"))
    probe["peers"].__globals__["timed_ms"] = lambda torch, fn, repeats: (fn(), 1.0)[1]  # each copy: 1 ms
    return probe


def test_the_probe_tries_each_ordered_pair(monkeypatch):
    probe = probe_module(monkeypatch, _TwoGpuTorch())
    pairs = probe["peers"](sys.modules["torch"], nbytes=1 << 30)
    assert [(p["from"], p["to"], p["access"]) for p in pairs] == [(0, 1, True), (1, 0, False)]
    assert [round(p["copy_gb_per_s"]) for p in pairs] == [1074, 1074]  # 2**30 bytes in 1 ms


def test_a_failing_copy_is_reported_for_its_pair(monkeypatch):
    probe = probe_module(monkeypatch, _TwoGpuTorch(fail_copy=True))
    pairs = probe["peers"](sys.modules["torch"])
    assert all(p["error"] == "RuntimeError: CUDA error: out of memory" for p in pairs)


def ctx(gpus="0,1"):
    return Context(params={"gpus": gpus})


def judged(probe):
    return run_check("pytorch.peer_access", "t", lambda: pytorch_container.check_peer_access(ctx(), probe))


def pair(i, j, access=True, gbps=250.0):
    return {"from": i, "to": j, "access": access, "copy_gb_per_s": gbps, "copy_bytes": 1 << 28}


@pytest.mark.parametrize(
    "probe, status, words",
    [
        ({"cuda_available": True, "device_count": 1}, Status.SKIP, "1 GPU in the container (gpus=0,1): no pair"),
        ({"cuda_available": False, "device_count": 0}, Status.SKIP, "CUDA is not available"),
        ({"cuda_available": True, "device_count": 2, "peers": [pair(0, 1), pair(1, 0)]}, Status.PASS, "0->1: peer"),
        (
            {"cuda_available": True, "device_count": 2, "peers": [pair(0, 1), pair(1, 0, False, 12.0)]},
            Status.WARN,
            "1->0: no peer access, 12.0 GB/s",
        ),
        (
            {
                "cuda_available": True,
                "device_count": 2,
                "peers": [pair(0, 1), {"from": 1, "to": 0, "access": True, "error": "RuntimeError: x"}],
            },
            Status.FAIL,
            "1->0: RuntimeError: x",
        ),
        ({"cuda_available": True, "device_count": 2, "peers_error": "RuntimeError: y"}, Status.FAIL, "y"),
        ({"cuda_available": True, "device_count": 2}, Status.FAIL, "no pair"),
    ],
)
def test_peer_access_judged(probe, status, words):
    r = judged(probe)
    assert r.status is status and words in r.detail, (r.status, r.detail)
    if "peers" in probe:
        assert r.data["pairs"] == probe["peers"]  # each pair's access and bandwidth go into the record


# --- the product on each GPU -------------------------------------------------------------------------------


def test_the_probe_checks_the_product_on_each_gpu(monkeypatch):
    probe = probe_module(monkeypatch, _TwoGpuTorch())
    fake = sys.modules["torch"]
    fake.__version__, fake.version, fake.cuda.is_available = "2.11.0", types.SimpleNamespace(cuda="13.0"), lambda: True
    fake.cuda.get_device_name = lambda i: f"NVIDIA H100 #{i}"

    def matmul(torch, n, device="cuda"):
        if device == "cuda:1":
            raise RuntimeError("CUDA error: an illegal memory access was encountered")
        return {"n": n, "relative_error": 1e-7, "ok": True}

    probe["probe"].__globals__["matmul_check"] = matmul
    out = probe["probe"](64, False)
    assert [(d["device"], d["ok"]) for d in out["matmul_devices"]] == [(0, True), (1, False)]
    assert out["matmul_devices"][1]["error"].startswith("RuntimeError: CUDA error: an illegal memory access")
    assert [(p["from"], p["to"]) for p in out["peers"]] == [(0, 1), (1, 0)]


MATMUL = {"n": 2048, "relative_error": 1.2e-7, "ok": True, "seconds": 0.1}


def test_one_gpu_computing_wrong_among_good_ones_fails_and_is_named():
    probe = {
        "devices": ["NVIDIA H100 80GB HBM3", "NVIDIA H100 80GB HBM3"],
        "matmul": MATMUL,
        "matmul_devices": [{"device": 0, **MATMUL}, {"device": 1, "n": 2048, "relative_error": 0.3, "ok": False}],
    }
    r = run_check("pytorch.matmul", "t", lambda: pytorch_container.check_matmul(probe))
    assert r.status is Status.FAIL
    assert r.detail.endswith("wrong or failed on: GPU 1 (NVIDIA H100 80GB HBM3): relative error 3.00e-01")
    probe["matmul_devices"][1] = {"device": 1, **MATMUL}
    r = run_check("pytorch.matmul", "t", lambda: pytorch_container.check_matmul(probe))
    assert r.status is Status.PASS and "the same on each of 2 GPUs (worst 1.20e-07)" in r.detail
    assert [d["device"] for d in r.data["devices"]] == [0, 1]
