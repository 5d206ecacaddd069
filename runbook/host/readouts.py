"""nvidia-smi's human outputs read: the default table (its header line) and the --query-gpu CSV, with
the renamed fields of newer drivers read under their old names."""

from __future__ import annotations

import csv
import re

from . import Reading, read

TABLE_FIELDS = {  # the table's header line: R610 spelling first
    "driver_version": re.compile(r"(?:KMD Version|Driver Version):\s*(\S+)"),
    "cuda_version": re.compile(r"(?:CUDA UMD Version|CUDA Version):\s*(\S+)"),
}


def parse_nvidia_smi_table(text: str) -> dict[str, Reading]:
    """The driver and CUDA versions of ``nvidia-smi``'s default table (its header line)."""
    out = {}
    for name, pattern in TABLE_FIELDS.items():
        m = pattern.search(text)
        out[name] = read("version", m.group(1) if m else "")
    return out


CSV_ALIASES = {"clocks_throttle_reasons.": "clocks_event_reasons.", "gpu_name": "name", "gpu_uuid": "uuid"}


def csv_field(header: str) -> str:
    """A --query-gpu CSV header as its query name: units dropped ("memory.total [MiB]"), older names read
    as the newer (``clocks_throttle_reasons.*`` is ``clocks_event_reasons.*`` since R535)."""
    name = re.sub(r"\s*\[[^\]]*\]\s*$", "", header.strip())
    for old, new in CSV_ALIASES.items():
        if name.startswith(old):
            name = new + name[len(old) :]
    return name


CSV_KINDS = {"memory.total": "mib", "memory.used": "mib", "memory.free": "mib", "index": "int", "count": "int"}
CSV_KINDS |= dict.fromkeys(("driver_version", "kmd_version", "vbios_version", "compute_cap"), "version")


def parse_nvidia_smi_csv(text: str) -> list[dict[str, Reading]]:
    """``nvidia-smi --query-gpu=... --format=csv``: one dict of readings per GPU, keyed by query name."""
    rows = [next(csv.reader([line], skipinitialspace=True)) for line in text.splitlines() if line.strip()]
    if not rows:
        return []
    names = [csv_field(h) for h in rows[0]]
    return [
        {n: read(CSV_KINDS.get(n, "text"), v) for n, v in zip(names, row, strict=False)}
        for row in rows[1:]
        if len(row) == len(names)
    ]
