"""Changing a file so that a crash, a refusal or a second writer never loses what was there.

- ``write_atomic``: the new content goes to a temporary file in the same folder, is synced and renamed
  over the old one, so that a crash leaves the old content or the new, never half of either.
- ``file_to_write``: an option's file (--junit-xml, bundle --out) checked before the work that ends in
  writing it: a folder, a missing folder, or (``keep``) a file already there is refused.
- ``replace_with_backup``: the same for a user's configuration file: a symlink is followed (its target
  changes, the link stays), the old content is first copied to a timestamped backup beside it (never
  overwriting an earlier backup), and the file keeps its mode and owner.
- ``read_regular``: a file read back (a record, a configuration) that is a regular file of a bounded
  size: a FIFO would block, a device (/dev/zero) never ends, a huge file would fill the memory;
  ``read_json`` parses one (UTF-8 JSON; nesting too deep for the parser is a ValueError too).
"""

from __future__ import annotations

import datetime as dt
import errno
import json
import os
import stat
import tempfile

from .i18n import _

MAX_READ = 64 << 20  # no record, notebook or configuration file the runbook reads back is larger


def read_regular(path: str, limit: int | None = None) -> bytes:
    """The content of the regular file at ``path`` (a symlink is followed); OSError for what is not one
    (a folder, FIFO, socket or device), for more than ``limit`` bytes, and for what cannot be opened."""
    limit = MAX_READ if limit is None else limit
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)  # a FIFO opened without a writer must not block
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise OSError(errno.EINVAL, _("not a regular file (a folder, FIFO, socket or device)"), path)
        if st.st_size > limit:
            raise OSError(errno.EFBIG, _("larger than {size} MiB").format(size=limit >> 20), path)
        with os.fdopen(fd, "rb", closefd=False) as f:
            data = f.read(limit + 1)
    finally:
        os.close(fd)
    if len(data) > limit:  # it grew while read
        raise OSError(errno.EFBIG, _("larger than {size} MiB").format(size=limit >> 20), path)
    return data


def file_to_write(path: str, option: str, keep: bool = False) -> str:
    """``path`` made absolute (``~`` expanded), or RunSetupError naming ``option`` when it is a folder, lies
    in no folder or (``keep``: another file's content would be lost) exists already."""
    from .errors import RunSetupError
    from .i18n import _

    full = os.path.abspath(os.path.expanduser(path))
    if os.path.isdir(full) or not os.path.isdir(os.path.dirname(full)):
        raise RunSetupError(
            _("{option} {file} is a folder or lies in no folder; name a file in an existing folder").format(
                option=option, file=full
            )
        )
    if keep and os.path.lexists(full):
        raise RunSetupError(_("{option} {file} exists and is kept; name a new file").format(option=option, file=full))
    return full


def write_atomic(path: str, data: bytes, mode: int = 0o644, owner: tuple[int, int] | None = None) -> None:
    """Write to a temporary file in the same folder, sync it, give it ``mode`` (and ``owner``), rename it
    over ``path`` and sync the folder. On any error the temporary file is removed and ``path`` is as it was."""
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{os.path.basename(path)}.")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        if owner is not None:
            os.chown(tmp, *owner)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    dir_fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def backup_name(real: str, now: dt.datetime | None = None) -> str:
    """``real``.bak-<UTC time>: the first backup name of that second (``-1``, ``-2`` follow it)."""
    return f"{real}.bak-{(now or dt.datetime.now(dt.UTC)).strftime('%Y%m%dT%H%M%SZ')}"


def replace_with_backup(path: str, data: bytes, now: dt.datetime | None = None) -> tuple[str, str | None]:
    """Put ``data`` at ``path`` (created with mode 0644 when absent); returns (the file changed, the backup
    or None). Raises OSError with nothing changed when the backup or the write cannot be made."""
    real = os.path.realpath(path)
    try:
        st = os.stat(real)
    except FileNotFoundError:
        os.makedirs(os.path.dirname(real) or ".", exist_ok=True)
        write_atomic(real, data, 0o644)
        return real, None
    with open(real, "rb") as f:
        old = f.read()
    backup = _write_new(backup_name(real, now), old)
    owner = (st.st_uid, st.st_gid) if os.geteuid() == 0 else None
    write_atomic(real, data, st.st_mode & 0o7777, owner)
    return real, backup


def _write_new(first: str, data: bytes) -> str:
    """Write ``data`` to ``first``, or ``first-1``, ``first-2``, …: the first name that does not exist yet."""
    for n in range(1000):
        candidate = first + (f"-{n}" if n else "")
        try:
            fd = os.open(candidate, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            continue
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        return candidate
    raise FileExistsError(f"{first}: a thousand backups exist already")


def read_json(path: str, limit: int | None = None):
    """The JSON value in the regular file at ``path``: OSError as ``read_regular`` raises it, ValueError
    for what is not UTF-8 JSON (nesting too deep for the parser included)."""
    data = read_regular(path, limit)
    try:
        return json.loads(data.decode("utf-8"))
    except RecursionError:
        raise ValueError(_("it nests objects or lists too deep")) from None
