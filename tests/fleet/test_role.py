"""The playbook, the role and the example inventory agree with each other and with the runbook: the
playbook parses, the example's parameters are the runbook's own and valid, the fleet page (docs) names every
variable of the role. No fleet is needed."""

import subprocess
import sys
from pathlib import Path

import yaml

from runbook import params
from tests.utils.paths import REPO

FLEET = REPO / "fleet"
EXAMPLE = FLEET / "inventory" / "example"


def test_the_playbook_parses():
    proc = subprocess.run(
        [str(Path(sys.executable).parent / "ansible-playbook"), "--syntax-check", "site.yml"],
        cwd=FLEET,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, f"syntax check failed:\n{proc.stdout}\n{proc.stderr}"


def test_the_examples_parameters_are_valid_runbook_parameters():
    files = sorted(EXAMPLE.glob("*_vars/*.yml"))
    assert files, "the example inventory has group_vars and host_vars"
    for path in files:
        found = yaml.safe_load(path.read_text()) or {}
        for name in ("gpu_runbook_parameters", "gpu_runbook_host_parameters"):
            if name in found:
                params.validate(found[name])  # raises ParameterError, naming the parameter


def test_the_fleet_page_names_every_variable_of_the_role():
    readme = (REPO / "docs" / "operator-guide" / "fleet.md").read_text()
    defaults = yaml.safe_load((FLEET / "roles" / "gpu_runbook" / "defaults" / "main.yml").read_text())
    for name in defaults:
        assert f"`{name}`" in readme, f"docs/operator-guide/fleet.md lacks the role variable {name}"
