"""The NVIDIA Container Toolkit built from source, where the test command says it is."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.utils.engine import require


def built_toolkit(name: str) -> Path:
    """What tests/tooling/toolkit-up.sh made, as tests/run.sh exports it: ``bin`` (the NVIDIA Container Toolkit's
    programs, built from its source) or ``repo`` (its packages in a repository laid out like NVIDIA's).
    Skips with the build's own reason where the toolkit cannot be built on this machine."""
    reason = os.environ.get("RUNBOOK_TOOLKIT_UNAVAILABLE")
    if reason:
        pytest.skip(f"the NVIDIA Container Toolkit cannot be built here: {reason}")
    path = os.environ.get(f"RUNBOOK_TOOLKIT_{name.upper()}", "")
    require(
        bool(path) and Path(path).is_dir(),
        f"the NVIDIA Container Toolkit built from source ({name})",
        "run tests/run.sh as root (it runs tests/tooling/toolkit-up.sh and exports RUNBOOK_TOOLKIT_BIN and _REPO)",
    )
    return Path(path)
