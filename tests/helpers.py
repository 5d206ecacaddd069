"""What the tests share: the real engine's test image and registry, require-or-skip, a labelled container,
a socket that can be cut, and a signed apt repository on loopback. Everything here is real: a dockerd,
a registry, gpg and apt; nothing is mocked."""

from __future__ import annotations

import contextlib
import functools
import glob
import hashlib
import http.server
import json
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest

from runbook import engine, toolkit

TEST_IMAGE = "runbook-test/debian:bookworm"  # made by tests/engine-up.sh with debootstrap
REGISTRY = "127.0.0.1:5000"  # Debian's docker-registry, started by tests/engine-up.sh
CACHE = Path(os.environ.get("RUNBOOK_TEST_CACHE", "/var/cache/gpu-runbook-test"))
REPO = Path(__file__).resolve().parent.parent


def kit_images():
    """tests/gpu/kit/images.py (a script, not a package) as a module, loaded once."""
    import importlib.util

    if "gpu_kit_images" not in sys.modules:
        spec = importlib.util.spec_from_file_location("gpu_kit_images", REPO / "tests" / "gpu" / "kit" / "images.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module  # before it runs: its dataclasses look their module up
        spec.loader.exec_module(module)
    return sys.modules["gpu_kit_images"]


def gpu_runbook(*args, cwd=REPO, timeout=900, env=None) -> subprocess.CompletedProcess:
    """The CLI as a user runs it (``python -m runbook``), in its own process."""
    return subprocess.run(
        [sys.executable, "-m", "runbook", *args], capture_output=True, text=True, cwd=cwd, timeout=timeout, env=env
    )


def run_cli(*args, **kwargs) -> subprocess.CompletedProcess:
    return gpu_runbook("run", *args, **kwargs)


def checks(out_dir) -> tuple[dict, dict]:
    """A record's summary.json, and its checks by id."""
    summary = json.loads((Path(out_dir) / "summary.json").read_text())
    return summary, {c["id"]: c for c in summary["checks"]}


def assert_status(by_id: dict, check_id: str, status: str) -> None:
    c = by_id[check_id]
    assert c["status"] == status, f"{check_id}: expected {status}, got {c['status']}: {c['detail']}"


def require(available: bool, what: str, how: str = "run tests/engine-up.sh (as root)") -> None:
    """Skip when ``what`` is not available, or fail when the test command demands it
    (RUNBOOK_REQUIRE_ENGINE=1, set by tests/run.sh as root), so that CI cannot pass without running it."""
    if available:
        return
    message = f"{what} is not available; {how}"
    if os.environ.get("RUNBOOK_REQUIRE_ENGINE") == "1":
        pytest.fail(message)
    pytest.skip(message)


def built_toolkit(name: str) -> Path:
    """What tests/toolkit-up.sh made, as tests/run.sh exports it: ``bin`` (the NVIDIA Container Toolkit's
    programs, built from its source) or ``repo`` (its packages in a repository laid out like NVIDIA's).
    Skips with the build's own reason where the toolkit cannot be built on this machine."""
    reason = os.environ.get("RUNBOOK_TOOLKIT_UNAVAILABLE")
    if reason:
        pytest.skip(f"the NVIDIA Container Toolkit cannot be built here: {reason}")
    path = os.environ.get(f"RUNBOOK_TOOLKIT_{name.upper()}", "")
    require(
        bool(path) and Path(path).is_dir(),
        f"the NVIDIA Container Toolkit built from source ({name})",
        "run tests/run.sh as root (it runs tests/toolkit-up.sh and exports RUNBOOK_TOOLKIT_BIN and _REPO)",
    )
    return Path(path)


def runbook_labels(run: str | None = None, deadline: float = 0) -> dict:
    """The labels the runbook gives its containers, so that the runbook's clean-up finds test containers too."""
    return {
        engine.LABEL: "1",
        f"{engine.LABEL}.run": run or engine.run_id(),
        f"{engine.LABEL}.deadline": str(int(deadline)),
    }


@contextlib.contextmanager
def labelled_container(client, command=("sleep", "900"), image=TEST_IMAGE, start=True, **kwargs):
    """A container of the test image with the runbook's labels and, unless asked, no network (as the
    runbook's own), removed when the block ends."""
    create = client.containers.run if start else client.containers.create
    extra = {"detach": True} if start else {}
    kwargs.setdefault("network_mode", "none")
    c = create(image, list(command), labels=kwargs.pop("labels", runbook_labels()), **extra, **kwargs)
    try:
        yield c
    finally:
        with contextlib.suppress(Exception):
            c.remove(force=True)


@contextlib.contextmanager
def registry_only_image(client, registry: str, name: str, megabytes: int):
    """An image of ``megabytes`` of random bytes pushed to the loopback registry and removed from the
    engine: whatever uses it has to pull it for real. Removed from the engine again when the block ends."""
    ref = f"{registry}/runbook-test/{name}:{uuid.uuid4().hex[:8]}"
    with labelled_container(client, ["sh", "-c", f"head -c {megabytes * 1000000} /dev/urandom > /blob"]) as maker:
        maker.wait(timeout=120)
        maker.commit(*ref.rsplit(":", 1))
    for _ in client.images.push(ref, stream=True):
        pass
    client.images.remove(ref)
    try:
        yield ref
    finally:
        with contextlib.suppress(Exception):
            client.images.remove(ref, force=True)


class SocketCutter:
    """A Unix-socket proxy in front of the real engine whose connections can be cut mid-request,
    as when the engine dies or restarts while a container runs."""

    def __init__(self, path: str, target: str = "/var/run/docker.sock"):
        self.path, self.target, self.conns, self.closed = path, target, [], False
        self.server = socket.socket(socket.AF_UNIX)
        self.server.bind(path)
        self.server.listen()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                a, _ = self.server.accept()
            except OSError:
                return
            if self.closed:
                a.close()
                return
            b = socket.socket(socket.AF_UNIX)
            b.connect(self.target)
            self.conns += [a, b]
            for src, dst in ((a, b), (b, a)):
                threading.Thread(target=self._pipe, args=(src, dst), daemon=True).start()

    @staticmethod
    def _pipe(src, dst):
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass

    def cut(self):
        self.closed = True
        os.unlink(self.path)
        with contextlib.suppress(OSError):
            self.server.shutdown(socket.SHUT_RDWR)
        self.server.close()
        for s in self.conns:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            s.close()


# --- a signed apt repository on loopback, laid out like NVIDIA's -----------------------------------

TOOLKIT_FIXTURES = REPO / "tests" / "fixtures" / "toolkit"


def nvidia_texts(root: Path) -> None:
    """NVIDIA's .list and .repo files, verbatim from the fixtures, where NVIDIA's repository keeps them
    (stable/deb/, stable/rpm/, experimental/...): they name NVIDIA's host, not the server."""
    for channel, src in (("stable", TOOLKIT_FIXTURES), ("experimental", TOOLKIT_FIXTURES / "experimental")):
        for kind, name in (("deb", "nvidia-container-toolkit.list"), ("rpm", "nvidia-container-toolkit.repo")):
            (root / channel / kind).mkdir(parents=True, exist_ok=True)
            (root / channel / kind / name).write_bytes((src / name).read_bytes())


class _Quiet(http.server.SimpleHTTPRequestHandler):
    """Serves files without a log line per request."""

    def log_message(self, *args):
        pass


@contextlib.contextmanager
def served(root: Path):
    """``root`` served over HTTP on 127.0.0.1 (a port of its own) while the block runs; yields the URL."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(root)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def gpg(home, *args, data=None) -> bytes:
    return subprocess.run(
        ["gpg", "--batch", "--yes", "--homedir", str(home), *args], input=data, capture_output=True, check=True
    ).stdout


def stop_agent(home: Path) -> None:
    """Ends the gpg-agent that gpg started for ``home``: it would outlive the test and its folder."""
    subprocess.run(["gpgconf", "--homedir", str(home), "--kill", "all"], capture_output=True)


def make_key(home: Path, name: str) -> bytes:
    """A throwaway signing key in its own GNUPGHOME; returns the armored public key."""
    home.mkdir(mode=0o700)
    gpg(home, "--passphrase", "", "--quick-gen-key", f"{name} <{name}@example.invalid>", "rsa2048", "sign", "1d")
    key = gpg(home, "--armor", "--export")
    stop_agent(home)
    return key


class AptRepo:
    """Debian's hello package (fetched by tests/engine-up.sh) in a flat repository at stable/deb/amd64,
    signed by a throwaway key served as /gpgkey, with NVIDIA's own .list and .repo files beside it,
    verbatim (they name NVIDIA's host: the runbook's mirror setting must rewrite them); served over
    HTTP on 127.0.0.1."""

    def __init__(self, root: Path, home: Path):
        debs = sorted(glob.glob(str(CACHE / "debs" / "hello_*.deb")))
        if not debs:
            pytest.fail(f"no hello .deb in {CACHE}/debs; run tests/engine-up.sh")
        self.root = root
        (root / "gpgkey").write_bytes(make_key(home, "repo"))
        arch_dir = root / "stable" / "deb" / "amd64"
        arch_dir.mkdir(parents=True)
        (arch_dir / Path(debs[0]).name).write_bytes(Path(debs[0]).read_bytes())
        packages = subprocess.run(
            ["dpkg-scanpackages", "--multiversion", "."], cwd=arch_dir, capture_output=True, check=True
        ).stdout
        (arch_dir / "Packages").write_bytes(packages)
        digest = hashlib.sha256(packages).hexdigest()
        (arch_dir / "Release").write_text(
            "Origin: runbook-test\nLabel: runbook-test\nSuite: stable\nCodename: stable\n"
            "Date: Sat, 28 Nov 2026 00:00:00 UTC\nArchitectures: amd64\n"
            f"SHA256:\n {digest} {len(packages)} Packages\n"
        )
        (arch_dir / "InRelease").write_bytes(gpg(home, "--clearsign", "--output", "-", str(arch_dir / "Release")))
        stop_agent(home)
        nvidia_texts(root)
        self._served = contextlib.ExitStack()
        self.url = self._served.enter_context(served(root))

    def source(self) -> toolkit.Source:
        return toolkit.Source(mirror=self.url, packages=("hello",))

    def close(self) -> None:
        self._served.close()


STALL_S = 30  # the stalling server keeps the connection this long: far past any probe deadline


class _Answer(http.server.BaseHTTPRequestHandler):
    """Answers /v2/ with the server's ``answer``: (status, headers, body), or stalls after the headers."""

    def do_GET(self):
        self.server.requests.append(self.path)
        status, headers, body = self.server.answer
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body) if body is not None else 100))
        self.end_headers()
        if body is None:  # the headers promise 100 bytes that never come
            self.wfile.flush()
            time.sleep(STALL_S)
            return
        self.wfile.write(body)

    def log_message(self, *args):
        pass


class ServedURL(str):
    """A server's URL, with the paths it was asked for (``requests``)."""

    requests: list


@contextlib.contextmanager
def answering(status, headers=None, body=b"{}", tls=None):
    """An HTTP(S) server on 127.0.0.1 answering every GET with ``status``, ``headers`` and ``body`` (None:
    it stalls after the headers); yields its URL, which keeps the paths asked for."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Answer)
    server.daemon_threads = True
    server.answer, server.requests = (status, headers or {}, body), []
    if tls:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = ServedURL(f"{'https' if tls else 'http'}://127.0.0.1:{server.server_address[1]}")
    url.requests = server.requests
    try:
        yield url
    finally:
        server.shutdown()
        server.server_close()
