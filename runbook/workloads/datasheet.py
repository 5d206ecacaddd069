"""Datasheet figures of common NVIDIA data-centre and workstation GPUs, to set measured throughput
beside: dense bf16 tensor-core TFLOP/s (no sparsity) and memory bandwidth in GB/s, from NVIDIA's
product datasheets (SXM variants where a name does not say PCIe)."""

from __future__ import annotations

# name as nvidia-smi / torch report it (matched as a substring, longest first) -> (bf16 TFLOP/s, GB/s)
FIGURES: dict[str, tuple[float, float]] = {
    "H200": (989.0, 4800.0),
    "H100 80GB HBM3": (989.0, 3350.0),
    "H100 PCIe": (756.0, 2000.0),
    "H100 NVL": (835.0, 3900.0),
    "A100-SXM4-80GB": (312.0, 2039.0),
    "A100-SXM4-40GB": (312.0, 1555.0),
    "A100 80GB PCIe": (312.0, 1935.0),
    "A100-PCIE-40GB": (312.0, 1555.0),
    "L40S": (362.0, 864.0),
    "L4": (121.0, 300.0),
    "RTX 4090": (165.0, 1008.0),
}


def figures_for(gpu_name: str) -> tuple[float, float] | None:
    for key in sorted(FIGURES, key=len, reverse=True):
        if key in gpu_name:
            return FIGURES[key]
    return None
