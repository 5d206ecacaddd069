"""What PyTorch sees of the GPU, and whether it computes right: one JSON line prefixed by the marker.

Usage: python3 gpu_probe.py [N] [--bench] [--wait]. N is the size of the matrix product checked against
the CPU; with two GPUs or more the product is checked on each of them, and peer access between each pair is
tried with a timed copy from one card to the other; --bench also measures bf16 matmul TFLOP/s and
device-to-device copy bandwidth; --wait holds the GPU work until a line "go" arrives on stdin (any other line,
or none, calls it off), so that the probe can start, import torch and set up CUDA while another measurement on
the same GPU still runs. Standard library and torch only: it runs in any image that has PyTorch.
"""

import json
import sys
import time

MARK = "GPU_RUNBOOK_RESULT "


def median(xs):
    xs = sorted(xs)
    return xs[len(xs) // 2] if len(xs) % 2 else (xs[len(xs) // 2 - 1] + xs[len(xs) // 2]) / 2


def timed_ms(torch, fn, repeats):
    """Median milliseconds of fn() on the GPU, by CUDA events, after a warm-up."""
    for _ in range(3):
        fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(repeats):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end))
    return median(times)


def matmul_check(torch, n, device="cuda"):
    """A float32 product on the GPU (``device``) against the same product on the CPU in float64."""
    torch.backends.cuda.matmul.allow_tf32 = False
    g = torch.Generator().manual_seed(0)
    a = torch.randn(n, n, generator=g)
    b = torch.randn(n, n, generator=g)
    ref = a.double() @ b.double()
    got = (a.to(device) @ b.to(device)).cpu().double()
    rel = float((got - ref).norm() / ref.norm())
    return {"n": n, "relative_error": rel, "ok": rel < 1e-5}


def bench(torch):
    """bf16 matmul TFLOP/s and device-to-device copy GB/s on GPU 0, each the median of many timings."""
    n = 8192
    a = torch.randn(n, n, device="cuda", dtype=torch.bfloat16)
    b = torch.randn(n, n, device="cuda", dtype=torch.bfloat16)
    c = torch.empty_like(a)
    reps = 50  # back to back between two events: no idle gap for the clocks to drop in

    def products():
        for _ in range(reps):
            torch.mm(a, b, out=c)

    ms = timed_ms(torch, products, 5) / reps
    tflops = 2 * n**3 / (ms / 1e3) / 1e12
    nbytes = 1 << 30
    src = torch.empty(nbytes, dtype=torch.uint8, device="cuda")
    dst = torch.empty_like(src)
    ms_copy = timed_ms(torch, lambda: dst.copy_(src), 30)
    bandwidth = 2 * nbytes / (ms_copy / 1e3) / 1e9  # read + write
    return {"bf16_matmul_tflops": tflops, "copy_gb_per_s": bandwidth, "matmul_n": n, "copy_bytes": nbytes}


def peers(torch, nbytes=256 << 20):
    """Each ordered pair of visible GPUs: whether one may access the other's memory directly (peer to peer,
    over NVLink or PCIe), and a copy of ``nbytes`` from the first card to the second, timed on the first's
    stream (the copy goes through host memory where peer access is off)."""
    n = torch.cuda.device_count()
    pairs = []
    for i in range(n):
        for j in range(n):
            if i == j:
                continue
            pair = {"from": i, "to": j, "access": bool(torch.cuda.can_device_access_peer(i, j))}
            try:
                src = torch.empty(nbytes, dtype=torch.uint8, device=f"cuda:{i}")
                dst = torch.empty(nbytes, dtype=torch.uint8, device=f"cuda:{j}")
                with torch.cuda.device(i):
                    ms = timed_ms(torch, lambda src=src, dst=dst: dst.copy_(src), 10)
                pair["copy_gb_per_s"] = nbytes / (ms / 1e3) / 1e9
                pair["copy_bytes"] = nbytes
                del src, dst
            except Exception as e:  # out of memory, a peer mapping refused: reported for this pair
                pair["error"] = f"{type(e).__name__}: {e}"
            pairs.append(pair)
    return pairs


def go_ahead():
    """Wait for the caller's word to measure: a line "go" on stdin."""
    return sys.stdin.readline().strip() == "go"


def probe(n, with_bench, wait=False):
    out = {"python": sys.version.split()[0]}
    try:
        import torch
    except Exception as e:  # the image has no usable PyTorch: that is the finding
        out["error"] = f"import torch failed: {e!r}"
        return out
    out.update(
        torch=torch.__version__,
        cuda=torch.version.cuda,
        cuda_available=torch.cuda.is_available(),
        device_count=torch.cuda.device_count(),
    )
    if not out["cuda_available"]:
        try:
            torch.cuda.init()
        except Exception as e:  # torch says why CUDA is unusable only here
            out["cuda_error"] = str(e)
        return out
    out["devices"] = [torch.cuda.get_device_name(i) for i in range(out["device_count"])]
    if with_bench and wait and not go_ahead():  # ready, and told not to touch the GPU after all
        out["bench_error"] = "the measurement was called off"
        return out
    t0 = time.perf_counter()
    try:
        out["matmul"] = matmul_check(torch, n)
        out["matmul"]["seconds"] = time.perf_counter() - t0
    except Exception as e:  # out of memory, a CUDA error: reported, and the result line still printed
        out["matmul_error"] = f"{type(e).__name__}: {e}"
        return out
    if out["device_count"] >= 2:
        out["matmul_devices"] = []
        for i in range(out["device_count"]):  # the same product on each GPU: one bad card among good ones
            try:
                one = matmul_check(torch, n, f"cuda:{i}")
            except Exception as e:
                one = {"n": n, "ok": False, "error": f"{type(e).__name__}: {e}"}
            out["matmul_devices"].append({"device": i, **one})
        try:
            out["peers"] = peers(torch)
        except Exception as e:
            out["peers_error"] = f"{type(e).__name__}: {e}"
    if with_bench:
        try:
            out["bench"] = bench(torch)
        except Exception as e:
            out["bench_error"] = f"{type(e).__name__}: {e}"
    return out


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    result = probe(int(args[0]) if args else 2048, "--bench" in sys.argv, "--wait" in sys.argv)
    print(MARK + json.dumps(result), flush=True)
