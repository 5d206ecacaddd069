"""Small programs run inside containers (and on the host, for comparison); each prints one JSON line."""

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
