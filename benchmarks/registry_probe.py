"""How long the network rung's probe takes: the shipped ``cn`` preset and Docker Hub from this machine
(on CI, no route to the internet: what a host in mainland China sees of Docker Hub), and the worst
case, where every address stalls (loopback servers that send their headers and never the body), side by
side with the deadline that bounds it. Medians over repeats; the probe's bound is 3x probe_timeout_s,
at most 30 s.

    python3 benchmarks/registry_probe.py [--repeat 5] [--timeout 5]
"""

import argparse
import contextlib
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from runbook.network import mirrors
from runbook.network import probe as registry_probe  # noqa: E402
from tests.utils.loopback import answering  # noqa: E402
from tests.utils.registry import REGISTRY  # noqa: E402


def timed(urls, timeout):
    start = time.monotonic()
    probes = registry_probe.probe_all(urls, timeout, mirrors.probe_deadline(timeout))
    return time.monotonic() - start, probes


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--timeout", type=float, default=5.0)
    a = ap.parse_args()
    deadline = mirrors.probe_deadline(a.timeout)
    cn = [*mirrors.registry_candidates("cn"), mirrors.HUB_ENDPOINT]
    times, probes = zip(*(timed(cn, a.timeout) for _ in range(a.repeat)), strict=True)
    print(f"cn preset + Docker Hub ({len(cn)} addresses), probe_timeout_s={a.timeout:g}, bound {deadline:g} s")
    for p in probes[-1]:
        print(f"  {p.url:32} {p.outcome:12} {p.detail}")
    print(f"  median {statistics.median(times):.3f} s, max {max(times):.3f} s over {a.repeat}")

    with contextlib.ExitStack() as stack:
        stalled = [
            stack.enter_context(answering(200, {"Docker-Distribution-Api-Version": "registry/2.0"}, body=None))
            for _ in range(len(cn))
        ]
        local = [*stalled, f"http://{REGISTRY}"]
        times, probes = zip(*(timed(local, a.timeout) for _ in range(a.repeat)), strict=True)
    outcomes = sorted({p.outcome for p in probes[-1]})
    print(f"{len(stalled)} stalled servers + the loopback registry: outcomes {', '.join(outcomes)}")
    median = statistics.median(times)
    print(f"  median {median:.3f} s, max {max(times):.3f} s; bound {deadline:g} s; ratio {median / deadline:.2f}")


if __name__ == "__main__":
    main()
