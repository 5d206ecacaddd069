"""bf16 matmul TFLOP/s in short bursts against sustained load, with the GPU's power draw, SM clock and
active throttle reasons read after each: shows whether a figure below the datasheet is the power cap.

Run on the GPU host (PyTorch with CUDA, nvidia-smi):  python3 benchmarks/bf16_bursts_vs_sustained.py
Each line: matrix size n, products per timing, five timings in TFLOP/s, then the GPU's state.
"""

import subprocess

import torch

STATE = "power.draw,clocks.sm,temperature.gpu,clocks_throttle_reasons.active"
LIMITS = "power.limit,enforced.power.limit,clocks.max.sm"


def smi(fields: str) -> str:
    return subprocess.run(
        ["nvidia-smi", f"--query-gpu={fields}", "--format=csv,noheader"], capture_output=True, text=True
    ).stdout.strip()


def timings(n: int, reps: int, rounds: int = 5) -> list[float]:
    """TFLOP/s of ``reps`` back-to-back n x n bf16 products between two CUDA events, ``rounds`` times."""
    a = torch.randn(n, n, device="cuda", dtype=torch.bfloat16)
    b = torch.randn(n, n, device="cuda", dtype=torch.bfloat16)
    c = torch.empty_like(a)
    for _ in range(3):
        torch.mm(a, b, out=c)
    torch.cuda.synchronize()
    out = []
    for _ in range(rounds):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        for _ in range(reps):
            torch.mm(a, b, out=c)
        end.record()
        end.synchronize()
        out.append(2 * n**3 * reps / (start.elapsed_time(end) / 1e3) / 1e12)
    return out


if __name__ == "__main__":
    print(f"{torch.cuda.get_device_name(0)}; {LIMITS}: {smi(LIMITS)}")
    print(f"after each line: {STATE} (throttle reason 0x4: software power cap)")
    for n, reps in ((8192, 5), (4096, 200), (8192, 50), (8192, 200), (16384, 20)):
        figures = " ".join(f"{t:5.0f}" for t in timings(n, reps))
        print(f"n={n:5} x{reps:<4} TFLOP/s {figures}   | {smi(STATE)}")
