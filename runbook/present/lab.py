"""The notebooks opened in JupyterLab from a workspace of their own, so a class never writes into the
package or the checkout (where the notebooks' reference outputs for nbval live).

- ``prepare`` copies the catalogue's notebooks into the workspace (default ``~/gpu-runbook-lab``); a
  notebook already there is the class's work and is kept as it is, unless it is a copy ``lab`` wrote
  that nobody changed (then it is written again, in today's language);
- a workspace inside the package or the checkout is refused before anything is written;
- with a record to replay, the record's own files (its regular files, never a link, a FIFO or a device)
  are copied into the workspace (``records/<name>``) and each step
  notebook's parameters cell names it (``replay = 'records/<name>'``); the default workspace is then
  ``~/gpu-runbook-replay-<name>``;
- in a language (``lang``; default the locale's), the notebooks' narrative is written in it
  (``runbook.i18n.narrative``: their code is the same in every language), JupyterLab's own interface speaks it
  (its language pack, chosen in the workspace's own JupyterLab settings, ``.jupyter/lab/user-settings``),
  and so do the kernels (``LANGUAGE``), hence the runbook's messages in the panels;
- ``argv`` is JupyterLab's command line for the workspace; as root it carries ``--allow-root``, without
  which JupyterLab refuses to start.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

from .. import i18n
from ..catalogue import NOTEBOOKS, OVERVIEW_NOTEBOOK, notebooks_dir
from ..errors import RunSetupError
from ..files import read_regular
from ..i18n import _, narrative
from ..version import CHECKOUT

RECORDS = "records"  # the workspace's folder of records to replay
COMMENT = "set by gpu-runbook lab --replay"
SETTINGS = Path(".jupyter", "lab", "user-settings")  # the workspace's JupyterLab settings, not the user's own
LANGUAGE_SETTINGS = Path("@jupyterlab", "translation-extension", "plugin.jupyterlab-settings")


@dataclass
class Workspace:
    folder: Path
    written: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    replay: str = ""  # the record's folder as the notebooks name it (relative to the workspace)
    lang: str = i18n.DEFAULT  # the language of the narrative, of JupyterLab and of the kernels


def default_folder(replay: str | None = None) -> Path:
    name = f"gpu-runbook-replay-{Path(replay).resolve().name}" if replay else "gpu-runbook-lab"
    return Path.home() / name


def forbidden() -> list[Path]:
    """Where a workspace must not be: the notebooks shipped, and the folder that holds the package (a
    checkout, or the environment's site-packages)."""
    return [notebooks_dir().resolve(), CHECKOUT.resolve()]


def refuse_inside(folder: Path) -> None:
    target = folder.expanduser().resolve()
    for place in forbidden():
        if target == place or place in target.parents:
            raise RunSetupError(
                _(
                    "{folder} is inside {place}, where the runbook itself lives: a class's outputs there would "
                    "overwrite the notebooks' reference outputs"
                ).format(folder=folder, place=place),
                remediation=_("Choose a folder of your own, or leave DIR out for ~/gpu-runbook-lab."),
            )
    if target.exists() and not target.is_dir():
        raise RunSetupError(_("{folder} is a file, not a folder; choose another DIR").format(folder=folder))


def with_replay(text: str, replay: str) -> str:
    """A notebook's text with ``replay`` set in its parameters cell, where the class sees every parameter
    (and where papermill's ``-p`` leaves it, as it leaves any default it is not given)."""
    nb = json.loads(text)
    cell = next(c for c in nb["cells"] if "parameters" in c.get("metadata", {}).get("tags", []))
    lines = "".join(cell["source"]).splitlines(keepends=True)
    at = next(i for i, line in enumerate(lines) if line.startswith("replay = "))
    lines[at] = f"replay = {replay!r}  # {COMMENT}" + ("\n" if lines[at].endswith("\n") else "")
    cell["source"] = lines
    return json.dumps(nb, indent=1, ensure_ascii=False) + "\n"


def language(lang: str) -> str:
    """The language ``--lang`` names (``''``: the locale's), or a RunSetupError naming those there are."""
    try:
        return i18n.resolve(lang)
    except ValueError as e:
        raise RunSetupError(
            str(e), remediation=_("Choose --lang {choices}.").format(choices=" or ".join(i18n.LANGUAGES))
        ) from None


def write_settings(ws: Workspace) -> None:
    """JupyterLab's interface language, in the workspace's own settings, written anew each time: ``--lang`` decides."""
    path = ws.folder / SETTINGS / LANGUAGE_SETTINGS
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"locale": ws.lang}, indent=2) + "\n", encoding="utf-8")


def prepare(folder: str | Path | None = None, replay: str | None = None, lang: str = "") -> Workspace:
    """The workspace with the notebooks (and the record to replay) in it, in ``lang``; what was written and
    kept."""
    from ..record import read

    if replay:
        read(replay)  # a RunSetupError when it is not a record, before anything is written
    ws = Workspace(Path(folder) if folder else default_folder(replay), lang=language(lang))
    try:
        refuse_inside(ws.folder)
        fill(ws, replay)
    except OSError as e:
        raise RunSetupError(
            _("cannot write the workspace {folder}: {error}").format(folder=ws.folder, error=e.strerror or e),
            remediation=_("Choose a folder you can write: gpu-runbook lab DIR."),
        ) from None
    return ws


def fill(ws: Workspace, replay: str | None) -> None:
    """The notebooks (and the record to replay) written into the workspace; a notebook changed there is kept."""
    ws.folder.mkdir(parents=True, exist_ok=True)
    if replay:
        ws.replay = f"{RECORDS}/{Path(replay).resolve().name}"
        copy = ws.folder / ws.replay
        if not copy.exists():
            copy_record(Path(replay), copy)
    source = notebooks_dir()
    for nb in (OVERVIEW_NOTEBOOK, *NOTEBOOKS):
        target = ws.folder / nb.name
        shipped = (source / nb.name).read_text(encoding="utf-8")
        if target.exists() and not untouched(target, shipped, ws.replay if nb.module else ""):
            ws.kept.append(nb.name)
            continue
        text = with_replay(shipped, ws.replay) if ws.replay and nb.module else shipped
        target.write_text(narrative.translated_text(text, ws.lang), encoding="utf-8")
        ws.written.append(nb.name)
    write_settings(ws)


def copy_record(record: Path, copy: Path) -> None:
    """The record's own files (summary.json, report.html, the executed notebooks) copied into the
    workspace: only regular files at its top, each of a bounded size. A symbolic link, a folder, a FIFO
    or a device in a record is none of the runbook's, and could bring any file of this machine (or an
    endless one, /dev/zero) into the folder JupyterLab serves: it is left out."""
    copy.mkdir(parents=True)
    for entry in sorted(os.scandir(record), key=lambda e: e.name):
        if not entry.is_file(follow_symlinks=False):
            continue
        try:
            data = read_regular(entry.path)
        except OSError:
            continue
        (copy / entry.name).write_bytes(data)


def untouched(target: Path, shipped: str, replay: str) -> bool:
    """Whether the copy at ``target`` is one ``lab`` wrote and nobody changed since: the shipped notebook
    in one of the languages (with the replay the workspace names, if any), byte for byte. Such a copy is
    written anew in today's language; a class's work (anything else) is kept."""
    try:
        found = target.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return False
    texts = [shipped] + ([with_replay(shipped, replay)] if replay else [])
    return any(found == narrative.translated_text(t, lang) for t in texts for lang in i18n.LANGUAGES)


def as_root() -> bool:
    return os.geteuid() == 0


def argv(folder: Path, extra: list[str], root: bool) -> list[str]:
    """JupyterLab's command line, serving ``folder``; ``extra``: the options given to ``lab`` for it."""
    return [
        sys.executable,
        "-m",
        "jupyterlab",
        f"--ServerApp.root_dir={folder.resolve()}",
        f"--LabApp.user_settings_dir={(folder / SETTINGS).resolve()}",
        *(["--allow-root"] if root else []),
        *extra,
    ]


def start(ws: Workspace, extra: list[str]) -> None:
    """Become JupyterLab serving the workspace; its kernels import this runbook."""
    import importlib.util

    if importlib.util.find_spec("jupyterlab") is None:
        raise RunSetupError(
            _("JupyterLab is not installed in this environment"),
            remediation=_("Install the runbook with its lab extra: pip install 'gpu-runbook[lab]'."),
        )
    if ws.lang != "en" and importlib.util.find_spec(f"jupyterlab_language_pack_{ws.lang}") is None:
        print(
            _(
                "JupyterLab's language pack for {lang} is not installed, so its menus stay in English; "
                "pip install 'gpu-runbook[lab]' brings it"
            ).format(lang=ws.lang),
            file=sys.stderr,
        )
    sys.stdout.flush()
    sys.stderr.flush()
    command = argv(ws.folder, extra, as_root())
    os.chdir(ws.folder)
    os.execve(command[0], command, environment(ws))


def environment(ws: Workspace) -> dict[str, str]:
    """JupyterLab's environment, which its kernels inherit: this runbook first on the path, and the
    workspace's language, in which the runbook's messages are shown (a notebook's ``lang`` parameter, when
    set, wins)."""
    from ..version import kernel_pythonpath

    return {**os.environ, "PYTHONPATH": kernel_pythonpath(), "LANGUAGE": ws.lang}
