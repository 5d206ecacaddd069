"""What the GPU health rung adds to a run: the preflight step's health checks timed, median of 5, side by
side with the driver check that already ran (``nvidia-smi -q -x``, asked once per run).

Run on the GPU host:  python3 benchmarks/health_rung.py
Without a driver it reads the real H200 capture instead (``--xml FILE`` names another), so the figure
is the checks' own cost only; the kernel log and dcgmi are run for real where they exist.
Prints each phase's five timings, the medians, and the rung's median as a share of the driver's.
"""

import argparse
import statistics
import time
from pathlib import Path

from runbook import host
from runbook.steps import Context, preflight

CAPTURE = Path(__file__).parent.parent / "tests" / "fixtures" / "h200" / "nvidia-smi-q-x.xml"


def timed(fn, rounds: int = 5) -> list[float]:
    out = []
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        out.append(time.perf_counter() - start)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--xml", help="an nvidia-smi -q -x capture, used when this host has no driver")
    args = ap.parse_args()
    driver_times = timed(host.query_driver)
    driver = host.query_driver()
    source = "nvidia-smi -q -x on this host"
    if driver is None or not driver.gpus:
        text = Path(args.xml or CAPTURE).read_text()
        host.LAST_ANSWER.clear()
        host.LAST_ANSWER.update({"exe": "capture", "returncode": 0, "stdout": text})
        driver = host.parse_nvidia_smi_xml(text)
        source = f"the capture {args.xml or CAPTURE.name} (no driver here: the driver's time is not comparable)"
    ctx = Context(params={}, driver=driver)
    results = preflight.health_checks(ctx)
    health_times = timed(lambda: preflight.health_checks(ctx))
    print(f"source: {source}")
    for r in results:
        print(f"  {r.id:20} {r.status.value:5} {r.duration_s * 1e3:8.1f} ms  {r.detail[:90]}")
    print("driver (query_driver), s:", " ".join(f"{t:.4f}" for t in driver_times))
    print("health rung, s:          ", " ".join(f"{t:.4f}" for t in health_times))
    d, h = statistics.median(driver_times), statistics.median(health_times)
    print(f"median: driver {d:.4f} s, health rung {h:.4f} s, rung/driver {h / d if d else float('nan'):.2f}")


if __name__ == "__main__":
    main()
