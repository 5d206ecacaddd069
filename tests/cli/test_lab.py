"""`gpu-runbook lab`'s workspace: the notebooks copied out of the package into a folder of the user's, a
class's work kept, the package and the checkout never written, a record to replay named in every step
notebook; and JupyterLab's command line, with what root needs. JupyterLab itself is started by the
browser tests (tests/browser), through this command."""

import json
import re
import subprocess
import sys

import pytest

from runbook.catalogue import NOTEBOOKS, OVERVIEW_NOTEBOOK, notebooks_dir
from runbook.errors import RunSetupError
from runbook.i18n import narrative
from runbook.present import lab
from tests.utils.cli import gpu_runbook
from tests.utils.paths import REPO

H200 = REPO / "records" / "h200-2026-11-28"
ALL = sorted(n.name for n in (OVERVIEW_NOTEBOOK, *NOTEBOOKS))


def parameters(path) -> str:
    nb = json.loads(path.read_text())
    return "".join(next(c for c in nb["cells"] if "parameters" in c["metadata"].get("tags", []))["source"])


def test_the_notebooks_are_copied_into_the_workspace(tmp_path):
    ws = lab.prepare(tmp_path / "class", lang="en")
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
    lab.prepare(tmp_path, str(H200), lang="en")
    for n in (OVERVIEW_NOTEBOOK, *NOTEBOOKS):
        if not n.module:
            shipped = (notebooks_dir() / n.name).read_bytes()
            assert (tmp_path / n.name).read_bytes() == shipped, f"{n.name} was changed"


def settings(folder) -> dict:
    return json.loads((folder / lab.SETTINGS / lab.LANGUAGE_SETTINGS).read_text())


def checkout_state() -> str:
    """What git sees changed in the checkout (notebooks and package), to show a command changed nothing."""
    git = ["git", "-C", str(REPO), "status", "--porcelain", "--ignored", "--", "notebooks", "runbook"]
    return subprocess.run(git, capture_output=True, text=True, check=True).stdout


def test_in_chinese_the_workspace_notebooks_and_jupyterlab_are_chinese_and_the_checkout_untouched(
    tmp_path, monkeypatch
):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    before = checkout_state()
    ws = lab.prepare(tmp_path / "class", lang="zh_CN")
    assert ws.lang == "zh_CN" and sorted(ws.written) == ALL, ws
    for name in ALL:
        shipped = (notebooks_dir() / name).read_text(encoding="utf-8")
        copied = (tmp_path / "class" / name).read_text(encoding="utf-8")
        assert copied == narrative.translated_text(shipped, "zh_CN"), f"{name} is not the translated notebook"
        cells = json.loads(copied)["cells"]
        assert re.search(r"[\u4e00-\u9fff]", "".join(cells[0]["source"])), f"{name} does not begin in Chinese"
        code = [c for c in json.loads(shipped)["cells"] if c["cell_type"] == "code"]
        assert [c for c in cells if c["cell_type"] == "code"] == code, f"{name}: its code is not the runbook's"
    assert settings(tmp_path / "class") == {"locale": "zh_CN"}
    argv = lab.argv(ws.folder, [], root=False)
    assert f"--LabApp.user_settings_dir={(tmp_path / 'class' / lab.SETTINGS).resolve()}" in argv, argv
    assert lab.environment(ws)["LANGUAGE"] == "zh_CN", "the kernels would not speak the workspace's language"
    assert checkout_state() == before, "the checkout was changed"
    assert not (tmp_path / "home").exists(), "something was written into the user's own settings"


def test_in_english_jupyterlab_is_told_english_whatever_the_locale(tmp_path, monkeypatch):
    monkeypatch.setenv("LANGUAGE", "zh_CN")
    ws = lab.prepare(tmp_path, lang="en")
    assert settings(tmp_path) == {"locale": "en"}
    assert lab.environment(ws)["LANGUAGE"] == "en"
    first = json.loads((tmp_path / "01-preflight.ipynb").read_text())["cells"][0]
    assert first["source"][0] == "# 1. Preflight: is this host ready?\n", first["source"][0]


def test_without_lang_the_locale_decides(tmp_path, monkeypatch):
    for var in ("LANGUAGE", "LC_ALL", "LC_MESSAGES"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("LANG", "zh_CN.UTF-8")
    assert lab.prepare(tmp_path / "zh").lang == "zh_CN"
    assert settings(tmp_path / "zh") == {"locale": "zh_CN"}
    monkeypatch.setenv("LANG", "en_US.UTF-8")
    assert lab.prepare(tmp_path / "en").lang == "en"


def test_a_replay_in_chinese_names_the_record_and_reads_in_chinese(tmp_path):
    lab.prepare(tmp_path, str(H200), lang="zh_CN")
    cell = parameters(tmp_path / "03-gpu-in-container.ipynb")
    assert "replay = 'records/h200-2026-11-28'" in cell, cell
    first = json.loads((tmp_path / "03-gpu-in-container.ipynb").read_text())["cells"][0]
    assert first["source"][0] == "# 3. 容器里的 GPU\n", first["source"][0]


def test_a_language_the_runbook_does_not_speak_is_refused_with_exit_2_before_anything_is_written(tmp_path):
    proc = gpu_runbook("lab", str(tmp_path / "class"), "--lang", "fr", timeout=60)
    assert proc.returncode == 2, f"expected exit 2, got {proc.returncode}: {proc.stderr}"
    assert "'fr' is not a language" in proc.stderr and "--lang en or zh_CN" in proc.stderr, proc.stderr
    assert not (tmp_path / "class").exists(), "the workspace was made for a language the runbook does not speak"


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
    for words in ("DIR", "--replay RECORD", "--lang", "--port", "--no-browser", "exit codes:"):
        assert words in proc.stdout, f"`lab --help` does not name {words}:\n{proc.stdout}"
