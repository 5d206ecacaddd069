"""The Docker engine's daemon.json as data: parse, merge, render. Pure: no file is read or written here
(``toolkit.engine_config`` writes it, through ``files.replace_with_backup``).

- Parsing is strict (what dockerd accepts): invalid JSON is refused with its line and column, as are
  comments, NaN and Infinity, numbers beyond a 64-bit float, text after the object, and a top level
  that is not an object. Duplicate keys are refused too (dockerd keeps the last one silently; a
  rewritten file would lose the other), and so is nesting deeper than ``MAX_DEPTH``.
- Changes are merged: every existing key, runtime, mirror and unknown setting is kept. A setting the
  change merges into that holds another kind of value (``runtimes`` a list, say) is refused, never
  replaced.
- ``updated`` says whether a file needs writing at all: a file that already holds the changes is left
  byte for byte as it is. A runtime registered in an equivalent form counts as held: the same program
  (an absolute path or the bare name on the engine's PATH, as NVIDIA's packages and docs have written it)
  with the same arguments (``args``, or the older ``runtimeArgs``; empty or absent alike). The user's
  path is never replaced.
"""

from __future__ import annotations

import copy
import json
import math
import os

from ..errors import DaemonJsonError
from ..i18n import _

SYSTEM_PATH = "/etc/docker/daemon.json"
BOM = b"\xef\xbb\xbf"
MAX_DEPTH = 400  # objects and lists within each other; Python's own recursion stops near 1000


def rootless_path() -> str:
    return os.path.join(os.path.expanduser("~"), ".config", "docker", "daemon.json")


class _Refused(ValueError):
    """Text that Python's json reads but the runbook does not take for a daemon.json."""


def _no_duplicates(pairs):
    seen = {}
    for key, value in pairs:
        if key in seen:
            raise _Refused(_("duplicate key {key}").format(key=repr(key)))
        seen[key] = value
    return seen


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _Refused(_("the number {number} is beyond a 64-bit float (dockerd refuses it)").format(number=text[:40]))
    return value


def _whole(text: str) -> int:
    """A whole number, kept exactly (dockerd's own settings are integers), unless it is beyond a 64-bit
    float, where dockerd's JSON refuses it."""
    if len(text.lstrip("-")) > 309 or not math.isfinite(float(text)):
        raise _Refused(
            _("the number {number} is beyond a 64-bit float (dockerd refuses it)").format(number=f"{text[:40]}…")
        )
    return int(text)


def _not_json(name: str):
    raise _Refused(_("{name} is not a JSON value (dockerd refuses it)").format(name=name))


def _depth(value) -> int:
    """How deep objects and lists nest in ``value`` (without recursion)."""
    deepest, todo = 0, [(value, 1)]
    while todo:
        v, d = todo.pop()
        if isinstance(v, dict | list):
            deepest = max(deepest, d)
            todo.extend((c, d + 1) for c in (v.values() if isinstance(v, dict) else v))
    return deepest


def parse(raw: bytes, path: str = "daemon.json") -> dict:
    """The settings in ``raw``; an empty file is no settings. A UTF-8 byte-order mark is dropped (dockerd
    itself cannot read a file that has one)."""
    if raw.startswith(BOM):
        raw = raw[len(BOM) :]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise DaemonJsonError(
            _("{path} is not UTF-8 text (byte {byte})").format(path=path, byte=e.start), remediation=by_hand(path)
        ) from None
    if not text.strip():
        return {}
    try:
        data = json.loads(
            text, object_pairs_hook=_no_duplicates, parse_float=_finite, parse_int=_whole, parse_constant=_not_json
        )
        if _depth(data) > MAX_DEPTH:
            raise RecursionError
    except RecursionError:
        raise DaemonJsonError(
            _("{path} nests objects or lists more than {depth} deep").format(path=path, depth=MAX_DEPTH),
            cause=_("No setting of dockerd nests so deep; the runbook does not rewrite such a file."),
            remediation=by_hand(path),
        ) from None
    except json.JSONDecodeError as e:
        raise DaemonJsonError(
            _("{path} is not valid JSON: {error} at line {line}, column {column}").format(
                path=path, error=e.msg, line=e.lineno, column=e.colno
            ),
            cause=_("dockerd refuses such a file too (JSON allows no comments or trailing commas)."),
            remediation=_("Fix {path} at line {line}, column {column}; nothing was changed.").format(
                path=path, line=e.lineno, column=e.colno
            ),
        ) from None
    except _Refused as e:
        raise DaemonJsonError(f"{path}: {e}", remediation=by_hand(path)) from None
    if not isinstance(data, dict):
        raise DaemonJsonError(
            _("{path} holds a JSON {kind}, not an object of settings").format(path=path, kind=type(data).__name__),
            remediation=by_hand(path),
        )
    return data


def clashes(current: dict, changes: dict, at: tuple = ()) -> list[tuple[tuple, object, object]]:
    """Where ``changes`` would merge an object or a list into a setting of ``current`` that holds another
    kind of value (null counts as no value): (the keys that lead there, that value, the change's)."""
    found = []
    for key, value in changes.items():
        have = current.get(key)
        if have is None or not isinstance(value, dict | list):
            continue
        if isinstance(value, dict) and isinstance(have, dict):
            found += clashes(have, value, (*at, key))
        elif not isinstance(have, type(value)):
            found.append(((*at, key), have, value))
    return found


# What dockerd expects of the settings the merge touches, beyond their kind (clashes): the default
# runtime is a name, each runtime an object, each mirror a URL.
def check_shapes(settings: dict, changes: dict, path: str = "daemon.json") -> None:
    """Refuse a file whose settings that ``changes`` touch hold what dockerd would refuse to read."""
    if "default-runtime" in changes and not isinstance(settings.get("default-runtime", ""), str):
        raise DaemonJsonError(
            _("{path}: default-runtime is {kind}, not a name").format(
                path=path, kind=_kind(settings["default-runtime"])
            ),
            remediation=by_hand(path),
        )
    runtimes = settings.get("runtimes") if "runtimes" in changes else None
    for name, runtime in (runtimes or {}).items() if isinstance(runtimes, dict) else ():
        if not isinstance(runtime, dict):
            raise DaemonJsonError(
                _("{path}: runtimes.{name} is {kind}, not an object with a path").format(
                    path=path, name=name, kind=_kind(runtime)
                ),
                remediation=by_hand(path),
            )
    mirrors = settings.get("registry-mirrors") if "registry-mirrors" in changes else None
    if isinstance(mirrors, list) and not all(isinstance(m, str) for m in mirrors):
        raise DaemonJsonError(
            _("{path}: registry-mirrors holds something that is not a URL").format(path=path),
            remediation=by_hand(path),
        )


def runtime_args(runtime: dict) -> list:
    """A runtime's arguments: ``args`` (nvidia-ctk), else ``runtimeArgs`` (nvidia-docker2); none is []."""
    return runtime.get("args") or runtime.get("runtimeArgs") or []


def equivalent_runtime(have, want: dict) -> bool:
    """Whether the runtime ``have`` already registers ``want``: the same program, by absolute path or
    bare name, with the same arguments."""
    if not isinstance(have, dict) or not isinstance(have.get("path"), str):
        return False
    same_program = os.path.basename(have["path"]) == os.path.basename(want["path"])
    return same_program and runtime_args(have) == runtime_args(want)


def _held_runtimes(current: dict, changes: dict) -> dict:
    """``changes`` without the runtimes ``current`` already registers in an equivalent form; a runtime
    that differs keeps the user's path for the same program (only the arguments are merged)."""
    runtimes = changes.get("runtimes")
    have_all = current.get("runtimes")
    if not isinstance(runtimes, dict) or not isinstance(have_all, dict):
        return changes
    kept = {}
    for name, want in runtimes.items():
        have = have_all.get(name)
        if equivalent_runtime(have, want):
            continue
        if isinstance(have, dict) and isinstance(have.get("path"), str):
            if os.path.basename(have["path"]) == os.path.basename(want["path"]):
                want = {**want, "path": have["path"]}
        kept[name] = want
    out = {k: v for k, v in changes.items() if k != "runtimes"}
    if kept:
        out["runtimes"] = kept
    return out


def merge(current: dict, changes: dict) -> dict:
    """``current`` with ``changes`` laid over it: objects are merged key by key, lists are extended
    with the new items only, other values replaced. ``current`` itself is not modified (the objects on
    the changes' paths are copied, the rest is shared)."""
    out = dict(current)
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        elif isinstance(value, list) and isinstance(out.get(key), list):
            out[key] = out[key] + [v for v in value if v not in out[key]]
        else:
            out[key] = copy.deepcopy(value)
    return out


def render(settings: dict) -> bytes:
    return (json.dumps(settings, indent=2) + "\n").encode()


def updated(raw: bytes | None, changes: dict, path: str = "daemon.json") -> bytes | None:
    """The new content of a daemon.json that holds ``raw`` (None: no file) once ``changes`` are merged in;
    None when the file already holds them and needs no writing."""
    before = parse(raw or b"", path)
    check_shapes(before, changes, path)
    clash = clashes(before, changes)
    if clash:
        raise DaemonJsonError(
            f"{path}: "
            + "; ".join(
                _("{setting} is {have}, not {want}").format(setting=".".join(k), have=_kind(have), want=_kind(want))
                for k, have, want in clash
            ),
            cause=_("dockerd refuses such a file too; replacing the value would lose what it holds."),
            remediation=by_hand(path),
        )
    after = merge(before, _held_runtimes(before, changes))
    if raw is not None and after == before and not raw.startswith(BOM):
        return None
    return render(after)


def _kind(value) -> str:
    kinds = {dict: _("an object"), list: _("a list"), str: _("a string"), bool: _("true or false")}
    return kinds.get(type(value), _("a number"))


def by_hand(path: str) -> str:
    return _("Fix {path} by hand; nothing was changed.").format(path=path)


def nvidia_runtime(
    set_as_default: bool = False, cdi: bool = False, runtime_path: str = "nvidia-container-runtime"
) -> dict:
    """The settings ``nvidia-ctk runtime configure --runtime=docker`` makes (with its options)."""
    changes: dict = {"runtimes": {"nvidia": {"path": runtime_path, "args": []}}}
    if set_as_default:
        changes["default-runtime"] = "nvidia"
    if cdi:
        changes["features"] = {"cdi": True}
    return changes


def registry_mirrors(mirrors: list[str]) -> dict:
    return {"registry-mirrors": list(mirrors)}
