"""Store the reference outputs nbval compares: run notebooks (with papermill, parameters optional) and
keep the outputs of the cells marked ``# NBVAL_CHECK_OUTPUT`` only; every other cell is stored empty.

    .venv/bin/python tests/refresh_nbval_outputs.py notebooks/02-container-toolkit.ipynb ...
    python3 tests/refresh_nbval_outputs.py -p gpu_mode manual -p cuda_image rig/base:host ... notebooks/03-….ipynb

Review the diff before committing: a changed reference output is a changed behaviour.
"""

import argparse
import tempfile
from pathlib import Path

import nbformat
import papermill


def refresh(path: Path, parameters: dict) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        executed_path = Path(tmp) / path.name
        papermill.execute_notebook(
            str(path),
            str(executed_path),
            parameters=parameters,
            kernel_name="python3",
            progress_bar=False,
            cwd=str(path.parent),
        )
        executed = {c.id: c for c in nbformat.read(str(executed_path), as_version=4).cells}
    nb = nbformat.read(str(path), as_version=4)
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        checked = "NBVAL_CHECK_OUTPUT" in cell.source
        done = executed[cell.id]
        cell.outputs = done.outputs if checked else []
        cell.execution_count = done.execution_count if checked else None  # nbval skips unrun cells
        cell.metadata.pop("papermill", None)
        cell.metadata.pop("execution", None)
    nbformat.write(nb, str(path))


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("-p", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"))
    ap.add_argument("notebooks", nargs="+", type=Path)
    args = ap.parse_args()
    from runbook import params

    values = params.validate(dict(args.p))
    for p in args.notebooks:
        refresh(p, {k: values[k] for k, _ in args.p})
