"""Where a headless run's time goes: the kernel's start, each notebook (its step cell and the rest), the
record; medians over several runs, beside the raw container commands of steps 3 and 4 for scale.

Each phase is timed in this process around the runner's own calls; the cells' times are those the kernel
recorded in the executed notebooks (nbclient's execution metadata), the checks' those of the record.

    python3 benchmarks/run_phases.py [--repeat 5] [--only 3 --only 4] [-p NAME VALUE]...
"""

import argparse
import datetime as dt
import json
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from runbook import kernel, record, runner  # noqa: E402

TIMES: dict[str, list[float]] = defaultdict(list)


def timed(name, fn):
    def wrapper(*args, **kwargs):
        start = time.monotonic()
        try:
            return fn(*args, **kwargs)
        finally:
            TIMES[name(*args) if callable(name) else name].append(time.monotonic() - start)

    return wrapper


def cell_seconds(notebook: Path) -> list[float]:
    nb = json.loads(notebook.read_text())
    out = []
    for cell in nb["cells"]:
        e = cell.get("metadata", {}).get("execution")
        if e:
            busy = dt.datetime.fromisoformat(e["iopub.status.busy"].replace("Z", "+00:00"))
            idle = dt.datetime.fromisoformat(e["iopub.status.idle"].replace("Z", "+00:00"))
            out.append((idle - busy).total_seconds())
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--only", action="append", default=None)
    ap.add_argument("-p", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"))
    a = ap.parse_args()
    kernel.SharedKernel.__enter__ = timed("kernel start (to ready)", kernel.SharedKernel.__enter__)
    kernel.SharedKernel.run = timed(lambda self, source, *rest: f"notebook {source.stem}", kernel.SharedKernel.run)
    kernel.SharedKernel.__exit__ = timed("kernel shut down", kernel.SharedKernel.__exit__)
    runner._cleanup = timed("engine's leftovers removed (twice)", runner._cleanup)
    runner.write_record = timed("record written", runner.write_record)
    record.collect = timed("record collected", record.collect)
    values = dict(a.p)
    for i in range(a.repeat):
        with tempfile.TemporaryDirectory() as tmp:
            start = time.monotonic()
            summary, out = runner.run(Path(tmp) / "r", values, a.only, log=lambda m: None)
            TIMES["run (all)"].append(time.monotonic() - start)
            for nb in sorted(out.glob("0*.ipynb")):
                cells = cell_seconds(nb)
                TIMES[f"  cells of {nb.stem}"].append(sum(cells))
                TIMES[f"  longest cell of {nb.stem}"].append(max(cells, default=0))
            for check in summary["checks"]:  # each check's own time, as the record keeps it
                TIMES[f"    check {check['id']}"].append(check.get("duration_s") or 0.0)
        print(f"run {i + 1}: {TIMES['run (all)'][-1]:.2f} s, verdict {summary['verdict']}", flush=True)
    print(f"\nmedians over {a.repeat} runs:")
    for name, values_ in TIMES.items():
        print(f"  {name:44} {statistics.median(values_):7.3f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
