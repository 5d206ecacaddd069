"""The runbook's version, from the package metadata (one source: pyproject.toml), and the commit when it
runs from a git checkout; both go into every record."""

from __future__ import annotations

import os
import subprocess
from functools import lru_cache
from importlib import metadata
from pathlib import Path

DISTRIBUTION = "gpu-runbook"
CHECKOUT = Path(__file__).resolve().parent.parent


@lru_cache(maxsize=1)
def version() -> str:
    """The installed distribution's version; in a checkout that was never installed, pyproject's."""
    try:
        return metadata.version(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        pass
    try:
        import tomllib

        return tomllib.loads((CHECKOUT / "pyproject.toml").read_text())["project"]["version"]
    except (OSError, KeyError, ValueError):
        return "unknown"


@lru_cache(maxsize=1)
def commit() -> str | None:
    """The checkout's commit (with ``-dirty`` when files differ from it); None outside a git checkout."""
    if not (CHECKOUT / ".git").exists() or not (CHECKOUT / "runbook").is_dir():
        return None
    try:
        head = subprocess.run(
            ["git", "-C", str(CHECKOUT), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10
        )
        dirty = subprocess.run(
            ["git", "-C", str(CHECKOUT), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if head.returncode != 0:
        return None
    return head.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")


def version_info() -> dict:
    return {"runbook_version": version(), "runbook_commit": commit()}


def kernel_pythonpath() -> str:
    """PYTHONPATH for the notebooks' kernels: this runbook package first, so that they import the same
    code as the runner, also from a checkout that was never installed (the kernels start in notebooks/)."""
    here = str(Path(__file__).resolve().parent.parent)
    rest = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p and p != here]
    return os.pathsep.join([here, *rest])
