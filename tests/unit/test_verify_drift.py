"""How verify names a checked cell's drift: the lines that changed, each side in one line."""

import json

from runbook import verify
from tests.utils.paths import REPO


def checked_output(notebook) -> str:
    cell = next(c for c in json.loads(notebook.read_text())["cells"] if "NBVAL_CHECK_OUTPUT" in "".join(c["source"]))
    return "".join(cell["outputs"][0]["text"])


def masked(text: str) -> str:
    for pattern, replace in verify.masks():
        text = pattern.sub(replace, text)
    return text


def test_a_changed_line_is_named_alone():
    now = checked_output(REPO / "notebooks" / "03-gpu-in-container.ipynb")
    assert verify.changed_lines(now, now.replace("by UUIDs: True", "by UUIDs: False")) == (
        "the container's GPUs are the host's, by UUIDs: True",
        "the container's GPUs are the host's, by UUIDs: False",
    )


def test_another_model_in_nvidia_smis_table_is_one_line_a_side_without_the_frame():
    """The H200's checked nvidia-smi table (records/h200-2026-11-28), its model changed: the row and the -L line."""
    before = masked(checked_output(REPO / "records" / "h200-2026-11-28" / "03-gpu-in-container.ipynb"))
    after = before.replace("NVIDIA H200          ", "NVIDIA H100 80GB HBM3").replace("H200 (", "H100 80GB HBM3 (")
    old, new = verify.changed_lines(before, after)
    assert old == "0 NVIDIA H200 On | BUS-ID Off | 0 | GPU 0: NVIDIA H200 (UUID: GPU-UUID)", old
    assert new == "0 NVIDIA H100 80GB HBM3 On | BUS-ID Off | 0 | GPU 0: NVIDIA H100 80GB HBM3 (UUID: GPU-UUID)", new
    assert "\n" not in old + new


def test_no_line_on_one_side_says_so():
    assert verify.changed_lines("a\nb", "a") == ("b", "(nothing)")


H200 = REPO / "records" / "h200-2026-12-06-toolkit"  # made by an older runbook
H100 = REPO / "records" / "h100x1-2026-12-07-toolkit-082134"
H100_VERIFYING_H200 = REPO / "records" / "h100x1-2026-12-07-toolkit-verify-h200-2026-12-06-toolkit"


def summary(folder):
    return json.loads((folder / "summary.json").read_text())


def test_a_check_a_parameter_turned_off_is_not_compared_and_a_changed_status_is_drift():
    """The H100's verify of the H200 record: toolkit.apply passed in the record (toolkit_apply true), and is a
    chosen skip here because verify leaves out what acts on the host."""
    drift = verify.check_drift(summary(H200), summary(H100_VERIFYING_H200))
    assert [(d.what, d.name, d.recorded, d.now) for d in drift] == [("chosen", "toolkit.apply", "pass", "skip")]
    assert not any(verify.is_drift(d) for d in drift)
    before, after = summary(H200), summary(H100_VERIFYING_H200)
    bad = next(c for c in after["checks"] if c["id"] == "gpu.nvidia_smi")
    bad.update(status="fail", skip_kind="")
    assert ("check", "gpu.nvidia_smi") in [(d.what, d.name) for d in verify.check_drift(before, after)]
    blocked = next(c for c in after["checks"] if c["id"] == "toolkit.apply")
    blocked["skip_kind"] = "blocked"  # a skip nobody chose: something stood in the way, and that is drift
    assert ("check", "toolkit.apply") in [(d.what, d.name) for d in verify.check_drift(before, after)]


def test_across_the_models_the_facts_that_differ_are_the_gpus_and_the_kits_images():
    drift = verify.fact_drift(summary(H200), summary(H100_VERIFYING_H200))
    assert [d.name for d in drift] == ["CUDA image id", "PyTorch image id", "GPUs"]
    assert drift[-1].now == "1 x NVIDIA H100 80GB HBM3 81559 MiB"


def copy_record(src, dst, steps):
    dst.mkdir()
    for s in steps:
        (dst / f"{s}.ipynb").write_bytes((src / f"{s}.ipynb").read_bytes())
    return dst


STEPS = ["02-container-toolkit", "03-gpu-in-container", "04-pytorch-in-container"]


def test_a_cell_the_records_runbook_printed_otherwise_is_wording_and_not_drift(tmp_path):
    """The H200 record's checked cells, as its older runbook printed them, against the H100's, with the
    H200 record as this runbook prints it (the H100's own cells stand in for that replay: the replay of the
    record and the H100 print the same lines, see test_verify's replay)."""
    today = copy_record(H100, tmp_path / "today", STEPS)
    asked = []
    drift = verify.output_drift(H200, H100, STEPS, lambda steps: asked.append(steps) or today)
    assert asked == [STEPS]  # replayed once, for the steps whose cells differ
    assert [(d.what, d.name) for d in drift] == [("wording", f"{s} checked cell 1") for s in STEPS]
    assert not any(verify.is_drift(d) for d in drift)
    # without the replay, or where this runbook prints the record as the record does, the text is compared
    assert all(d.what == "output" for d in verify.output_drift(H200, H100, STEPS))
    assert all(
        d.what == "output"
        for d in verify.output_drift(H200, H100, STEPS, lambda steps: copy_record(H200, tmp_path / "same", steps))
    )


def test_cells_that_print_the_same_ask_for_no_replay():
    def no_replay(steps):
        raise AssertionError(f"replayed {steps} for cells that print the same")

    assert verify.output_drift(H100, H100, STEPS, no_replay) == []


def test_a_verdict_that_changed_is_drift_and_the_records_own_word_is_not_taken():
    """The record's verdict as its checks bear it out: a passing H100 record that fails now is drift; a record
    that says pass over a failed check was a fail, and failing now is no change of the host."""
    passed = json.loads((REPO / "records" / "h100x1-2026-12-07-toolkit" / "summary.json").read_text())
    assert [(d.what, d.recorded, d.now) for d in verify.verdict_drift(passed, {"verdict": "fail"})] == [
        ("verdict", "pass", "fail")
    ]
    assert verify.verdict_drift(passed, {"verdict": "pass"}) == []
    forged = {**passed, "checks": [dict(passed["checks"][0], status="fail"), *passed["checks"][1:]]}
    assert verify.verdict_drift(forged, {"verdict": "fail"}) == []
    assert [d.recorded for d in verify.verdict_drift(forged, {"verdict": "pass"})] == ["fail"]
