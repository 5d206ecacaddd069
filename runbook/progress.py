"""Pull progress as plain text: one line per layer when it finishes, and the pull's status at the end.
Headless runs print it into the executed notebook (and so the record); JupyterLab shows bars instead
(``panel.WidgetPullProgress``). Both take the engine's pull events one by one."""

from __future__ import annotations

import sys


class PullProgress:
    def __init__(self, stream=None):
        self.stream = stream or sys.stdout
        self.layers: dict[str, int] = {}
        self.done: set[str] = set()

    def __call__(self, event: dict) -> None:
        layer, status = event.get("id"), event.get("status", "")
        detail = event.get("progressDetail") or {}
        if layer and detail.get("total"):
            self.layers[layer] = detail["total"]
        if layer and status in ("Pull complete", "Already exists") and layer not in self.done:
            self.done.add(layer)
            size = self.layers.get(layer, 0)
            print(f"  layer {layer}: {status.lower()} ({size / 1e6:.1f} MB)", file=self.stream, flush=True)
        elif status.startswith(("Digest:", "Status:")):
            print(f"  {status}", file=self.stream, flush=True)
