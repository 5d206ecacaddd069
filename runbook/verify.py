"""Re-verifying a host against its record: the record's notebooks run again on this host with the
record's own parameters (less those that act on the host: a record is data, and never installs,
configures or restarts anything), and what changed is reported, fact by fact and check by check.

Drift is what a team keeping verified hosts wants to hear about: another driver or CUDA ceiling, other
GPUs (count or model; a GPU's UUID may change with the hardware under it and is not compared), another
toolkit or engine version, an image that now has another content (its id), a check whose status
changed, and a checked cell (``# NBVAL_CHECK_OUTPUT``, the outputs nbval compares) that now prints
something else once what changes on every run (times, temperatures, power, memory in use, the UUIDs)
is masked as nbval's sanitizer for this project masks it. The checks are compared by id and status, and
the steps run again in the record's language, so a record is verified whatever today's locale.

Shown beside the drift and not counted, because nothing of the host is compared in them: a check the
record's runbook did not have (``new``), a check a parameter turned off on either side (``chosen``: verify
leaves out what acts on the host), and a checked cell the record's runbook printed otherwise than this
runbook prints the record's own results (``wording``: the record is replayed to tell).
"""

from __future__ import annotations

import configparser
import difflib
import json
import re
import tempfile
from dataclasses import asdict, dataclass
from importlib import resources
from pathlib import Path

from . import params
from .catalogue import STEPS
from .errors import ParameterError, RunbookError, RunSetupError
from .files import write_atomic
from .i18n import N_, _, translate
from .record import code_cells
from .record import read as read_summary
from .record.checked_verdict import observed as observed_verdict
from .results import CHOSEN

# The facts compared, by the check that observed them and the key of its data.
FACTS = (
    (N_("driver version"), "host.driver", "driver_version"),
    (N_("CUDA ceiling"), "host.driver", "cuda_version"),
    (N_("engine version"), "engine.reachable", "version"),
    (N_("toolkit version"), "toolkit.installed", "version"),
    (N_("CUDA image id"), "cuda.pull", "id"),
    (N_("PyTorch image id"), "pytorch.pull", "id"),
)


def masks() -> list[tuple[re.Pattern, str]]:
    """What changes on every run in a checked output (times, UUIDs, temperatures, power, memory in use):
    the sanitizer nbval is given (runbook/nbval-sanitize.cfg), one file for both."""
    config = configparser.ConfigParser(interpolation=None)
    config.read_string(resources.files(__package__).joinpath("nbval-sanitize.cfg").read_text())
    return [(re.compile(config[s]["regex"]), config[s]["replace"]) for s in config.sections()]


@dataclass
class Drift:
    what: str  # "fact", "check", "output"
    name: str
    recorded: str
    now: str


KINDS = {
    "verdict": N_("verdict"),
    "fact": N_("fact"),
    "check": N_("check"),
    "output": N_("output"),
    "new": N_("new"),
    "chosen": N_("chosen"),
    "wording": N_("wording"),
}
# shown beside the drift, never counted: what the record's runbook did not observe, what a parameter of this
# run (or of the record's) turned off, a checked cell the record's runbook printed otherwise
NOT_COMPARED = ("new", "chosen", "wording")


def line(d: Drift) -> str:
    """One drift as the terminal shows it, in the active language (drift.json keeps the English keys)."""
    return _("drift  {what:7} {name}: {recorded} -> {now}").format(
        what=translate(KINDS.get(d.what, d.what)),
        name=translate(d.name) if d.what in ("fact", "verdict") else d.name,
        recorded=d.recorded,
        now=d.now,
    )


def _by_id(summary: dict) -> dict[str, dict]:
    return {c["id"]: c for c in summary.get("checks", [])}


def gpus_of(summary: dict) -> str:
    """The GPUs the driver listed, by model, memory and count ('1 x NVIDIA H200 143771 MiB'), '' when none was
    seen."""
    gpus = ((_by_id(summary).get("host.driver") or {}).get("data") or {}).get("gpus") or []
    kinds = [f"{g.get('name', '?')} {g.get('memory_total_mib', '?')} MiB" for g in gpus]
    return ", ".join(f"{kinds.count(k)} x {k}" for k in sorted(set(kinds)))


def verdict_drift(before: dict, after: dict) -> list[Drift]:
    """The run's verdict, when it is not the record's: the record's as its own checks bear it out
    (record.checked_verdict.observed: a record that says pass over checks that do not is not taken at its word)."""
    recorded, now = observed_verdict(before)[0], after["verdict"]
    return [Drift("verdict", N_("verdict"), recorded, now)] if recorded != now else []


def fact_drift(before: dict, after: dict) -> list[Drift]:
    found = []
    old, new = _by_id(before), _by_id(after)
    for name, check_id, key in FACTS:
        a = str(((old.get(check_id) or {}).get("data") or {}).get(key, ""))
        b = str(((new.get(check_id) or {}).get("data") or {}).get(key, ""))
        if a != b:
            found.append(Drift("fact", name, a or "(not observed)", b or "(not observed)"))
    if gpus_of(before) != gpus_of(after):
        found.append(Drift("fact", N_("GPUs"), gpus_of(before) or "(none)", gpus_of(after) or "(none)"))
    return found


def check_drift(before: dict, after: dict) -> list[Drift]:
    """A check of the record whose status changed, or that did not run again; a check the record's runbook
    did not have is not drift of the host (``new_checks``), nor is one that a parameter turned off on either
    side (a ``chosen`` skip: verify leaves out what acts on the host, so toolkit.apply that passed in the
    record is skipped here, having observed nothing)."""
    old, new = _by_id(before), _by_id(after)
    found = []
    for check_id in old:
        a = old[check_id].get("status")
        b = new.get(check_id, {}).get("status", "(absent)")
        if a != b:
            by_choice = CHOSEN in (_chosen(old[check_id]), _chosen(new.get(check_id, {})))
            found.append(Drift("chosen" if by_choice else "check", check_id, a, b))
    return found


def _chosen(check: dict) -> str:
    return check.get("skip_kind", "") if check.get("status") == "skip" else ""


def new_checks(before: dict, after: dict) -> list[Drift]:
    """The checks this runbook made that the record has none of (a newer runbook than the record's): shown
    beside the drift, not counted as drift."""
    old = _by_id(before)
    return [
        Drift("new", c["id"], "(not in the record)", c["status"]) for c in after.get("checks", []) if c["id"] not in old
    ]


def is_drift(d: Drift) -> bool:
    return d.what not in NOT_COMPARED


def checked_outputs(notebook: Path) -> list[str]:
    """The text outputs of the cells nbval checks, masked; none for a file that is not a notebook (or is
    missing, a FIFO, a device: ``record.code_cells``)."""
    try:
        cells = code_cells(notebook)
    except (OSError, ValueError):
        return []
    texts = []
    for cell in cells:
        if "NBVAL_CHECK_OUTPUT" not in _text(cell.get("source")):
            continue
        text = "".join(_text(o.get("text")) for o in cell["outputs"] if o.get("output_type") == "stream")
        for pattern, replace in masks():
            text = pattern.sub(replace, text)
        texts.append(text)
    return texts


def _text(value) -> str:
    """A notebook's text as nbformat keeps it (a string, or a list of lines); '' for anything else."""
    if isinstance(value, list):
        return "".join(v for v in value if isinstance(v, str))
    return value if isinstance(value, str) else ""


def changed_lines(recorded: str, now: str) -> tuple[str, str]:
    """What differs between two outputs of a checked cell, each side in one line: the lines only one side
    has (as difflib pairs them), joined with ' | ', so that a drift names the change rather than two tables."""
    a, b = recorded.strip().splitlines(), now.strip().splitlines()
    old, new = [], []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if op != "equal":
            old += [_tidy(line) for line in a[i1:i2]]
            new += [_tidy(line) for line in b[j1:j2]]
    return " | ".join(old)[:400] or "(nothing)", " | ".join(new)[:400] or "(nothing)"


def _tidy(line: str) -> str:
    """A table's line without its frame and padding: '|   0  NVIDIA H200   On  |' -> '0 NVIDIA H200 On'."""
    return re.sub(r"\s+", " ", line.strip(" |"))


def output_drift(record: Path, now: Path, steps: list[str], render=None) -> list[Drift]:
    """The checked cells that print something else now. With ``render`` (steps -> the record's steps replayed
    by this runbook, or None: ``rendered_today``), asked only for the steps with such a cell, a cell the
    record's runbook printed otherwise than this runbook shows the same results is ``wording``: its text
    cannot be compared, and what it shows is compared through the checks and facts it is made from."""
    outputs = {s: (checked_outputs(record / f"{s}.ipynb"), checked_outputs(now / f"{s}.ipynb")) for s in steps}
    differing = [s for s, (a, b) in outputs.items() if a != b]
    today = render(differing) if render and differing else None
    found = []
    for step in differing:
        a, b = outputs[step]
        c = checked_outputs(today / f"{step}.ipynb") if today else []
        for i, (x, y) in enumerate(zip(a, b, strict=False)):
            if x != y:
                kind = "wording" if i < len(c) and c[i] != x else "output"
                found.append(Drift(kind, f"{step} checked cell {i + 1}", *changed_lines(x, y)))
    return found


def rendered_today(record: Path, steps: list[str], lang: str, into: Path) -> Path | None:
    """The record's ``steps`` replayed by this runbook into ``into``: its results, as this runbook's cells
    print them (nothing runs on the host). None when the record cannot be replayed: its cells are then
    compared as they are."""
    from . import runner

    try:
        runner.run(into, {"replay": str(record), "lang": lang, "strict": False}, steps, log=lambda m: None)
    except RunbookError:
        return None
    return into


# never taken from a record: the run's own mode, the report's folder, a replay in place of a run
NOT_FROM_RECORD = ("interactive", "strict", "record_dir", "replay")


@dataclass
class LeftOut:
    """A parameter of the record that verify did not take, and why."""

    name: str
    recorded: object
    why: str


def observing(recorded: dict, given: dict | None = None) -> tuple[dict, list[LeftOut]]:
    """The values to verify with: the record's parameters less those that act on the host (installing,
    configuring, restarting: ``params.ACTING``), those that name what runs or where (an image, the engine:
    ``params.AIMING``; a record could name any image to run with the GPU, or an engine to send the host's
    registry credentials to) and the run's own, then those given on the command line. Returns them and
    what was left out, so that a record, which is data, never commands the host."""
    given = given or {}
    values, left = {}, []
    for name, value in recorded.items():
        if name in NOT_FROM_RECORD:
            continue
        if name not in params.BY_NAME:  # a newer runbook's parameter: what it would do is not known here
            left.append(LeftOut(name, value, _("not a parameter of this runbook")))
            continue
        if (name in params.ACTING or name in params.AIMING) and name not in given:
            default = params.BY_NAME[name].default
            if value != default:
                why = (
                    _("acts on the host; give it with -p to act again (now: {default})")
                    if name in params.ACTING
                    else _("names what runs or where; give it with -p to run that again (now: {default})")
                )
                left.append(LeftOut(name, value, why.format(default=repr(default))))
            continue
        values[name] = value
    values.update(given)
    return values, left


def from_record(values: dict, given: dict) -> None:
    """Refuse a record whose own parameters (those not ``given`` over them) this runbook would not take:
    values of another type or out of range. Said as the record's fault, before anything runs."""
    try:
        params.validate({k: v for k, v in values.items() if k not in given})
    except ParameterError as e:
        raise RunSetupError(
            _("the record's parameters are not this runbook's: {error}").format(error=e),
            remediation=_(
                "Give that parameter with -p NAME VALUE to verify with another value, or verify a record "
                "this runbook wrote."
            ),
        ) from None


def verify(
    record: str | Path, out: str | Path | None = None, log=print, given: dict | None = None
) -> tuple[list[Drift], dict, Path, list[LeftOut]]:
    """Run the record's observations again here: its steps, with its parameters less those that act on
    the host (see ``observing``) and with ``given`` (the command line's) over them. Returns the drift, the
    new summary, its folder and the parameters left out. The drift ends with the checks the record did
    not have (``what == "new"``, see ``is_drift``)."""
    from . import runner

    record = Path(record).absolute()
    before = read_summary(record)
    if not before["checks"]:
        raise RunSetupError(
            _("the record in {folder} holds no checks: there is nothing to verify against").format(folder=record),
            remediation=_("Verify a record of a run that ran its steps."),
        )
    values, left = observing(before["parameters"], given)
    # in the record's language (records before it had one were English), so that checked outputs compare
    values.setdefault("lang", before.get("lang") or "en")
    from_record(values, given or {})
    steps = before["steps"] or list(STEPS)
    after, folder = runner.run(out, values, steps, log=log)
    drift = verdict_drift(before, after) + fact_drift(before, after) + check_drift(before, after)
    recorded = [s for s in steps if (record / f"{s}.ipynb").exists()]
    with tempfile.TemporaryDirectory(prefix="gpu-runbook-verify-") as scratch:
        replay = Path(scratch) / "today"
        drift += output_drift(record, folder, recorded, lambda s: rendered_today(record, s, values["lang"], replay))
    drift += new_checks(before, after)
    report = {
        "record": str(record),
        "drift": [asdict(d) for d in drift if is_drift(d)],
        "new_checks": [asdict(d) for d in drift if d.what == "new"],
        "not_compared": [asdict(d) for d in drift if d.what in ("chosen", "wording")],
        "left_out": [asdict(x) for x in left],
    }
    write_atomic(str(folder / "drift.json"), (json.dumps(report, indent=2, default=str) + "\n").encode())
    return drift, after, folder, left
