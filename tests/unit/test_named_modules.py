"""What the documentation and the docstrings name exists: a module path (``runbook/engine/modes.py``) is a
file of the package, and ``python -m runbook…`` names a module that runs. A regrouping that moves a module
leaves no reader sent to where it was."""

import importlib.util
import re

from tests.utils.paths import REPO

MODULE_PATH = re.compile(r"\brunbook/[a-z0-9_/]+\.py\b")
MODULE_RUN = re.compile(r"python3? -m\s+(runbook(?:\.[a-z0-9_]+)*)")


def texts() -> dict[str, str]:
    """Every page and every Python and shell file of the project's own, by its path in the repository."""
    found = [REPO / "README.md", REPO / "records" / "README.md", *sorted((REPO / "docs").rglob("*.md"))]
    for folder in ("runbook", "tests", "benchmarks", "tools", "fleet", "notebooks"):
        for pattern in ("*.py", "*.sh", "*.md", "*.yml", "*.ipynb"):
            found += sorted((REPO / folder).rglob(pattern))
    return {str(p.relative_to(REPO)): p.read_text(errors="replace") for p in found if p.is_file()}


def test_every_module_path_named_is_a_file_of_the_package():
    named = {(m, where) for where, text in texts().items() for m in MODULE_PATH.findall(text)}
    missing = sorted(f"{m} (named in {where})" for m, where in named if not (REPO / m).is_file())
    assert missing == [], missing


def test_every_python_dash_m_names_a_module_that_exists():
    named = {(m, where) for where, text in texts().items() for m in MODULE_RUN.findall(text)}
    missing = sorted(f"{m} (named in {where})" for m, where in named if importlib.util.find_spec(m) is None)
    assert missing == [], missing
