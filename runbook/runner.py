"""Running the runbook headless: the notebooks in order with papermill, then the record.

``run`` is the one public entry: the CLI only parses arguments around it. Every executed notebook is
written, also one that failed, before the next one starts; the record is read from them.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import socket
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import yaml

from . import engine, params, record
from .catalogue import REPORT, STEPS, notebooks_dir
from .errors import EngineError, RunSetupError


def load_values(path: str | None, pairs: list[list[str]]) -> dict:
    """Parameter values from a YAML file of name: value (optional), then NAME VALUE pairs over them."""
    values = {}
    if path:
        try:
            with open(path, encoding="utf-8") as f:
                loaded = yaml.safe_load(f)
        except (OSError, yaml.YAMLError) as e:
            raise RunSetupError(f"cannot read parameters file {path}: {e}") from None
        if loaded is not None and not isinstance(loaded, dict):
            raise RunSetupError(f"parameters file {path} must be a mapping of name: value")
        values.update(loaded or {})
    values.update({name: value for name, value in pairs})
    return values


def select(only: list[str] | None) -> list[str]:
    """The steps to run: all, or those named by number (3, 03) or name (preflight, 03-gpu-in-container)."""
    if not only:
        return list(STEPS)
    chosen = []
    for key in only:
        k = key.strip().removesuffix(".ipynb")
        hits = [s for s in STEPS if s == k or s[:2] == k.zfill(2) or s[3:] == k]
        if len(hits) != 1:
            raise RunSetupError(f"--only {key!r} names no step; steps: {', '.join(STEPS)}")
        if hits[0] not in chosen:
            chosen.append(hits[0])
    return sorted(chosen)


def default_out_dir() -> Path:
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    return Path("runs") / f"{socket.gethostname()}-{stamp}"


def prepare_out_dir(out: Path) -> Path:
    """A new or empty folder: an existing record is never overwritten."""
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise RunSetupError(f"{out} already exists and is not empty: it may hold a record; choose another --out")
    out.mkdir(parents=True, exist_ok=True)
    return out


@contextlib.contextmanager
def environment(**changes: str) -> Iterator[None]:
    """``changes`` in os.environ while the notebooks' kernels start (they inherit it), restored after."""
    saved = {k: os.environ.get(k) for k in changes}
    os.environ.update(changes)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def run(
    out_dir: str | Path | None = None,
    values: dict[str, Any] | None = None,
    only: list[str] | None = None,
    notebooks: str | Path | None = None,
    log: Callable[[str], None] = print,
) -> tuple[dict, Path]:
    """Run the selected notebooks with ``values`` and write the record; returns (summary, folder).

    Raises ParameterError or RunSetupError before anything runs when the run cannot be made.
    """
    import papermill
    from papermill.exceptions import PapermillExecutionError

    p = params.validate(values or {})
    p["interactive"] = False  # headless: nothing to click, plain output
    p["strict"] = False  # every step runs; the verdict comes from the record
    src = Path(notebooks) if notebooks else notebooks_dir()
    steps = select(only)
    missing = [s for s in steps if not (src / f"{s}.ipynb").exists()]
    if missing:
        raise RunSetupError(f"notebook(s) missing in {src}: {', '.join(m + '.ipynb' for m in missing)}")
    out = prepare_out_dir(Path(out_dir) if out_dir else default_out_dir())
    run_id = uuid.uuid4().hex[:12]
    started = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    _cleanup(p["docker_host"], None)  # leftovers of earlier, killed runs
    try:
        with environment(**{engine.RUN_ID_ENV: run_id, "PYTHONPATH": kernel_pythonpath()}):
            for step in steps:
                nb_in, nb_out = src / f"{step}.ipynb", out / f"{step}.ipynb"
                declared = papermill.inspect_notebook(literal(nb_in))
                passed = {k: v for k, v in p.items() if k in declared}
                log(f"running {step}")
                try:
                    papermill.execute_notebook(
                        literal(nb_in),
                        literal(nb_out),
                        parameters=passed,
                        kernel_name="python3",
                        progress_bar=False,
                        cwd=str(out if step == REPORT else src),  # the report reads the record beside it
                    )
                except PapermillExecutionError as e:
                    log(f"  {step} stopped: {e.ename}: {e.evalue}")
                finally:
                    record.relocate(nb_out)
    finally:
        _cleanup(p["docker_host"], run_id)
    summary = record.collect(out, [f"{s}.ipynb" for s in steps if s != REPORT])
    summary.update(
        started=started, finished=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), parameters=p, steps=steps
    )
    record.write(out, summary)
    return summary, out


def literal(path: Path) -> str:
    """An absolute path as papermill must be given it: papermill formats paths with the parameters
    (``{name}``) and reads ``scheme://`` as a remote store, so braces are escaped and the path is absolute."""
    return str(path.resolve()).replace("{", "{{").replace("}", "}}")


def kernel_pythonpath() -> str:
    """PYTHONPATH for the notebooks' kernels: this runbook package first, so that they import the same
    code as the runner, also from a checkout that was never installed (the kernels start in notebooks/)."""
    here = str(Path(__file__).resolve().parent.parent)
    rest = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p and p != here]
    return os.pathsep.join([here, *rest])


def _cleanup(docker_host: str, run: str | None) -> None:
    try:
        client = engine.connect(docker_host, timeout=30)
    except EngineError:
        return  # no engine: nothing can be left on it
    engine.remove_leftovers(client, run)
