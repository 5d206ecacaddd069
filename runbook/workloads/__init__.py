"""Small programs run inside containers (and on the host, for comparison); each prints one JSON line.

- ``gpu_probe``: the GPU probe: devices, a matmul checked against the CPU, TFLOP/s and copy bandwidth
- ``build_cuda_probe``: builds the CUDA driver-API probe (``cuda_probe.c``) that step 3 binds into a container
- ``datasheet``: the datasheet figures by GPU model that measured throughput is set beside
"""

from __future__ import annotations

import json
from importlib import resources

MARK = "GPU_RUNBOOK_RESULT "


def source(name: str) -> str:
    """The source of workload ``name`` (run as ``python3 -c SOURCE ARGS…``: nothing to copy in)."""
    return resources.files(__package__).joinpath(f"{name}.py").read_text()


def parse(output: str) -> dict | None:
    """The JSON result a workload printed, from among whatever else the container printed."""
    for line in reversed(output.splitlines()):
        if line.startswith(MARK):
            try:
                return json.loads(line[len(MARK) :])
            except json.JSONDecodeError:
                return None
    return None
