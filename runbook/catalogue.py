"""The notebooks: one list, in the order they run, for the runner, the record, the overview and the tests.

Each step notebook holds a tagged parameters cell and one call of its step function
(``runbook.steps.<module>.run``); the report summarises the others; the overview is for JupyterLab only.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from .i18n import N_


@dataclass(frozen=True)
class Notebook:
    number: int
    stem: str  # the file name without .ipynb, e.g. 03-gpu-in-container
    title: str  # a message id: shown through i18n.translate
    module: str | None  # runbook.steps.<module> holds the step function; None for the report and overview
    essential: tuple[str, ...] = ()  # the checks this step exists to observe: pass needs each observed passing

    @property
    def name(self) -> str:
        return f"{self.stem}.ipynb"

    @property
    def step(self) -> Callable:
        """The step function ``run(progress=None, **parameters) -> list[CheckResult]``."""
        if self.module is None:
            raise AttributeError(f"{self.stem} has no step function")
        return importlib.import_module(f"runbook.steps.{self.module}").run


OVERVIEW_NOTEBOOK = Notebook(0, "00-overview", N_("The path at a glance"), None)
NOTEBOOKS: tuple[Notebook, ...] = (
    Notebook(1, "01-preflight", N_("Preflight: is this host ready?"), "preflight", ("host.driver", "engine.reachable")),
    Notebook(2, "02-container-toolkit", N_("The NVIDIA Container Toolkit"), "toolkit_state"),
    Notebook(
        3, "03-gpu-in-container", N_("The GPU in a container"), "gpu_container", ("gpu.nvidia_smi", "gpu.same_gpus")
    ),
    Notebook(
        4,
        "04-pytorch-in-container",
        N_("PyTorch in a container"),
        "pytorch_container",
        ("pytorch.cuda_available", "pytorch.matmul"),
    ),
    Notebook(5, "05-why-no-nvcc", N_("Why is there no nvcc?"), "nvcc"),
    Notebook(6, "06-report", N_("Report"), None),
)
STEPS: tuple[str, ...] = tuple(n.stem for n in NOTEBOOKS)  # the stems, in the order they run
REPORT = "06-report"
OVERVIEW = OVERVIEW_NOTEBOOK.stem
BY_STEM = {n.stem: n for n in (OVERVIEW_NOTEBOOK, *NOTEBOOKS)}
ESSENTIAL = {n.stem: n.essential for n in NOTEBOOKS}  # the one place that says what a pass needs


def notebooks_dir() -> Path:
    """The notebooks shipped in the package (in a checkout, the top-level notebooks/ folder)."""
    return Path(str(resources.files("runbook") / "notebooks"))
