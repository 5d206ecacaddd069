"""The playbook's wall time over 1, 2, 4 and 8 hosts with the same forks, and the controller's memory
and CPU time: medians of several runs, the ratio time(8)/time(1), and how busy this machine's CPUs were
meanwhile.

The hosts are the test fleet's (tests/fleet/fleet-up.sh): containers on this machine, each with its
own engine, reached over SSH. They share this machine's CPUs with the controller, so the runs of many
hosts compete for the same cores, as they would not on a real fleet; the CPU figure says how much.
Every host gets the runbook installed once, before the timed runs, which then measure the routine
re-check of an installed fleet (each a full run, unless --only says otherwise). The sizes are taken in
turn (1, 2, 4, 8, 1, 2, ...) so that a change of load on the machine spreads over all of them.

As root, from the repository root:

    python3 benchmarks/fleet_scale.py [--hosts 1,2,4,8] [--repeat 3] [--forks 8] [--only STEP]...
        [--wheelhouse TAR]

--wheelhouse takes a wheelhouse made before by fleet/wheelhouse.sh for the hosts' Python (3.11, Debian 12),
with its .sha256 beside it, where no package index is reachable (the GPU host: tests/gpu/kit/fleet-scale.sh);
by default one is made here.
"""

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parent.parent
# beside this Python (a virtual environment), else on PATH (pip installs scripts into /usr/local/bin)
_BESIDE = Path(sys.executable).parent / "ansible-playbook"
PLAYBOOK = [str(_BESIDE) if _BESIDE.exists() else shutil.which("ansible-playbook") or str(_BESIDE)]
PLAYBOOK.append(str(REPO / "fleet" / "site.yml"))


def cpu_busy_seconds() -> float:
    """Seconds all CPUs of this machine have spent not idle, since boot."""
    t = psutil.cpu_times()
    return sum(t) - t.idle - getattr(t, "iowait", 0.0)


class Memory:
    """The controller's memory while the playbook runs, as peaks of samples every 0.5 s: Ansible
    (ansible-playbook and its workers, the forks: PSS, so that pages the forks share are not counted
    twice; and RSS) and the SSH clients it keeps (a ControlPersist master per host: PSS)."""

    def __init__(self, pid: int):
        self.root, self.done = psutil.Process(pid), False
        self.peak = {"pss": 0, "rss": 0, "ssh_pss": 0, "ssh_processes": 0}
        self.thread = threading.Thread(target=self._sample, daemon=True)
        self.thread.start()

    def _sample(self) -> None:
        while not self.done:
            now = {"pss": 0, "rss": 0, "ssh_pss": 0, "ssh_processes": 0}
            try:
                for p in [self.root, *self.root.children(recursive=True)]:
                    if p.name() != "ssh":
                        info = p.memory_full_info()
                        now["pss"], now["rss"] = now["pss"] + info.pss, now["rss"] + info.rss
                for p in psutil.process_iter(["name", "cmdline"]):
                    if p.info["name"] == "ssh" and any(".ansible/cp" in a for a in p.info["cmdline"] or []):
                        now["ssh_pss"] += p.memory_full_info().pss
                        now["ssh_processes"] += 1
            except psutil.Error:
                pass
            self.peak = {k: max(v, now[k]) for k, v in self.peak.items()}
            time.sleep(0.5)

    def stop(self) -> None:
        self.done = True
        self.thread.join()


def play(inventory: Path, wheelhouse: Path, out: Path, hosts: list[str], forks: int, only: list[str]) -> dict:
    """One run of the playbook over ``hosts``: wall time, the controller's peak memory, CPU busy."""
    env = {**os.environ, "ANSIBLE_CONFIG": str(REPO / "fleet" / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1"}
    extra = {
        "gpu_runbook_wheelhouse": str(wheelhouse),
        "gpu_runbook_fleet_out": str(out),
        "gpu_runbook_hosts": ",".join(hosts),
        "gpu_runbook_only": only,
    }
    own0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu0, t0 = cpu_busy_seconds(), time.monotonic()
    proc = subprocess.Popen(
        [*PLAYBOOK, "-i", str(inventory), "-f", str(forks), "-e", json.dumps(extra)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    memory = Memory(proc.pid)
    output, _ = proc.communicate()
    memory.stop()
    wall, cpu = time.monotonic() - t0, cpu_busy_seconds() - cpu0
    own = resource.getrusage(resource.RUSAGE_CHILDREN)  # ansible-playbook and its forks, once waited for
    controller = (own.ru_utime - own0.ru_utime) + (own.ru_stime - own0.ru_stime)
    if proc.returncode != 0:
        raise SystemExit(f"the playbook failed over {hosts}:\n{output[-4000:]}")
    states = [json.loads((out / h / "fleet.json").read_text())["state"] for h in hosts]
    if states != ["ran"] * len(hosts):
        raise SystemExit(f"not every host ran: {dict(zip(hosts, states, strict=True))}")
    mib = 2**20
    return {
        "wall_s": wall,
        "pss_mib": memory.peak["pss"] / mib,
        "rss_mib": memory.peak["rss"] / mib,
        "ssh_mib": memory.peak["ssh_pss"] / mib,
        "ssh_processes": memory.peak["ssh_processes"],
        "cpu_s": cpu,
        "controller_cpu_s": controller,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hosts", default="1,2,4,8", help="fleet sizes, comma-separated")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--forks", type=int, default=8)
    ap.add_argument("--only", action="append", default=[], help="run only this step on each host (repeatable)")
    ap.add_argument("--json", help="also write the figures to this file")
    ap.add_argument("--wheelhouse", help="a wheelhouse made by fleet/wheelhouse.sh (default: one made now)")
    a = ap.parse_args()
    sizes = [int(n) for n in a.hosts.split(",")]
    if a.wheelhouse and not Path(a.wheelhouse + ".sha256").is_file():
        ap.error(f"{a.wheelhouse}.sha256 is missing: give a wheelhouse made by fleet/wheelhouse.sh")
    with tempfile.TemporaryDirectory(prefix="fleet-scale-", dir="/var/tmp") as tmp:
        work = Path(tmp)
        if a.wheelhouse:
            wheelhouse = Path(a.wheelhouse).resolve()
        else:
            wheelhouse = work / "wheelhouse.tar"
            subprocess.run(
                ["bash", str(REPO / "fleet" / "wheelhouse.sh"), str(wheelhouse)],
                check=True,
                env={**os.environ, "PYTHON": sys.executable},
            )
        fleet = work / "fleet"
        try:
            subprocess.run(
                ["bash", str(REPO / "tests" / "fleet" / "fleet-up.sh"), str(fleet), "--up", str(max(sizes))]
                + ["--stopped", "0", "--down", "0"],
                check=True,
            )
            shutil.rmtree(
                fleet / "host_vars"
            )  # the test fleet's quirks (a disk warning, a typo): these hosts are alike
            all_hosts = [f"fleet-{i:02d}" for i in range(1, max(sizes) + 1)]
            first = play(fleet / "hosts.yml", wheelhouse, work / "install", all_hosts, a.forks, a.only)
            print(f"install and first run over {len(all_hosts)} hosts: {first['wall_s']:.1f} s", flush=True)
            rows: dict[int, list[dict]] = {n: [] for n in sizes}
            for i in range(a.repeat):
                for n in sizes:
                    got = play(fleet / "hosts.yml", wheelhouse, work / f"run-{i}-{n}", all_hosts[:n], a.forks, a.only)
                    rows[n].append(got)
                    print(
                        f"run {i + 1}, {n} host(s): {got['wall_s']:.1f} s, Ansible {got['pss_mib']:.0f} MiB PSS "
                        f"({got['rss_mib']:.0f} MiB RSS), SSH {got['ssh_mib']:.0f} MiB in {got['ssh_processes']} "
                        f"processes, controller CPU {got['controller_cpu_s']:.1f} s, CPUs busy {got['cpu_s']:.0f} s",
                        flush=True,
                    )
        finally:
            subprocess.run(["bash", str(REPO / "tests" / "fleet" / "fleet-down.sh"), str(fleet)], check=False)
    cores = psutil.cpu_count()
    medians = {n: {k: statistics.median(r[k] for r in rows[n]) for k in rows[n][0]} for n in sizes}
    print(f"\nmedians over {a.repeat} runs, forks {a.forks}, this machine {cores} CPUs:")
    head = ("hosts", "wall s", "vs 1", "Ansible PSS MiB", "RSS MiB", "SSH MiB", "controller CPU s")
    widths = (5, 7, 5, 15, 7, 7, 16)
    print("  " + "  ".join(f"{h:>{w}}" for h, w in zip(head, widths, strict=True)) + "  CPUs busy")
    for n in sizes:
        m = medians[n]
        busy = m["cpu_s"] / (m["wall_s"] * cores)
        ratio = m["wall_s"] / medians[sizes[0]]["wall_s"]
        print(
            f"  {n:>5}  {m['wall_s']:>7.1f}  {ratio:>5.2f}  {m['pss_mib']:>15.0f}  {m['rss_mib']:>7.0f}  "
            f"{m['ssh_mib']:>7.0f}  {m['controller_cpu_s']:>16.1f}  {busy:.0%}"
        )
    ratio = medians[sizes[-1]]["wall_s"] / medians[sizes[0]]["wall_s"]
    print(f"  time({sizes[-1]})/time({sizes[0]}) = {ratio:.2f}")
    if a.json:
        Path(a.json).write_text(
            json.dumps(
                {"forks": a.forks, "cpus": cores, "repeat": a.repeat, "medians": medians, "runs": rows}, indent=2
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
