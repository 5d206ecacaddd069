"""A pull with the runbook's progress against a plain SDK pull of the same image from a registry on
loopback, alternated pull by pull so that both see the same machine; medians and the ratio.

The runbook's side is what a headless run on a terminal does: ``engine.pull`` hands each event to
``PullProgress`` (plain lines into the notebook, events into the file the runner follows), and the
runner's ``Follow`` draws them with ``TerminalView`` (tqdm; written to /dev/null here). The plain side
is the SDK's ``images.pull``, which reads the same event stream and does nothing with it. The image
(random data, so that no layer is shared) is removed after each pull, so every pull downloads and
extracts it all.

With ``--engine`` (repeatable: a socket, or a name in tests/tooling/engines-up.sh's engines.env such as PODMAN)
the same is measured on each engine in turn: the image is made and pushed by the first, every engine
pulls it from the same loopback registry, and a line per engine gives its medians and ratio.

    python3 benchmarks/pull_progress.py [--registry 127.0.0.1:5000] [--mb 200] [--repeat 7]
        [--engine unix:///var/run/docker.sock --engine DOCKER_TRIXIE --engine PODMAN ...]
"""

import argparse
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from runbook import engine, runner  # noqa: E402
from runbook.present import progress


def make_image(client, ref: str, mb: int, base: str) -> None:
    """A base image plus a layer of ``mb`` MB of random bytes, pushed to the registry and removed here."""
    c = client.containers.run(
        base, ["sh", "-c", f"head -c {mb * 1000000} /dev/urandom > /blob"], detach=True, network_mode="none"
    )
    try:
        c.wait(timeout=300)
        c.commit(*ref.rsplit(":", 1))
    finally:
        c.remove(force=True)
    for _ in client.api.push(ref, stream=True, decode=True):
        pass
    client.images.remove(ref, force=True)


def plain(client, ref: str) -> float:
    start = time.monotonic()
    client.images.pull(ref)  # reads the event stream to its end, then the image
    return time.monotonic() - start


def with_progress(client, ref: str, scratch: Path) -> float:
    events = scratch / f"progress-{uuid.uuid4().hex[:6]}"
    events.touch()
    os.environ[progress.PROGRESS_ENV] = str(events)
    with open(os.devnull, "w") as sink:
        view = progress.TerminalView(sink)
        start = time.monotonic()
        with runner.Follow(events, view):
            engine.pull(client, ref, "always", progress=progress.PullProgress(stream=sink))
        elapsed = time.monotonic() - start
        view.close()
    del os.environ[progress.PROGRESS_ENV]
    return elapsed


ENGINES_ENV = Path(os.environ.get("RUNBOOK_TEST_CACHE", "/var/cache/gpu-runbook-test")) / "engines.env"


def engine_address(name: str) -> str:
    """A socket as given, or the address tests/tooling/engines-up.sh recorded for an engine's name."""
    if "://" in name:
        return name
    known = dict(line.split("=", 1) for line in ENGINES_ENV.read_text().splitlines() if "=" in line)
    if name not in known:
        raise SystemExit(f"no engine {name} in {ENGINES_ENV} (run tests/tooling/engines-up.sh): {sorted(known)}")
    return known[name]


def measure(client, ref: str, repeat: int, label: str) -> tuple[float, float]:
    """Medians of ``repeat`` plain pulls and pulls with progress, alternated; each pull removed after."""
    times: dict[str, list[float]] = {"plain": [], "progress": []}
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(repeat):
            order = ("plain", "progress") if i % 2 == 0 else ("progress", "plain")
            for name in order:
                took = plain(client, ref) if name == "plain" else with_progress(client, ref, Path(tmp))
                times[name].append(took)
                client.images.remove(ref, force=True)
            last = times["plain"][-1], times["progress"][-1]
            print(f"{label} pull {i + 1}: plain {last[0]:.2f} s, with progress {last[1]:.2f} s")
    return statistics.median(times["plain"]), statistics.median(times["progress"])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--registry", default="127.0.0.1:5000")
    ap.add_argument("--mb", type=int, default=200)
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--base", default="runbook-test/debian:bookworm", help="an image present on the engine")
    ap.add_argument("--engine", action="append", default=[], help="a socket or an engines.env name; repeatable")
    a = ap.parse_args()
    addresses = [engine_address(e) for e in a.engine] or [""]
    clients = [engine.connect(address) for address in addresses]
    ref = f"{a.registry}/runbook-bench/pull:{uuid.uuid4().hex[:8]}"
    make_image(clients[0], ref, a.mb, a.base)
    results = []
    try:
        for client in clients:
            who = engine.identity(client)
            label = (
                who.name + (" rootless" if who.rootless else "") + (f", {who.image_store}" if who.image_store else "")
            )
            results.append((label, client.address, *measure(client, ref, a.repeat, label)))
    finally:
        for client in clients:
            try:
                client.images.remove(ref, force=True)
            except Exception:  # noqa: BLE001 (already gone)
                pass
    print(f"\n{a.mb} MB image from {a.registry}, medians of {a.repeat}:")
    for label, address, p, q in results:
        print(f"  {label:32} {address:52} plain {p:.2f} s  with progress {q:.2f} s  progress/plain {q / p:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
