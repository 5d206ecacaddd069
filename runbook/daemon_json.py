"""The Docker engine's daemon.json as data: parse, merge, render. Pure: no file is read or written here
(``toolkit.engine_config`` writes it, through ``files.replace_with_backup``).

- Parsing is strict (what dockerd accepts): invalid JSON is refused with its line and column, as are
  comments, duplicate keys, numbers JSON cannot hold (NaN, Infinity, 1e400), nesting too deep to read,
  and a top level that is not an object.
- A setting the merge touches must have the type dockerd expects (``runtimes`` an object of objects,
  ``registry-mirrors`` a list of strings, ``features`` an object, ``default-runtime`` a string): a file
  that differs is refused, naming the key, rather than silently replaced.
- Changes are merged: every existing key, runtime, mirror and unknown setting is kept.
- ``updated`` says whether a file needs writing at all: a file that already holds the changes is left
  byte for byte as it is.
"""

from __future__ import annotations

import copy
import json
import math
import os

from .errors import DaemonJsonError

SYSTEM_PATH = "/etc/docker/daemon.json"
BOM = b"\xef\xbb\xbf"


def rootless_path() -> str:
    return os.path.join(os.path.expanduser("~"), ".config", "docker", "daemon.json")


def _no_duplicates(pairs):
    seen = {}
    for key, value in pairs:
        if key in seen:
            raise ValueError(f"duplicate key {key!r}")
        seen[key] = value
    return seen


def parse(raw: bytes, path: str = "daemon.json") -> dict:
    """The settings in ``raw``; an empty file is no settings. A UTF-8 byte-order mark is dropped (dockerd
    itself cannot read a file that has one)."""
    if raw.startswith(BOM):
        raw = raw[len(BOM) :]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise DaemonJsonError(
            f"{path} is not UTF-8 text (byte {e.start})", remediation=f"Fix {path} by hand; nothing was changed."
        ) from None
    if not text.strip():
        return {}
    try:
        data = json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_no_constant, parse_float=_finite)
    except json.JSONDecodeError as e:
        raise DaemonJsonError(
            f"{path} is not valid JSON: {e.msg} at line {e.lineno}, column {e.colno}",
            cause="dockerd refuses such a file too (JSON allows no comments or trailing commas).",
            remediation=f"Fix {path} at line {e.lineno}, column {e.colno}; nothing was changed.",
        ) from None
    except RecursionError:
        raise DaemonJsonError(
            f"{path} is nested too deeply to be read", remediation=f"Fix {path} by hand; nothing was changed."
        ) from None
    except ValueError as e:
        raise DaemonJsonError(
            f"{path}: {e}",
            cause="dockerd refuses such a file too.",
            remediation=f"Fix {path} by hand; nothing was changed.",
        ) from None
    if not isinstance(data, dict):
        raise DaemonJsonError(
            f"{path} holds a JSON {type(data).__name__}, not an object of settings",
            remediation=f"Fix {path} by hand; nothing was changed.",
        )
    return data


def _no_constant(name: str):
    raise ValueError(f"{name} is not a JSON number")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text} is too large for a JSON number dockerd can read")
    return value


# What dockerd expects of the settings the merge touches.
SHAPES = {"runtimes": dict, "registry-mirrors": list, "features": dict, "default-runtime": str}
SHAPE_NAMES = {dict: "an object", list: "a list", str: "a string"}


def check_shapes(settings: dict, changes: dict, path: str = "daemon.json") -> None:
    """Refuse a file whose settings that ``changes`` touch have another type than dockerd expects."""
    for key in changes:
        if key in settings and key in SHAPES and not isinstance(settings[key], SHAPES[key]):
            raise DaemonJsonError(
                f"{path}: {key!r} is a JSON {type(settings[key]).__name__}; dockerd expects {SHAPE_NAMES[SHAPES[key]]}",
                remediation=f"Fix {key!r} in {path} by hand; nothing was changed.",
            )
    if "runtimes" in changes:
        for name, runtime in (settings.get("runtimes") or {}).items():
            if not isinstance(runtime, dict):
                raise DaemonJsonError(
                    f'{path}: runtime {name!r} is not an object (dockerd expects {{"path": ...}})',
                    remediation=f"Fix runtimes.{name} in {path} by hand; nothing was changed.",
                )
    if "registry-mirrors" in changes and not all(isinstance(m, str) for m in settings.get("registry-mirrors") or []):
        raise DaemonJsonError(
            f"{path}: 'registry-mirrors' holds something that is not a URL string",
            remediation=f"Fix 'registry-mirrors' in {path} by hand; nothing was changed.",
        )


def merge(current: dict, changes: dict) -> dict:
    """``current`` with ``changes`` laid over it: objects are merged key by key, lists are extended
    with the new items only, other values replaced. ``current`` itself is not modified."""
    out = copy.deepcopy(current)
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
    after = merge(before, changes)
    if raw is not None and after == before and not raw.startswith(BOM):
        return None
    return render(after)


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
