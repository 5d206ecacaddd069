"""Peer access between GPUs: the probe's pair loop run on a stand-in for torch (no GPU here; the venv has no
torch), and step 4's judgement of the probe's result."""

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
