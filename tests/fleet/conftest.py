"""The test fleet: hosts in containers of their own, reached over SSH, each with its own Docker engine
(tests/fleet/fleet-up.sh), the wheelhouse the controller ships them, and the playbook run over them."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from tests.utils.engine import require
from tests.utils.paths import CACHE, REPO

HERE = Path(__file__).resolve().parent
UP, STOPPED, DOWN = 6, 1, 1  # hosts with a running engine, with it stopped, without an SSH server
FORKS = (os.cpu_count() or 1) + 1
RECAP = re.compile(r"^(\S+)\s+: ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", re.M)


@dataclass
class Fleet:
    folder: Path

    @property
    def inventory(self) -> Path:
        return self.folder / "hosts.yml"

    @property
    def ports(self) -> dict[str, int]:
        """Each host's SSH port on 127.0.0.1, from the inventory fleet-up.sh wrote."""
        groups = yaml.safe_load(self.inventory.read_text())["all"]["children"]
        return {h: v["ansible_port"] for g in groups.values() for h, v in (g.get("hosts") or {}).items()}

    @property
    def hosts(self) -> list[str]:
        return sorted(self.ports)

    def env(self) -> dict[str, str]:
        values = dict(
            line.split("=", 1) for line in (self.folder / "fleet.env").read_text().splitlines() if "=" in line
        )
        return values

    def engine_socket(self, host: str) -> str:
        return f"unix://{self.env()['engines']}/{host}/docker.sock"

    def sh(self, host: str, script: str) -> subprocess.CompletedProcess:
        """A shell command on the host, through its container (not through SSH, so no login is recorded)."""
        site = f"unix://{self.env()['engines']}/site/docker.sock"
        name = f"gpu-runbook-fleet-{self.env()['tag']}-{host}"
        return subprocess.run(
            ["docker", "-H", site, "exec", name, "sh", "-c", script], capture_output=True, text=True, timeout=120
        )

    def home(self, folder: Path, known_hosts: bool = True, key: Path | None = None) -> Path:
        """A HOME whose ~/.ssh names every host of the fleet (docker-py's ssh:// reads ~/.ssh/config and
        ~/.ssh/known_hosts only), with the fleet's key or ``key``."""
        ssh = folder / ".ssh"
        ssh.mkdir(parents=True, mode=0o700)
        config = (self.folder / "ssh" / "config").read_text()
        if key is not None:
            config = re.sub(r"IdentityFile .*", f"IdentityFile {key}", config)
        (ssh / "config").write_text(config)
        if known_hosts:
            shutil.copy(self.folder / "ssh" / "known_hosts", ssh / "known_hosts")
        return folder


@pytest.fixture(scope="session")
def fleet(tmp_path_factory):
    require(os.geteuid() == 0, "root, to start the fleet's engines (fleet-up.sh installs what it lacks)")
    folder = tmp_path_factory.mktemp("fleet")
    up = subprocess.run(
        [
            "bash",
            str(HERE / "fleet-up.sh"),
            str(folder),
            "--up",
            str(UP),
            "--stopped",
            str(STOPPED),
            "--down",
            str(DOWN),
        ],
        capture_output=True,
        text=True,
        timeout=900,
    )
    try:
        assert up.returncode == 0, f"fleet-up.sh failed:\n{up.stdout}\n{up.stderr}"
        yield Fleet(folder)
    finally:
        subprocess.run(["bash", str(HERE / "fleet-down.sh"), str(folder)], capture_output=True, timeout=300)


@pytest.fixture(scope="session")
def wheelhouse(tmp_path_factory) -> Path:
    """The controller's wheelhouse: this checkout's wheel and its dependencies' wheels, which are kept in
    $CACHE/fleet-wheels so that a second test run needs no index for them."""
    out = tmp_path_factory.mktemp("wheelhouse") / "wheelhouse.tar"
    cached = CACHE / "fleet-wheels"
    env = {**os.environ, "PYTHON": sys.executable}
    script = str(REPO / "fleet" / "wheelhouse.sh")
    made = subprocess.run(
        ["bash", script, str(out), "--no-index", "--find-links", str(cached)],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    if made.returncode != 0:
        made = subprocess.run(["bash", script, str(out)], capture_output=True, text=True, env=env, timeout=900)
        assert made.returncode == 0, f"wheelhouse.sh failed:\n{made.stdout}\n{made.stderr}"
        cached.mkdir(parents=True, exist_ok=True)
        subprocess.run(["tar", "-xf", str(out), "-C", str(cached), "--strip-components=2", "./wheels"], check=True)
    return out


def playbook(fleet: Fleet, wheelhouse: Path, out: Path, *args: str) -> subprocess.CompletedProcess:
    """ansible-playbook fleet/site.yml over the fleet, as the README says, with the records fetched to ``out``."""
    env = {**os.environ, "ANSIBLE_CONFIG": str(REPO / "fleet" / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1"}
    return subprocess.run(
        [
            str(Path(sys.executable).parent / "ansible-playbook"),
            str(REPO / "fleet" / "site.yml"),
            "-i",
            str(fleet.inventory),
            "-e",
            f"gpu_runbook_wheelhouse={wheelhouse}",
            "-e",
            f"gpu_runbook_fleet_out={out}",
            # the test hosts share this machine's CPUs: more runs at once only slow each one down, until a
            # notebook's kernel misses papermill's 60 s to start
            "--forks",
            str(FORKS),
            *args,
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=900,
    )


def recap(proc: subprocess.CompletedProcess) -> dict[str, dict[str, int]]:
    """The PLAY RECAP's counts per host."""
    return {
        m[0]: {"ok": int(m[1]), "changed": int(m[2]), "unreachable": int(m[3]), "failed": int(m[4])}
        for m in RECAP.findall(proc.stdout)
    }
