"""The shape of the checks' data that the readers of a record dig into (the report, the Lab's panels, the
fleet report, verify's facts), as the runbook writes it: a record whose data has another shape is refused
when read back, rather than failing half-way through drawing it.

A shape is a type (``str``), a tuple of shapes any of which fits (``(str, None)``: text or null), a
frozenset of the values allowed, a list of one shape (every item fits it) or a dict of shapes (each key,
where present, fits its shape; other keys are free).
"""

from __future__ import annotations

NUMBER = (int, float)
TEXT = (str, None)
GPU = {"index": int, "name": str, "uuid": str, "memory_total_mib": (NUMBER, None)}  # None: nvidia-smi said N/A
SEEN_GPU = {"name": str, "uuid": str}
SPEED = ({"bf16_matmul_tflops": (NUMBER, None), "copy_gb_per_s": (NUMBER, None)}, None)
ENGINE = {"engine": TEXT, "version": TEXT, "api_version": TEXT, "rootless": (bool, None)}

DATA = {
    "host.os": {"id": TEXT, "version_id": TEXT, "kernel": TEXT},
    "host.driver": {"driver_version": TEXT, "cuda_version": TEXT, "gpus": [GPU]},
    "engine.reachable": ENGINE,
    "toolkit.installed": {"version": TEXT},
    "gpu.nvidia_smi": {"mode": TEXT, "gpus": ([SEEN_GPU], None)},
    "gpu.same_gpus": {"host": ([SEEN_GPU], None)},
    "pytorch.import": {
        "torch": TEXT,
        "cuda": TEXT,
        "cuda_available": bool,
        "devices": [str],
        "matmul": {"n": int, "ok": bool},
    },
    "pytorch.cuda_available": {"host_gpus": ([str], None)},
    "pytorch.throughput": {"gpu": str, "container": SPEED, "host": SPEED, "datasheet": SPEED},
    "health.": {"gpus": [{"gpu": int, "state": frozenset({"ok", "warn", "fail", "not observed"}), "seen": str}]},
}
# any check's data may name the engine: an image pull the one it talked to, engine.reachable its kind
EVERY = {"engine": (ENGINE, str, None)}


def fits(value, shape) -> bool:
    if shape is None:
        return value is None
    if isinstance(shape, tuple):
        return any(fits(value, s) for s in shape)
    if isinstance(shape, frozenset):
        return isinstance(value, str) and value in shape
    if isinstance(shape, list):
        return isinstance(value, list) and all(fits(v, shape[0]) for v in value)
    if isinstance(shape, dict):
        return isinstance(value, dict) and all(k not in value or fits(value[k], s) for k, s in shape.items())
    return isinstance(value, shape)


def data_fits(check_id: str, data: dict) -> bool:
    """Whether a check's data has the shape its readers expect (a health check's by the health. prefix)."""
    shape = DATA.get("health." if check_id.startswith("health.") else check_id, {})
    return fits(data, EVERY) and fits(data, shape)
