"""The runbook as a user installs it: the wheel built from this checkout, installed into a fresh virtual
environment outside it (dependencies from the package index), and the CLI run from there: params, plan,
and a headless run against the real engine whose record holds the same checks as the checkout's."""

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from runbook.catalogue import NOTEBOOKS, OVERVIEW
from runbook.version import version
from tests.utils.cli import checks, run_cli
from tests.utils.paths import REPO

pytestmark = [pytest.mark.wheel, pytest.mark.engine]


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """(the wheel, the gpu-runbook command of a fresh virtual environment that has only that wheel)."""
    base = tmp_path_factory.mktemp("wheel")
    command = [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(base / "dist"), str(REPO)]
    built = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert built.returncode == 0, built.stderr[-3000:]
    wheel = next((base / "dist").glob("gpu_runbook-*.whl"))
    subprocess.run([sys.executable, "-m", "venv", str(base / "venv")], check=True, timeout=300)
    pip = subprocess.run(
        [str(base / "venv/bin/python"), "-m", "pip", "install", "-q", "--disable-pip-version-check", str(wheel)],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert pip.returncode == 0, pip.stderr[-3000:]
    return wheel, base / "venv" / "bin" / "gpu-runbook", base


def outside(command, *args, cwd, timeout=900):
    """Run the installed command where no checkout is near, with no PYTHONPATH leading back to it."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return subprocess.run([str(command), *args], capture_output=True, text=True, cwd=cwd, env=env, timeout=timeout)


def test_the_wheel_carries_every_module_and_notebook(installed):
    wheel, _, _ = installed
    names = set(zipfile.ZipFile(wheel).namelist())
    files = [p for pattern in ("*.py", "*.json") for p in (REPO / "runbook").rglob(pattern)]
    modules = {str(p.relative_to(REPO)) for p in files if "notebooks" not in p.parts}
    assert modules - names == set(), f"modules and data missing from the wheel: {sorted(modules - names)}"
    notebooks = {f"runbook/notebooks/{n.name}" for n in NOTEBOOKS} | {f"runbook/notebooks/{OVERVIEW}.ipynb"}
    assert notebooks - names == set(), f"notebooks missing from the wheel: {sorted(notebooks - names)}"
    catalogues = {str(p.relative_to(REPO)) for p in (REPO / "runbook" / "locale").rglob("runbook.mo")}
    assert len(catalogues) == 2 and catalogues <= names, f"catalogues missing from the wheel: {catalogues - names}"


def test_the_installed_command_speaks_the_locales_language(installed, tmp_path):
    _, command, _ = installed
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    proc = subprocess.run(
        [str(command), "params"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=60,
        env={**env, "LANG": "zh_CN.UTF-8"},
    )
    assert proc.returncode == 0, proc.stderr
    assert "拉取策略" in proc.stdout, proc.stdout[:400]


def test_the_installed_command_shows_its_version_params_and_plan(installed, tmp_path):
    _, command, _ = installed
    proc = outside(command, "--version", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"gpu-runbook {version()}"
    proc = outside(command, "params", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("docker_host"), proc.stdout[:200]
    proc = outside(command, "plan", "--os", "ubuntu:24.04", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "nvidia-ctk runtime configure --runtime=docker" in proc.stdout


def test_a_headless_run_from_the_wheel_records_the_same_checks_as_the_checkout(installed, client, tmp_path):
    _, command, base = installed
    proc = outside(command, "run", "--out", str(tmp_path / "wheel-record"), cwd=tmp_path)
    assert proc.returncode in (0, 1), proc.stderr[-3000:]
    summary, by_id = checks(tmp_path / "wheel-record")
    assert [n["status"] for n in summary["notebooks"]] == ["ran"] * 6, summary["notebooks"]
    site = Path(next((base / "venv" / "lib").glob("python3.*"))) / "site-packages"
    for name in ("01-preflight.ipynb", "06-report.ipynb"):
        text = (tmp_path / "wheel-record" / name).read_text()
        assert str(REPO) not in text, f"{name} ran the checkout's code, not the wheel's"
    assert (site / "runbook" / "notebooks" / "01-preflight.ipynb").is_file()
    assert summary["runbook_commit"] is None, "an installed runbook is not a checkout"
    here = run_cli("--out", str(tmp_path / "checkout-record"), cwd=tmp_path)
    assert here.returncode == proc.returncode, (here.returncode, proc.returncode)
    _, checkout_by_id = checks(tmp_path / "checkout-record")
    assert list(by_id) == list(checkout_by_id), "the same checks, in the same order"
    assert {k: c["status"] for k, c in by_id.items()} == {k: c["status"] for k, c in checkout_by_id.items()}
