"""NVIDIA's security bulletins for the Container Toolkit (runbook/toolkit_security.json, each row sourced)
and the versions they affect, compared as the package manager compares them."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources

from . import versions


@cache
def table() -> dict:
    return json.loads(resources.files("runbook").joinpath("toolkit_security.json").read_text())


def affecting(version: str, manager: str = "apt") -> list[dict]:
    """The table's rows whose fixed version is newer than ``version``."""
    return [r for r in table()["vulnerabilities"] if versions.compare(version, r["fixed"], manager) < 0]
