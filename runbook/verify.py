"""Re-verifying a host against its record: the record's notebooks run again on this host with the
record's own parameters, and what changed is reported, fact by fact and check by check.

Drift is what a team keeping verified hosts wants to hear about: another driver or CUDA ceiling, other
GPUs (count or model; a GPU's UUID may change with the hardware under it and is not compared), another
toolkit or engine version, an image that now has another content (its id), a check whose status
changed, and a checked cell (``# NBVAL_CHECK_OUTPUT``, the outputs nbval compares) that now prints
something else once what changes on every run (times, temperatures, power, memory in use, the UUIDs)
is masked as nbval's sanitizer for this project masks it. The checks are compared by id and status, and
the steps run again in the record's language, so a record is verified whatever today's locale.
"""

from __future__ import annotations

import configparser
import difflib
import json
import re
from dataclasses import asdict, dataclass
from importlib import resources
from pathlib import Path

from .catalogue import STEPS
from .errors import RunSetupError
from .i18n import _

# The facts compared, by the check that observed them and the key of its data.
FACTS = (
    ("driver version", "host.driver", "driver_version"),
    ("CUDA ceiling", "host.driver", "cuda_version"),
    ("engine version", "engine.reachable", "version"),
    ("toolkit version", "toolkit.installed", "version"),
    ("CUDA image id", "cuda.pull", "id"),
    ("PyTorch image id", "pytorch.pull", "id"),
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


def read_summary(record: str | Path) -> dict:
    path = Path(record) / "summary.json"
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise RunSetupError(
            _("{record} holds no readable summary.json ({error}): not a record").format(record=record, error=e.strerror)
        ) from None
    except ValueError as e:
        raise RunSetupError(
            _("{path} is not JSON ({error}): not a record this runbook wrote").format(path=path, error=e)
        ) from None


def _by_id(summary: dict) -> dict[str, dict]:
    return {c["id"]: c for c in summary.get("checks", [])}


def gpus_of(summary: dict) -> str:
    """The GPUs the driver listed, by model, memory and count ('1 x NVIDIA H200 143771 MiB'), '' when none was
    seen."""
    gpus = ((_by_id(summary).get("host.driver") or {}).get("data") or {}).get("gpus") or []
    kinds = [f"{g.get('name', '?')} {g.get('memory_total_mib', '?')} MiB" for g in gpus]
    return ", ".join(f"{kinds.count(k)} x {k}" for k in sorted(set(kinds)))


def fact_drift(before: dict, after: dict) -> list[Drift]:
    found = []
    old, new = _by_id(before), _by_id(after)
    for name, check_id, key in FACTS:
        a = str(((old.get(check_id) or {}).get("data") or {}).get(key, ""))
        b = str(((new.get(check_id) or {}).get("data") or {}).get(key, ""))
        if a != b:
            found.append(Drift("fact", name, a or "(not observed)", b or "(not observed)"))
    if gpus_of(before) != gpus_of(after):
        found.append(Drift("fact", "GPUs", gpus_of(before) or "(none)", gpus_of(after) or "(none)"))
    return found


def check_drift(before: dict, after: dict) -> list[Drift]:
    old, new = _by_id(before), _by_id(after)
    found = []
    for check_id in list(old) + [i for i in new if i not in old]:
        a = old.get(check_id, {}).get("status", "(absent)")
        b = new.get(check_id, {}).get("status", "(absent)")
        if a != b:
            found.append(Drift("check", check_id, a, b))
    return found


def checked_outputs(notebook: Path) -> list[str]:
    """The text outputs of the cells nbval checks, masked."""
    try:
        nb = json.loads(notebook.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    texts = []
    for cell in nb.get("cells", []):
        if cell.get("cell_type") != "code" or "NBVAL_CHECK_OUTPUT" not in "".join(cell.get("source", [])):
            continue
        text = "".join("".join(o.get("text", "")) for o in cell.get("outputs", []) if o.get("output_type") == "stream")
        for pattern, replace in masks():
            text = pattern.sub(replace, text)
        texts.append(text)
    return texts


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


def output_drift(record: Path, now: Path, steps: list[str]) -> list[Drift]:
    found = []
    for step in steps:
        a, b = checked_outputs(record / f"{step}.ipynb"), checked_outputs(now / f"{step}.ipynb")
        for i, (x, y) in enumerate(zip(a, b, strict=False)):
            if x != y:
                found.append(Drift("output", f"{step} checked cell {i + 1}", *changed_lines(x, y)))
    return found


def verify(record: str | Path, out: str | Path | None = None, log=print) -> tuple[list[Drift], dict, Path]:
    """Run the record's steps again with its parameters; returns (the drift, the new summary, its folder)."""
    from . import runner

    record = Path(record)
    before = read_summary(record)
    values = {k: v for k, v in (before.get("parameters") or {}).items() if k not in ("interactive", "strict")}
    # in the record's language (records before it had one were English), so that checked outputs compare
    values["lang"] = before.get("lang") or "en"
    steps = before.get("steps") or list(STEPS)
    after, folder = runner.run(out, values, steps, log=log)
    drift = fact_drift(before, after) + check_drift(before, after)
    drift += output_drift(record, folder, [s for s in steps if (record / f"{s}.ipynb").exists()])
    (folder / "drift.json").write_text(
        json.dumps({"record": str(record), "drift": [asdict(d) for d in drift]}, indent=2) + "\n"
    )
    return drift, after, folder
