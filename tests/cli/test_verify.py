"""gpu-runbook verify: a record made here verifies unchanged; a changed driver (the stand-in nvidia-smi
answering as another host, tests/standin) or a re-tagged image is reported as exactly that drift."""

import json
import os

import pytest

from tests.utils.cli import gpu_runbook, run_cli
from tests.utils.engine import TEST_IMAGE, labelled_container
from tests.utils.paths import REPO

pytestmark = pytest.mark.engine
DRIVERS = REPO / "tests" / "fixtures" / "drivers"


def as_host(xml: str) -> dict:
    return {
        **os.environ,
        "PATH": f"{REPO / 'tests' / 'standin'}:{os.environ['PATH']}",
        "RUNBOOK_STANDIN_XML": str(DRIVERS / xml),
    }


def verify(tmp_path, xml: str, *given: str):
    """gpu-runbook verify of tmp_path/record into tmp_path/again, on a host whose nvidia-smi answers from xml."""
    return gpu_runbook("verify", str(tmp_path / "record"), "--out", str(tmp_path / "again"), *given, env=as_host(xml))


def drift_of(folder) -> list[tuple[str, str]]:
    return [(d["what"], d["name"]) for d in json.loads((folder / "drift.json").read_text())["drift"]]


def test_a_record_made_here_verifies_unchanged(client, tmp_path):
    made = run_cli("--out", str(tmp_path / "record"), "--only", "1", "--only", "2", env=as_host("h200-580.xml"))
    assert made.returncode in (0, 1), made.stderr[-2000:]
    proc = verify(tmp_path, "h200-580.xml")
    assert proc.returncode == 0, proc.stdout + proc.stderr[-2000:]
    assert drift_of(tmp_path / "again") == []
    assert "unchanged" in proc.stdout


def test_a_changed_driver_is_reported_as_exactly_that(client, tmp_path):
    run_cli("--out", str(tmp_path / "record"), "--only", "1", env=as_host("article-m6000-470.xml"))
    proc = verify(tmp_path, "h200-580.xml")
    assert proc.returncode == 1, proc.stdout + proc.stderr[-2000:]
    assert drift_of(tmp_path / "again") == [("fact", "driver version"), ("fact", "CUDA ceiling"), ("fact", "GPUs")]
    assert "driver version: 470.199.02 -> 580.159.04" in proc.stdout
    assert "GPUs: 1 x Quadro M6000 143771 MiB -> 1 x NVIDIA H200 143771 MiB" in proc.stdout


def test_a_check_the_records_runbook_did_not_have_is_shown_and_is_not_drift(client, tmp_path):
    # a record made by an older runbook lacks the checks added since: the host did not change
    made = run_cli("--out", str(tmp_path / "record"), "--only", "1", env=as_host("h200-580.xml"))
    assert made.returncode in (0, 1), made.stderr[-2000:]
    summary_file = tmp_path / "record" / "summary.json"
    summary = json.loads(summary_file.read_text())
    dropped = summary["checks"].pop()
    summary["counts"][dropped["status"]] -= 1
    summary["notebooks"][0]["checks"] -= 1
    summary_file.write_text(json.dumps(summary))
    proc = verify(tmp_path, "h200-580.xml")
    assert proc.returncode == 0, proc.stdout + proc.stderr[-2000:]
    report = json.loads((tmp_path / "again" / "drift.json").read_text())
    assert report["drift"] == []
    assert [(d["name"], d["now"]) for d in report["new_checks"]] == [(dropped["id"], dropped["status"])]
    assert f"{dropped['id']}: (not in the record) -> {dropped['status']}" in proc.stdout
    assert "unchanged" in proc.stdout


def test_a_retagged_image_is_reported_as_exactly_that(client, tmp_path):
    ref = "runbook-test/verify:cuda"
    client.images.get(TEST_IMAGE).tag(ref)
    try:
        args = ("--only", "3", "-p", "cuda_image", ref, "-p", "pull", "never")
        run_cli("--out", str(tmp_path / "record"), *args, env=as_host("h200-580.xml"))
        with labelled_container(client, ["true"]) as c:  # the same name, now another image
            c.wait(timeout=60)
            c.commit(*ref.split(":"), changes=["ENV RETAGGED=1"])
        proc = verify(tmp_path, "h200-580.xml", "-p", "cuda_image", ref)  # a record never names the image itself
    finally:
        client.images.remove(ref, force=True)
    assert proc.returncode == 1, proc.stdout + proc.stderr[-2000:]
    assert drift_of(tmp_path / "again") == [("fact", "CUDA image id")]
    assert "left out  cuda_image" not in proc.stdout, proc.stdout


def test_a_folder_that_is_not_a_record_exits_2(tmp_path):
    proc = gpu_runbook("verify", str(tmp_path))
    assert proc.returncode == 2
    assert "not a record" in proc.stderr


def test_a_record_of_no_checks_is_refused_and_nothing_runs(tmp_path):
    """A record whose summary says pass over no checks and no steps: nothing to compare, so nothing runs
    (verify would otherwise run every step and call a fail unchanged)."""
    (tmp_path / "record").mkdir()
    summary = json.loads((REPO / "records" / "h100x1-2026-12-07-toolkit" / "summary.json").read_text())
    summary.update(checks=[], notebooks=[], steps=[], counts={})
    (tmp_path / "record" / "summary.json").write_text(json.dumps(summary))
    proc = gpu_runbook("verify", str(tmp_path / "record"), "--out", str(tmp_path / "again"))
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "holds no checks: there is nothing to verify against" in proc.stderr, proc.stderr
    assert not (tmp_path / "again").exists()


def test_the_record_names_no_path_of_the_machine_that_made_it(client, tmp_path):
    run_cli("--out", str(tmp_path / "record"), "--only", "1", "--only", "6")
    for path in (tmp_path / "record").iterdir():
        if path.suffix == ".ipynb":
            text = path.read_text()
            assert str(tmp_path) not in text, f"{path.name} names the folder it was written to"
            assert str(REPO) not in text, f"{path.name} names the checkout it ran from"


def test_a_checked_cell_an_older_runbook_printed_otherwise_is_wording_and_not_drift(client, tmp_path):
    """A record whose runbook printed step 2's checked cell as the H200's older runbook did: verify replays the
    record with this runbook (nothing runs on the host), sees that it prints the record's results otherwise
    than the record does, and says so without counting it; a cell this runbook prints as the record does is
    compared as ever (test_a_changed_driver..., tests/unit/test_verify_drift.py)."""
    made = run_cli("--out", str(tmp_path / "record"), "--only", "2", env=as_host("h200-580.xml"))
    assert made.returncode in (0, 1), made.stderr[-2000:]
    notebook = tmp_path / "record" / "02-container-toolkit.ipynb"
    nb = json.loads(notebook.read_text())
    cell = next(c for c in nb["cells"] if "NBVAL_CHECK_OUTPUT" in "".join(c["source"]))
    old = json.loads((REPO / "records" / "h200-2026-12-06-toolkit" / "02-container-toolkit.ipynb").read_text())
    older = next(c for c in old["cells"] if "NBVAL_CHECK_OUTPUT" in "".join(c["source"]))
    assert cell["outputs"] != older["outputs"]  # the older runbook's apt-get lines, without the timeouts
    cell["outputs"] = older["outputs"]
    notebook.write_text(json.dumps(nb))
    proc = verify(tmp_path, "h200-580.xml")
    assert proc.returncode == 0, proc.stdout + proc.stderr[-2000:]
    report = json.loads((tmp_path / "again" / "drift.json").read_text())
    assert report["drift"] == []
    assert [(d["what"], d["name"]) for d in report["not_compared"]] == [
        ("wording", "02-container-toolkit checked cell 1")
    ]
    assert "drift  wording 02-container-toolkit checked cell 1: sudo apt-get update" in proc.stdout
    assert "unchanged" in proc.stdout
