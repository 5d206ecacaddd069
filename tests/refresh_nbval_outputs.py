"""Store the reference outputs nbval compares: run notebooks and keep the outputs of the cells marked
``# NBVAL_CHECK_OUTPUT`` only (every other cell is stored without output).

    .venv/bin/python tests/refresh_nbval_outputs.py notebooks/02-container-toolkit.ipynb ...

Review the diff before committing: a changed reference output is a changed behaviour.
"""
import sys

import nbformat
from nbclient import NotebookClient


def refresh(path: str) -> None:
    nb = nbformat.read(path, as_version=4)
    executed = nbformat.read(path, as_version=4)
    NotebookClient(executed, timeout=900, kernel_name="python3",
                   resources={"metadata": {"path": "notebooks"}}).execute()
    for cell, done in zip(nb.cells, executed.cells):
        if cell.cell_type != "code":
            continue
        checked = "NBVAL_CHECK_OUTPUT" in cell.source
        cell.outputs = done.outputs if checked else []
        cell.execution_count = done.execution_count if checked else None  # nbval skips unrun cells
    nbformat.write(nb, path)


if __name__ == "__main__":
    for p in sys.argv[1:]:
        refresh(p)
