"""fleet/wheelhouse.sh with a package index mirror: the --index-url reaches pip (a loopback server
standing for the mirror sees pip ask it for the runbook's dependencies) and the user:password in it is
never printed. The loopback index answers 404 to everything, so the wheelhouse is not made: what is
observed is where pip went and what the script printed."""

import os
import subprocess
import sys

from tests.utils.loopback import answering
from tests.utils.paths import REPO


def test_the_index_mirror_is_passed_to_pip_and_printed_without_its_password(tmp_path):
    with answering(404, {"Content-Type": "text/html"}, b"<html>not here</html>") as index:
        mirror = index.replace("http://", "http://runbook:s3cret@") + "/simple/"
        proc = subprocess.run(
            [str(REPO / "fleet" / "wheelhouse.sh"), str(tmp_path / "w.tar"), "--index-url", mirror]
            + ["--retries", "0", "--timeout", "5"],
            capture_output=True,
            text=True,
            timeout=300,
            env={**os.environ, "PYTHON": sys.executable},
        )
    printed = proc.stdout + proc.stderr
    assert proc.returncode != 0, "an index that has nothing cannot make a wheelhouse"
    assert "s3cret" not in printed, printed[-2000:]
    assert f"--index-url {index.replace('http://', 'http://***@')}/simple/" in printed, printed[:1000]
    asked = [p for p in index.requests if p.startswith("/simple/")]
    assert asked, f"pip never asked the mirror: {index.requests}"
