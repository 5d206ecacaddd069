"""The operator's run measured side by side against another commit: `gpu-runbook --help`, and a full
headless run with the images present, alternated run by run so that both see the same machine; medians
and the ratio new/old.

    python3 benchmarks/operator_run.py [--against dddd074] [--repeat 5] [--image runbook-test/debian:bookworm]

The other commit is checked out in a temporary git worktree and run from there with this checkout's
Python environment (its notebooks import its own runbook: the runner puts it first on PYTHONPATH).
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def timed(argv: list[str], cwd: Path) -> float:
    env = {**os.environ, "PYTHONPATH": str(cwd)}
    start = time.monotonic()
    subprocess.run(argv, cwd=cwd, env=env, capture_output=True, check=False, timeout=900)
    return time.monotonic() - start


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--against", default="dddd074", help="the commit to compare with (default: before this work)")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--image", default="runbook-test/debian:bookworm", help="an image present on the engine")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        old = Path(tmp) / "old"
        subprocess.run(
            ["git", "-C", str(REPO), "worktree", "add", "-q", "--detach", str(old), args.against], check=True
        )
        try:
            times: dict[tuple[str, str], list[float]] = {}
            run = [
                "-m",
                "runbook",
                "run",
                "-p",
                "cuda_image",
                args.image,
                "-p",
                "pytorch_image",
                args.image,
                "-p",
                "pull",
                "never",
            ]
            for i in range(args.repeat):
                for name, where in (("new", REPO), ("old", old)):
                    times.setdefault(("--help", name), []).append(
                        timed([sys.executable, "-m", "runbook", "--help"], where)
                    )
                    out = Path(tmp) / f"{name}-{i}"
                    times.setdefault(("run", name), []).append(timed([sys.executable, *run, "--out", str(out)], where))
        finally:
            subprocess.run(["git", "-C", str(REPO), "worktree", "remove", "--force", str(old)], check=False)
    print(f"{'what':8} {'new (s)':>9} {'old (s)':>9} {'new/old':>8}   median of {args.repeat}, against {args.against}")
    for what in ("--help", "run"):
        new, old_t = statistics.median(times[(what, "new")]), statistics.median(times[(what, "old")])
        print(f"{what:8} {new:9.2f} {old_t:9.2f} {new / old_t:8.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
