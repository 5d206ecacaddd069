"""`gpu-runbook lab`'s workspace: the notebooks copied out of the package into a folder of the user's, a
class's work kept, the package and the checkout never written, a record to replay named in every step
notebook; and JupyterLab's command line, with what root needs. JupyterLab itself is started by the
browser tests (tests/browser), through this command."""

import json
import sys

import pytest

from runbook import lab
from runbook.catalogue import NOTEBOOKS, OVERVIEW_NOTEBOOK, notebooks_dir
from runbook.errors import RunSetupError
from tests.helpers import REPO, gpu_runbook

H200 = REPO / "records" / "h200-2026-11-28"
ALL = sorted(n.name for n in (OVERVIEW_NOTEBOOK, *NOTEBOOKS))


def parameters(path) -> str:
    nb = json.loads(path.read_text())
    return "".join(next(c for c in nb["cells"] if "parameters" in c["metadata"].get("tags", []))["source"])


def test_the_notebooks_are_copied_into_the_workspace(tmp_path):
    ws = lab.prepare(tmp_path / "class")
    assert sorted(ws.written) == ALL, ws.written
    for name in ALL:
        copied, shipped = (tmp_path / "class" / name).read_bytes(), (notebooks_dir() / name).read_bytes()
        assert copied == shipped, f"{name} differs from the runbook's"


def test_a_notebook_already_in_the_workspace_is_kept(tmp_path):
    (tmp_path / "01-preflight.ipynb").write_text("a student's work")
    ws = lab.prepare(tmp_path)
    assert ws.kept == ["01-preflight.ipynb"], ws.kept
    assert (tmp_path / "01-preflight.ipynb").read_text() == "a student's work"


@pytest.mark.parametrize("inside", [notebooks_dir(), REPO, REPO / "build" / "class"])
def test_a_workspace_inside_the_package_or_the_checkout_is_refused(inside):
    before = sorted(p.name for p in notebooks_dir().iterdir())
    with pytest.raises(RunSetupError, match="where the runbook itself lives"):
        lab.prepare(inside)
    assert sorted(p.name for p in notebooks_dir().iterdir()) == before, "something was written into notebooks/"
    assert not (REPO / "build" / "class").exists(), "the refused folder was made"


def test_the_command_refuses_the_checkout_with_exit_2_and_says_why():
    proc = gpu_runbook("lab", str(REPO / "notebooks"), timeout=60)
    assert proc.returncode == 2, f"expected exit 2, got {proc.returncode}: {proc.stderr}"
    assert "where the runbook itself lives" in proc.stderr, proc.stderr


def test_a_replay_workspace_holds_the_record_and_names_it_in_every_step(tmp_path):
    ws = lab.prepare(tmp_path, str(H200))
    assert ws.replay == "records/h200-2026-11-28", ws.replay
    copied = (tmp_path / ws.replay / "summary.json").read_bytes()
    assert copied == (H200 / "summary.json").read_bytes(), "the record's summary.json was not copied as it is"
    for n in NOTEBOOKS:
        if n.module:
            cell = parameters(tmp_path / n.name)
            assert "replay = 'records/h200-2026-11-28'" in cell, f"{n.name}: {cell}"


def test_the_replay_is_set_only_in_the_step_notebooks(tmp_path):
    lab.prepare(tmp_path, str(H200))
    for n in (OVERVIEW_NOTEBOOK, *NOTEBOOKS):
        if not n.module:
            shipped = (notebooks_dir() / n.name).read_bytes()
            assert (tmp_path / n.name).read_bytes() == shipped, f"{n.name} was changed"


def test_a_folder_that_is_not_a_record_is_refused_before_anything_is_written(tmp_path):
    with pytest.raises(RunSetupError, match="not a record"):
        lab.prepare(tmp_path / "class", str(tmp_path))
    assert not (tmp_path / "class").exists(), "the workspace was made for a replay that cannot be"


def test_the_default_workspace_is_in_the_home_folder(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path))
    assert lab.default_folder() == tmp_path / "gpu-runbook-lab"
    assert lab.default_folder(str(H200)) == tmp_path / "gpu-runbook-replay-h200-2026-11-28"


def test_as_root_jupyterlab_is_given_allow_root(tmp_path):
    argv = lab.argv(tmp_path, ["--no-browser"], root=True)
    assert argv[:3] == [sys.executable, "-m", "jupyterlab"], argv
    assert f"--ServerApp.root_dir={tmp_path.resolve()}" in argv, argv
    assert "--allow-root" in argv, argv
    assert argv[-1] == "--no-browser", argv


def test_as_another_user_jupyterlab_is_not_given_allow_root(tmp_path):
    argv = lab.argv(tmp_path, [], root=False)
    assert "--allow-root" not in argv, argv


def test_help_names_the_workspace_the_replay_and_the_exit_codes():
    proc = gpu_runbook("lab", "--help", timeout=60)
    assert proc.returncode == 0, proc.stderr
    for words in ("DIR", "--replay RECORD", "--port", "--no-browser", "exit codes:"):
        assert words in proc.stdout, f"`lab --help` does not name {words}:\n{proc.stdout}"
