"""Progress while a run goes on: pulls (layers and bytes) and the check that is running.

In the notebook's kernel, ``PullProgress`` prints plain text into the executed notebook (and so the
record): one line per layer when it finishes, a line with the bytes so far at most every EVERY_S
seconds, and the pull's status at the end. Under the runner it also appends events, one JSON object a
line, to a file the runner follows (PROGRESS_ENV): ``{"line": …}`` for each of those lines,
``{"pull": {…}}`` with the layers and bytes so far, ``{"check": id, "title": …}`` when a check starts.
The runner hands them to a view: ``TerminalView`` draws a status line and a pull bar (tqdm) on a
terminal; ``PlainView`` prints the lines, for CI logs. JupyterLab shows widget bars instead
(``panel.WidgetPullProgress``), from the same pull events.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable

from ..i18n import _
from ..results import PROGRESS_ENV

EVERY_S = 10.0  # plain lines: the bytes so far at most this often
EVENT_EVERY_S = 0.2  # events for a terminal's bar: at most this often


class PullProgress:
    def __init__(self, stream=None, clock=time.monotonic):
        self.stream = stream or sys.stdout
        self.clock = clock
        self.layers: dict[str, int] = {}
        self.current: dict[str, int] = {}
        self.done: set[str] = set()
        self.last = self.last_event = clock()
        follower = os.environ.get(PROGRESS_ENV)
        self.follower = open(follower, "a", encoding="utf-8") if follower else None  # noqa: SIM115 (kept open)

    def say(self, line: str, periodic: bool = False) -> None:
        print(line, file=self.stream, flush=True)
        self.emit({"line": line, "periodic": periodic})

    def emit(self, event: dict) -> None:
        if self.follower is not None:
            self.follower.write(json.dumps(event) + "\n")
            self.follower.flush()

    def __call__(self, event: dict) -> None:
        layer, status = event.get("id"), event.get("status", "")
        detail = event.get("progressDetail") or {}
        if layer and detail.get("total"):
            self.layers[layer] = detail["total"]
            self.current[layer] = detail.get("current", 0)
        if layer and status in ("Pull complete", "Already exists") and layer not in self.done:
            self.done.add(layer)
            self.current[layer] = self.layers.get(layer, 0)
            done = _("pull complete") if status == "Pull complete" else _("already exists")
            self.say(
                "  "
                + _("layer {layer}: {status} ({size:.1f} MB)").format(
                    layer=layer, status=done, size=self.layers.get(layer, 0) / 1e6
                )
            )
        elif status.startswith(("Digest:", "Status:")):
            self.say(f"  {status}")
        elif status == "Downloading" and self.clock() - self.last >= EVERY_S:
            self.last = self.clock()
            got, total = sum(self.current.values()), sum(self.layers.values())
            self.say(
                "  "
                + _("pulling: {done} of {layers} layers done, {got:.1f} of {total:.1f} MB").format(
                    done=len(self.done), layers=len(self.layers), got=got / 1e6, total=total / 1e6
                ),
                periodic=True,
            )
        if self.follower is not None and (layer in self.done or self.clock() - self.last_event >= EVENT_EVERY_S):
            self.last_event = self.clock()
            got, total = sum(self.current.values()), sum(self.layers.values())
            self.emit({"pull": {"done": len(self.done), "layers": len(self.layers), "bytes": got, "total": total}})


class PlainView:
    """Progress as plain lines (a CI log, a file): the runner's messages and the pulls' lines."""

    def __init__(self, log: Callable[[str], None]):
        self.log = log

    def start(self, step: str, text: str) -> None:
        """A step begins; ``text`` says so."""
        self.log(text)

    def say(self, text: str) -> None:
        self.log(text)

    def __call__(self, event: dict) -> None:
        if "line" in event:
            self.log(f"  {event['line']}")

    def close(self) -> None:
        pass


class TerminalView:
    """Progress on a terminal (tqdm, on stderr): a status line with the step and the check that runs, a
    bar for a pull's bytes while it goes, and the runner's messages and the layers done above them."""

    def __init__(self, stream=None):
        from tqdm import tqdm

        self.tqdm, self.stream = tqdm, stream or sys.stderr
        self.status = tqdm(total=0, bar_format="{desc}", file=self.stream, position=0, leave=False)
        self.bar = None
        self.step = ""

    def start(self, step: str, text: str) -> None:
        """A step begins: the status line names it, and ``text`` says so above it."""
        self.step = step
        self.status.set_description_str(step)
        self._end_pull()
        self.tqdm.write(text, file=self.stream)

    def say(self, text: str) -> None:
        self.tqdm.write(text, file=self.stream)

    def __call__(self, event: dict) -> None:
        if "check" in event:
            self.status.set_description_str(f"{self.step}: {event['title']} ({event['check']})")
        elif "pull" in event:
            pull = event["pull"]
            if self.bar is None:
                self.bar = self.tqdm(unit="B", unit_scale=True, file=self.stream, position=1, leave=False)
            self.bar.total = max(pull["total"], 1)  # grows as the engine learns each layer's size
            self.bar.set_description_str(
                _("pulling, {done} of {layers} layers done").format(done=pull["done"], layers=pull["layers"]),
                refresh=False,
            )
            self.bar.update(pull["bytes"] - self.bar.n)
        elif "line" in event and not event.get("periodic"):  # the bar shows what periodic lines say
            if event["line"].strip().startswith("Status:"):
                self._end_pull()
            self.tqdm.write(f"  {event['line']}", file=self.stream)

    def _end_pull(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None

    def close(self) -> None:
        self._end_pull()
        self.status.close()
