"""Pull progress as plain text: one line per layer when it finishes, a line with the bytes so far at most
every EVERY_S seconds while layers download, and the pull's status at the end. Headless runs print it
into the executed notebook (and so the record) and, under the runner, into a file the runner follows
(PROGRESS_ENV), so the terminal sees it live; JupyterLab shows bars instead (``panel.WidgetPullProgress``).
Both take the engine's pull events one by one."""

from __future__ import annotations

import os
import sys
import time

PROGRESS_ENV = "GPU_RUNBOOK_PROGRESS"
EVERY_S = 10.0


class PullProgress:
    def __init__(self, stream=None, clock=time.monotonic):
        self.stream = stream or sys.stdout
        self.clock = clock
        self.layers: dict[str, int] = {}
        self.current: dict[str, int] = {}
        self.done: set[str] = set()
        self.last = clock()
        follower = os.environ.get(PROGRESS_ENV)
        self.follower = open(follower, "a", encoding="utf-8") if follower else None  # noqa: SIM115 (kept open)

    def say(self, line: str) -> None:
        print(line, file=self.stream, flush=True)
        if self.follower is not None:
            self.follower.write(line + "\n")
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
            self.say(f"  layer {layer}: {status.lower()} ({self.layers.get(layer, 0) / 1e6:.1f} MB)")
        elif status.startswith(("Digest:", "Status:")):
            self.say(f"  {status}")
        elif status == "Downloading" and self.clock() - self.last >= EVERY_S:
            self.last = self.clock()
            got, total = sum(self.current.values()), sum(self.layers.values())
            self.say(
                f"  pulling: {len(self.done)} of {len(self.layers)} layers done, "
                f"{got / 1e6:.1f} of {total / 1e6:.1f} MB"
            )
