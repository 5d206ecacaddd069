"""HTTP servers on 127.0.0.1, each on a port of its own: a folder served as files (a repository, an index),
or one canned answer to every GET (a registry's /v2/ that refuses, redirects or stalls)."""

from __future__ import annotations

import contextlib
import functools
import http.server
import threading
import time
from pathlib import Path


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
