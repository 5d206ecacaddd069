"""The command line as a user runs it, in its own process, and the record it leaves behind."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.utils.paths import REPO


def gpu_runbook(*args, cwd=REPO, timeout=900, env=None) -> subprocess.CompletedProcess:
    """The CLI as a user runs it (``python -m runbook``), in its own process."""
    return subprocess.run(
        [sys.executable, "-m", "runbook", *args], capture_output=True, text=True, cwd=cwd, timeout=timeout, env=env
    )


def run_cli(*args, out=None, only=(), cwd=REPO, timeout=900, env=None, **parameters) -> subprocess.CompletedProcess:
    """``gpu-runbook run``, its argv written out (``run_cli("--out", d, "-p", "pull", "never")``) or as keywords
    (``run_cli(out=d, only=(3, 4), pull="never")``): ``out`` is ``--out``, ``only`` one step or several
    (``--only`` each), every other keyword a ``-p NAME VALUE`` (True and False as true and false).
    Both forms mix; the written-out arguments come first."""
    argv = [*args]
    if out is not None:
        argv += ["--out", str(out)]
    for step in only if isinstance(only, (list, tuple)) else (only,):
        argv += ["--only", str(step)]
    for name, value in parameters.items():
        argv += ["-p", name, str(value).lower() if isinstance(value, bool) else str(value)]
    return gpu_runbook("run", *argv, cwd=cwd, timeout=timeout, env=env)


def checks(out_dir) -> tuple[dict, dict]:
    """A record's summary.json, and its checks by id."""
    summary = json.loads((Path(out_dir) / "summary.json").read_text())
    return summary, {c["id"]: c for c in summary["checks"]}


def assert_status(by_id: dict, check_id: str, status: str) -> None:
    c = by_id[check_id]
    assert c["status"] == status, f"{check_id}: expected {status}, got {c['status']}: {c['detail']}"
