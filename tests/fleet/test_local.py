"""The playbook on the controller itself (ansible_connection=local), as on a GPU host that checks
itself: the runbook installed from the wheelhouse, run against this machine's engine, its record
fetched beside where the others go."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fleet.conftest import recap
from tests.utils.paths import REPO

pytestmark = pytest.mark.fleet


def test_the_playbook_runs_on_the_controller_itself(wheelhouse, tmp_path):
    out, venv = tmp_path / "records", tmp_path / "venv"
    env = {**os.environ, "ANSIBLE_CONFIG": str(REPO / "fleet" / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1"}
    proc = subprocess.run(
        [
            str(Path(sys.executable).parent / "ansible-playbook"),
            str(REPO / "fleet" / "site.yml"),
            "-i",
            "this-host,",
            "-e",
            "ansible_connection=local",
            "-e",
            "ansible_python_interpreter={{ ansible_playbook_python }}",
            "-e",
            f"gpu_runbook_wheelhouse={wheelhouse}",
            "-e",
            f"gpu_runbook_venv={venv}",
            "-e",
            f"gpu_runbook_fleet_out={out}",
            "-e",
            '{"gpu_runbook_only": ["1"]}',
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert proc.returncode == 0, f"ansible-playbook failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-2000:]}"
    assert recap(proc)["this-host"]["failed"] == 0, recap(proc)
    outcome = json.loads((out / "this-host" / "fleet.json").read_text())
    assert (outcome["state"], outcome["connection"]) == ("ran", "local"), outcome
    summary = json.loads((out / "this-host" / "summary.json").read_text())
    checks = {c["id"]: c["status"] for c in summary["checks"]}
    assert checks["engine.reachable"] == "pass", f"this machine's engine: {checks}"
    digest = Path(f"{wheelhouse}.sha256").read_text().strip()
    mark = (venv / "gpu-runbook-install").read_text()
    assert digest in mark, f"the environment names its wheelhouse {digest}: {mark!r}"
