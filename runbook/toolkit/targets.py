"""Where an install plan acts: this host, or a container (for tests, and for preparing images).

A target runs argument lists (never a shell line) and reads, writes, replaces (with a backup) and
removes files; plan steps use nothing else, so the same plan runs on the host and, for its tests, in a
Debian container.
"""

from __future__ import annotations

import errno
import io
import os
import stat
import subprocess
import tarfile

from docker.errors import NotFound

from ..files import backup_name, replace_with_backup, write_atomic
from ..i18n import _

MAX_READ = 64 << 20  # no configuration file the plan reads is larger


class HostTarget:
    """This host, or with ``root`` a system installed in a folder (a chroot)."""

    def __init__(self, root: str = "/"):
        self.root = root
        self.name = _("this host") if root == "/" else _("the system in {root}").format(root=root)

    def _path(self, path: str) -> str:
        return path if self.root == "/" else os.path.join(self.root, path.lstrip("/"))

    def run(self, argv: list[str], timeout: float = 900) -> tuple[int, str]:
        if self.root != "/":
            argv = ["chroot", self.root, *argv]
        try:
            proc = subprocess.run(
                argv,
                capture_output=True,
                text=True,
                timeout=timeout,
                env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
            )
        except FileNotFoundError:
            return 127, _("{program}: command not found").format(program=argv[0])
        except PermissionError:  # found only where it may not be run (not executable, a folder on PATH closed)
            found = _("{program}: command not found where it may be run (permission denied)")
            return 127, found.format(program=argv[0])
        except OSError as e:  # found, but it does not start (a wrong format, a broken interpreter line)
            return 126, _("{program} cannot be run: {error}").format(program=argv[0], error=e.strerror or e)
        except subprocess.TimeoutExpired:
            return 124, _("{command} ran past {seconds:.0f} s").format(command=" ".join(argv), seconds=timeout)
        return proc.returncode, proc.stdout + proc.stderr

    def read(self, path: str) -> bytes | None:
        """The file's content, None when there is none; OSError for what is not a regular file (a FIFO
        would block, a device never ends), a symlink loop, a name too long, or more than MAX_READ bytes."""
        try:
            st = os.stat(self._path(path))
        except FileNotFoundError:
            return None
        if not stat.S_ISREG(st.st_mode):
            raise OSError(errno.EINVAL, _("not a regular file (a folder, FIFO, socket or device)"))
        if st.st_size > MAX_READ:
            raise OSError(errno.EFBIG, _("larger than {size} MiB").format(size=MAX_READ >> 20))
        try:
            with open(self._path(path), "rb") as f:
                return f.read(MAX_READ + 1)
        except FileNotFoundError:
            return None

    def write(self, path: str, data: bytes, mode: int = 0o644) -> None:
        os.makedirs(os.path.dirname(self._path(path)), exist_ok=True)
        write_atomic(self._path(path), data, mode)

    def replace(self, path: str, data: bytes, now=None) -> tuple[str, str | None]:
        """A user's file changed safely (files.replace_with_backup): (the file changed, its backup)."""
        return replace_with_backup(self._path(path), data, now)

    def remove(self, path: str) -> None:
        try:
            os.remove(self._path(path))
        except FileNotFoundError:
            pass

    def listdir(self, path: str) -> list[str]:
        try:
            return sorted(os.listdir(self._path(path)))
        except FileNotFoundError:
            return []


class ContainerTarget:
    """A running container, reached through the Docker SDK (exec and archives)."""

    def __init__(self, container):
        self.container = container
        self.name = _("container {id}").format(id=container.short_id)

    def run(self, argv: list[str], timeout: float = 900) -> tuple[int, str]:
        res = self.container.exec_run(argv, environment={"DEBIAN_FRONTEND": "noninteractive"})
        return res.exit_code, res.output.decode("utf-8", errors="replace")

    def read(self, path: str) -> bytes | None:
        try:
            stream, _stat = self.container.get_archive(path)
        except NotFound:
            return None
        with tarfile.open(fileobj=io.BytesIO(b"".join(stream))) as tar:
            member = tar.getmembers()[0]
            f = tar.extractfile(member)
            return f.read() if f else None

    def write(self, path: str, data: bytes, mode: int = 0o644, owner: tuple[int, int] = (0, 0)) -> None:
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w") as tar:
            info = tarfile.TarInfo(os.path.basename(path))
            info.size, info.mode = len(data), mode
            info.uid, info.gid = owner
            tar.addfile(info, io.BytesIO(data))
        self.container.exec_run(["mkdir", "-p", os.path.dirname(path)])
        self.container.put_archive(os.path.dirname(path), buf.getvalue())

    def replace(self, path: str, data: bytes, now=None) -> tuple[str, str | None]:
        """As HostTarget.replace, inside the container: the symlink followed, a backup that overwrites
        none, and the file's mode and owner kept."""
        code, real = self.run(["readlink", "-m", path])
        real = real.strip() if code == 0 else path
        code, st = self.run(["stat", "-c", "%a %u %g", real])
        if code != 0:
            self.write(real, data)
            return real, None
        mode, uid, gid = st.split()
        first = backup_name(real, now)
        for n in range(1000):
            backup = first + (f"-{n}" if n else "")
            if self.run(["test", "-e", backup])[0] != 0:
                break
        if self.run(["cp", "-p", "--", real, backup])[0] != 0:
            raise OSError(_("cannot back up {path} in {target}").format(path=real, target=self.name))
        self.write(real, data, int(mode, 8), (int(uid), int(gid)))
        return real, backup

    def remove(self, path: str) -> None:
        self.container.exec_run(["rm", "-f", path])

    def listdir(self, path: str) -> list[str]:
        code, out = self.run(["ls", "-1A", path])
        return sorted(out.split()) if code == 0 else []


class FreshSystem:
    """A newly installed system that has none of the toolkit's files: for showing a plan as it would run
    there. It cannot apply anything."""

    name = "a fresh system"

    def read(self, path: str) -> bytes | None:
        return None

    def listdir(self, path: str) -> list[str]:
        return []

    def run(self, argv, timeout=900):
        raise RuntimeError("a FreshSystem only shows plans")

    write = replace = remove = run
