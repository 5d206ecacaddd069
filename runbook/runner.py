"""Running the runbook headless: the notebooks in order in one kernel, each given its parameters as papermill
gives them (a cell tagged injected-parameters), then the record.

``run`` is the one public entry: the CLI only parses arguments around it. Every executed notebook is
written, also one that failed, before the next one starts; the record is read from them.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import socket
import tempfile
import threading
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import yaml

from . import engine, host, i18n, params, record
from .catalogue import REPORT, STEPS, notebooks_dir
from .engine import ahead
from .errors import EngineError, ParameterError, RunSetupError
from .i18n import _, narrative
from .present import report
from .present.progress import PlainView
from .results import PROGRESS_ENV
from .version import kernel_pythonpath

WRITTEN_AS_TEXT = {p.name for p in params.PARAMS if p.type is not bool}
YAML_NUMBERS = ("tag:yaml.org,2002:int", "tag:yaml.org,2002:float")


class UniqueKeyLoader(yaml.SafeLoader):
    """YAML's safe loader, refusing a key given twice (plain YAML lets the last one win silently: a file that
    says two things means neither). A parameter's number is read as written, by the parameter's own rules:
    YAML 1.1 reads ``gpus: 010`` and ``matmul_size: 010`` as the octal 8, ``0x10`` as 16."""

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, value_node in node.value:
            key = self.construct_object(key_node, deep=deep)
            try:
                hash(key)
            except TypeError:  # a list or mapping as a key: YAML's own loader says it cannot be a key
                continue
            if key in WRITTEN_AS_TEXT and isinstance(value_node, yaml.ScalarNode) and value_node.tag in YAML_NUMBERS:
                value_node.tag = "tag:yaml.org,2002:str"
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, _("{key} is given twice").format(key=repr(key)), key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def load_values(path: str | None, pairs: list[list[str]]) -> dict:
    """Parameter values from a YAML file of name: value (optional), then NAME VALUE pairs over them."""
    values = {}
    if path:
        try:
            with open(path, encoding="utf-8") as f:
                loaded = yaml.load(f, Loader=UniqueKeyLoader)  # noqa: S506 (a SafeLoader)
        except UnicodeDecodeError as e:
            raise RunSetupError(
                _("cannot read parameters file {path}: it is not UTF-8 text (byte {at}); write it as YAML text").format(
                    path=path, at=e.start
                )
            ) from None
        except (OSError, yaml.YAMLError) as e:
            why = e.strerror if isinstance(e, OSError) and e.strerror else " ".join(str(e).split())
            raise RunSetupError(_("cannot read parameters file {path}: {error}").format(path=path, error=why)) from None
        if loaded is not None and not isinstance(loaded, dict):
            raise RunSetupError(_("parameters file {path} must be a mapping of name: value").format(path=path))
        values.update(loaded or {})
    values.update(params.from_pairs(pairs))
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
            raise RunSetupError(
                _("--only {key} names no step; steps: {steps}").format(key=repr(key), steps=", ".join(STEPS))
            )
        if hits[0] not in chosen:
            chosen.append(hits[0])
    return sorted(chosen)


# what a headless run sets itself: nothing to click, plain output (interactive); every step runs and the
# verdict comes from the record (strict); the report reads the record it is part of (record_dir)
RUN_SETS = {"interactive": False, "strict": False, "record_dir": ""}
CLAIM = ".gpu-runbook-claim"  # made exclusively in a record's folder while its run writes it


def default_out_dir() -> Path:
    """runs/<host>-<time> in the caller's current folder."""
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    return Path.cwd() / "runs" / f"{socket.gethostname()}-{stamp}"


def claim_out_dir(out: Path, numbered: bool = False) -> Path:
    """A new or empty folder, claimed for this run alone: an existing record is never overwritten, and of
    two runs given the same folder one runs and the other is refused. ``numbered``: when the folder is
    taken, the next free ``out-2``, ``out-3``… is claimed instead (the default folder of runs started in
    the same second)."""
    for n in range(1, 100 if numbered else 2):
        folder = out if n == 1 else out.with_name(f"{out.name}-{n}")
        if folder.exists() and not folder.is_dir():
            raise RunSetupError(_("{folder} is not a folder; choose another --out").format(folder=folder))
        try:
            folder.mkdir(parents=True, exist_ok=True)
            if not folder.is_dir():
                raise RunSetupError(_("{folder} is not a folder; choose another --out").format(folder=folder))
            if any(folder.iterdir()):
                raise FileExistsError
            fd = os.open(folder / CLAIM, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            continue
        except OSError as e:
            raise RunSetupError(
                _("cannot write the record in {folder}: {error}").format(folder=folder, error=e.strerror),
                remediation=_("Choose an --out on a writable file system with free space."),
            ) from None
        try:
            with os.fdopen(fd, "w") as f:
                f.write(f"{os.getpid()} {socket.gethostname()}\n")
        except OSError as e:
            raise RunSetupError(
                _("cannot write the record in {folder}: {error}").format(folder=folder, error=e.strerror),
                remediation=_("Choose an --out on a writable file system with free space."),
            ) from None
        return folder
    raise RunSetupError(
        _("{folder} already exists and is not empty (a record, or a run writing one); choose another --out").format(
            folder=out
        )
    )


def out_folder(out_dir: str | Path | None) -> Path | None:
    """--out as an absolute folder (``~`` expanded, as a shell would have); None for the default. An empty
    one, or one with a control character (a pasted newline), is refused: neither is a folder meant."""
    if out_dir is None:
        return None
    text = str(out_dir)
    if not text.strip():
        raise RunSetupError(_("--out is empty: name a folder, or leave --out out for runs/<host>-<time>"))
    if any(ord(c) < 32 or ord(c) == 127 for c in text):
        raise RunSetupError(
            _("--out {folder} holds a control character (a newline?); name the folder without it").format(
                folder=repr(text)
            )
        )
    return Path(text).expanduser().absolute()


class Interrupted(KeyboardInterrupt):
    """The run was interrupted (Ctrl-C, SIGTERM); its record was written, with verdict incomplete."""

    def __init__(self, signal_name: str, summary: dict, out: Path):
        super().__init__(signal_name)
        self.signal_name, self.summary, self.out = signal_name, summary, out


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
    view=None,
    start_ahead: bool = True,
) -> tuple[dict, Path]:
    """Run the selected notebooks with ``values`` and write the record; returns (summary, folder).
    Progress goes to ``view`` (``progress.TerminalView`` on a terminal), else as lines to ``log``.
    ``start_ahead`` off: each step starts its own containers (engine.ahead; benchmarks compare the two).

    Raises ParameterError or RunSetupError before anything runs when the run cannot be made.
    """
    from . import kernel as notebook_kernel

    p = params.validate({**RUN_SETS, **(values or {})})
    for name, value in RUN_SETS.items():
        if p[name] != value:
            raise ParameterError(
                name,
                _(
                    "gpu-runbook run sets it itself (interactive false, strict false, record_dir empty): it runs "
                    "headless and reports on its own record; for the panels, open the notebooks with gpu-runbook lab"
                ),
            )
    out = out_folder(out_dir)
    lang = i18n.activate(p["lang"])  # the record's report and verdict are written in the run's language
    # paths are taken against the caller's folder once, here: the kernel works in other folders
    src = Path(notebooks).absolute() if notebooks else notebooks_dir()
    steps = select(only)
    missing = [s for s in steps if not (src / f"{s}.ipynb").exists()]
    if missing:
        raise RunSetupError(
            _("notebook(s) missing in {folder}: {names}").format(
                folder=src, names=", ".join(f"{m}.ipynb" for m in missing)
            )
        )
    if out and out.is_relative_to(src):
        raise RunSetupError(
            _("--out {folder} is inside the notebooks' folder {src}; choose a folder outside it").format(
                folder=out, src=src
            )
        )
    out = claim_out_dir(out) if out else claim_out_dir(default_out_dir(), numbered=True)
    run_id = uuid.uuid4().hex[:12]
    started = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    interrupted, current, answered = None, None, False
    stops: dict[str, str] = {}  # the notebooks that stopped, and on what (also where the record cannot show it)
    stack = contextlib.ExitStack()
    started_ahead = None
    try:
        scratch = stack.enter_context(tempfile.TemporaryDirectory(prefix="gpu-runbook-"))
        events = Path(scratch) / "progress"
        events.touch()
        view = view or PlainView(log)
        stack.callback(view.close)
        stack.enter_context(Follow(events, view))
        # while the kernel starts: the leftovers of earlier, killed runs are removed, the driver is asked once
        # for the whole run (every step reads that answer), and the containers of steps 3 and 4 are started
        # ahead (engine.ahead: the steps take their outputs); a replay asks and starts nothing
        early = stack.enter_context(ThreadPoolExecutor(max_workers=3, thread_name_prefix="early"))
        observing = not p["replay"]
        cleaned = early.submit(_cleanup if observing else nothing, p["docker_host"], None)
        answer = Path(scratch) / "driver.json"
        asked = early.submit(ask_driver if observing else nothing, answer)
        if start_ahead and observing:
            started_ahead = stack.enter_context(ahead.Ahead(Path(scratch) / "ahead", run_id))
        own = {
            host.DRIVER_ANSWER_ENV: str(answer),
            engine.RUN_ID_ENV: run_id,
            engine.OWNER_PID_ENV: str(os.getpid()),
            ahead.AHEAD_ENV: str(started_ahead.folder) if started_ahead else "",  # "": every step runs its own
            "PYTHONPATH": kernel_pythonpath(),
            PROGRESS_ENV: str(events),
        }
        with environment(**own):
            if started_ahead:
                early.submit(started_ahead.plan, lambda: plan_ahead(p, steps, [cleaned, asked]))
            with notebook_kernel.SharedKernel(Path(scratch), src) as kernel:
                answered = cleaned.result()
                asked.result()
                for step in steps:
                    current = step
                    nb_in, nb_out = src / f"{step}.ipynb", out / f"{step}.ipynb"
                    nb_in = narrative.localised(nb_in, p.get("lang", ""), Path(scratch))  # the run's language
                    view.start(step, _("running {step}").format(step=step))
                    try:
                        # the report reads the record beside it; the steps run where the notebooks are
                        stopped = kernel.run(nb_in, nb_out, p, out if step == REPORT else src)
                        if stopped:
                            stops[f"{step}.ipynb"] = stopped
                            view.say("  " + _("{step} stopped: {why}").format(step=step, why=stopped))
                    finally:
                        record.relocate(nb_out)
    except KeyboardInterrupt as e:
        interrupted = str(e) or "SIGINT"
    except RunSetupError:  # the record cannot be written: no claim is left behind to look like a run
        (out / CLAIM).unlink(missing_ok=True)
        raise
    finally:
        stack.close()
        if answered:
            _cleanup(p["docker_host"], run_id)
    ran = [f"{s}.ipynb" for s in steps if (out / f"{s}.ipynb").exists()]
    summary = record.collect(out, ran if interrupted else [f"{s}.ipynb" for s in steps], stopped=stops)
    summary.update(
        started=started,
        finished=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        parameters=params.for_record(p),
        steps=steps,
        lang=lang,
    )
    if started_ahead is not None and started_ahead.started:
        summary["ahead"] = started_ahead.counts()  # the containers of steps 3 and 4 the runner started
    if interrupted:
        summary.update(
            verdict="incomplete",
            verdict_reason=(
                _("interrupted ({signal}) in {step}").format(signal=interrupted, step=current)
                if current
                else _("interrupted ({signal}) before the first step began").format(signal=interrupted)
            ),
            interrupted={"signal": interrupted, "step": current},
        )
    write_record(out, summary)
    if interrupted:
        raise Interrupted(interrupted, summary, out)
    return summary, out


def plan_ahead(p: dict, steps: list[str], first: list) -> tuple:
    """What the run starts ahead, once ``first`` are done (the leftovers removed, the driver's answer
    written): the containers of steps 3 and 4, on the engine they will ask."""
    for f in first:
        f.result()
    from .steps import ahead as steps_ahead

    return steps_ahead.planned(p, steps)


def nothing(*_args) -> bool:
    """A replay's engine cleanup and driver question (False: no engine was reached, none is cleaned after)."""
    return False


def ask_driver(answer: Path) -> None:
    """The driver's answer for the whole run, written whole or not at all (each step then asks itself)."""
    part = answer.with_suffix(".part")
    try:
        part.write_text(json.dumps(host.ask_driver()))
        part.rename(answer)
    except OSError:  # a full disk: the steps ask the driver themselves
        pass


def write_record(out: Path, summary: dict) -> None:
    """summary.json and report.html, then the folder's claim is released; a record that cannot be written
    (a full or read-only disk) is an error that names the folder."""
    try:
        record.write(out, summary, report.report_page(summary))
    finally:
        (out / CLAIM).unlink(missing_ok=True)


class Follow:
    """Hands the progress events the notebooks' kernel appends to a file (pulls, checks) to a view as they
    come, while a run goes on: a terminal or a CI log sees a long pull move."""

    def __init__(self, path: Path, view, every_s: float = 0.2):
        self.path, self.view, self.every_s = path, view, every_s
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._follow, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join(timeout=5)

    def _follow(self):
        with open(self.path, encoding="utf-8", errors="replace") as f:
            pending = ""
            while True:
                stopping = self.stop.wait(self.every_s)
                pending += f.read()
                *lines, pending = pending.split("\n")  # the last piece may be a line still being written
                for line in lines:
                    try:
                        event = json.loads(line)
                    except ValueError:  # not an event (a line cut short by a killed kernel)
                        continue
                    self.view(event)
                if stopping:
                    return


def _cleanup(docker_host: str, run: str | None) -> bool:
    """Remove the run's containers (run=None: those of runs that ended); False when the engine does not
    answer (nothing can be removed there, and nothing is waited for)."""
    try:
        engine.remove_leftovers(engine.connect(docker_host, timeout=30), run)
    except EngineError:
        return False
    return True
