"""The Docker engine's daemon.json, changed without ever losing the user's configuration.

- Parsing is strict (what dockerd accepts): invalid JSON is refused with its line and column, as are
  comments, duplicate keys and a top level that is not an object; nothing is written then.
- Changes are merged: every existing key, runtime, mirror and unknown setting is kept.
- Before a change the file is backed up beside itself (timestamped, never overwriting a backup).
- The new file is written to a temporary file in the same folder, synced and renamed over the old one,
  so that a crash leaves the old file or the new one, never half of one; mode and owner are kept.
- A symlink is followed: its target is changed, the link stays.
"""
from __future__ import annotations

import copy
import datetime as dt
import json
import os
from dataclasses import dataclass
from pathlib import Path

from .errors import RunbookError
from .files import write_atomic

SYSTEM_PATH = "/etc/docker/daemon.json"
BOM = b"\xef\xbb\xbf"


class DaemonJsonError(RunbookError):
    """daemon.json cannot be read, parsed or written; nothing was changed."""


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
        raw = raw[len(BOM):]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise DaemonJsonError(f"{path} is not UTF-8 text (byte {e.start})",
                              remediation=f"Fix {path} by hand; nothing was changed.") from None
    if not text.strip():
        return {}
    try:
        data = json.loads(text, object_pairs_hook=_no_duplicates)
    except json.JSONDecodeError as e:
        raise DaemonJsonError(f"{path} is not valid JSON: {e.msg} at line {e.lineno}, column {e.colno}",
                              cause="dockerd refuses such a file too (JSON allows no comments or trailing commas).",
                              remediation=f"Fix {path} at line {e.lineno}, column {e.colno}; nothing was changed.") from None
    except ValueError as e:
        raise DaemonJsonError(f"{path}: {e}", remediation=f"Remove the duplicate from {path}; nothing was changed.") from None
    if not isinstance(data, dict):
        raise DaemonJsonError(f"{path} holds a JSON {type(data).__name__}, not an object of settings",
                              remediation=f"Fix {path} by hand; nothing was changed.")
    return data


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


def nvidia_runtime(set_as_default: bool = False, cdi: bool = False,
                   runtime_path: str = "nvidia-container-runtime") -> dict:
    """The settings ``nvidia-ctk runtime configure --runtime=docker`` makes (with its options)."""
    changes: dict = {"runtimes": {"nvidia": {"path": runtime_path, "args": []}}}
    if set_as_default:
        changes["default-runtime"] = "nvidia"
    if cdi:
        changes["features"] = {"cdi": True}
    return changes


def registry_mirrors(mirrors: list[str]) -> dict:
    return {"registry-mirrors": list(mirrors)}


@dataclass
class Change:
    path: str  # the file changed (a symlink's target)
    changed: bool
    backup: str | None
    before: dict
    after: dict


def apply(path: str, changes: dict, now: dt.datetime | None = None) -> Change:
    """Merge ``changes`` into the daemon.json at ``path`` (created when absent); unchanged if already there."""
    real = os.path.realpath(path)
    try:
        raw = Path(real).read_bytes()
        exists = True
    except FileNotFoundError:
        raw, exists = b"", False
    except OSError as e:
        raise DaemonJsonError(f"cannot read {path}: {e.strerror}", remediation="Run as root (sudo).") from None
    before = parse(raw, path)
    after = merge(before, changes)
    if exists and after == before and not raw.startswith(BOM):
        return Change(real, False, None, before, after)
    backup = _backup(real, raw, now) if exists else None
    _write_atomic(real, (json.dumps(after, indent=2) + "\n").encode(), like=real if exists else None)
    return Change(real, True, backup, before, after)


def _backup(real: str, raw: bytes, now: dt.datetime | None) -> str:
    stamp = (now or dt.datetime.now(dt.timezone.utc)).strftime("%Y%m%dT%H%M%SZ")
    for n in range(1000):
        candidate = f"{real}.bak-{stamp}" + (f"-{n}" if n else "")
        try:
            fd = os.open(candidate, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            continue
        except OSError as e:
            raise DaemonJsonError(f"cannot back up {real}: {e.strerror}; nothing was changed",
                                  remediation="Run as root (sudo), or free space.") from None
        with os.fdopen(fd, "wb") as f:
            f.write(raw)
            f.flush()
            os.fsync(f.fileno())
        return candidate
    raise DaemonJsonError(f"too many backups of {real} at {stamp}")


def _write_atomic(real: str, data: bytes, like: str | None) -> None:
    folder = os.path.dirname(real) or "."
    try:
        os.makedirs(folder, exist_ok=True)
        if like is None:
            write_atomic(real, data, 0o644)
        else:
            st = os.stat(like)
            write_atomic(real, data, st.st_mode & 0o7777, (st.st_uid, st.st_gid) if os.geteuid() == 0 else None)
    except OSError as e:
        raise DaemonJsonError(f"cannot write {real}: {e.strerror}; the old file is unchanged",
                              remediation="Run as root (sudo), or free space.") from None
