"""Misbehaving servers on loopback, for the fault suite: a registry that answers /v2/ and then stalls,
and an engine socket that accepts connections and never answers. Each stops when closed."""

import http.server
import os
import socket
import threading


class StallingRegistry:
    """Answers the registry's version check (GET /v2/), then holds every other request open, unanswered,
    as a registry (or a proxy before it) that has stopped sending does."""

    def __init__(self):
        self.release = threading.Event()
        release = self.release

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (the name http.server calls)
                if self.path.rstrip("/") == "/v2":
                    self.send_response(200)
                    self.send_header("Docker-Distribution-API-Version", "registry/2.0")
                    self.send_header("Content-Length", "2")
                    self.end_headers()
                    self.wfile.write(b"{}")
                    return
                release.wait(900)

            do_HEAD = do_GET

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.address = f"127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


class SilentSocket:
    """A Unix socket that accepts every connection and never answers: an engine that hangs."""

    def __init__(self, path: str):
        self.path, self.conns = path, []
        self.server = socket.socket(socket.AF_UNIX)
        self.server.bind(path)
        self.server.listen(64)
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                conn, _ = self.server.accept()
            except OSError:
                return
            self.conns.append(conn)  # kept open, never read, never answered

    def close(self):
        self.server.close()
        for c in self.conns:
            c.close()
        if os.path.exists(self.path):
            os.unlink(self.path)
