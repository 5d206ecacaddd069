"""A Unix-socket proxy in front of the real engine, for the engine dying under a running request."""

from __future__ import annotations

import contextlib
import os
import socket
import threading


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
